/* relaymail --oauth-login (oauth_login.h). */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "http.h"
#include "i18n.h"
#include "json.h"
#include "log.h"
#include "oauth.h"
#include "oauth_login.h"
#include "oauth_redirect.h"

#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"
#define SLOW_DOWN_STEP 5        /* RFC 8628 3.5 */

static void say_stored(const struct account *acct, const struct oauth_tokens *tokens, FILE *out)
{
	char when[64];
	struct tm tm;

	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", localtime_r(&tokens->expires, &tm));
	if (acct->oauth_grant == OAUTH_GRANT_CLIENT_CREDENTIALS)
		fprintf(out, _("The client secret works: relaymail got an access token for account '%s', valid until %s.\n"),
			acct->name, when);
	else if (acct->oauth_token_file != NULL)
		fprintf(out, _("Signed in: the refresh token of account '%s' is stored in %s; the access token is valid until %s.\n"),
			acct->name, acct->oauth_token_file, when);
	else
		fprintf(out, _("Signed in: the refresh token of account '%s' is stored in the keyring; the access token is valid until %s.\n"),
			acct->name, when);
}

/* A login must end with a refresh token, or relaymail could send for an
 * hour only. */
static bool keep_tokens(const struct account *acct, struct oauth_tokens *tokens, FILE *out,
			struct result *r)
{
	bool ok;

	if (tokens->refresh.data == NULL && acct->oauth_grant != OAUTH_GRANT_CLIENT_CREDENTIALS)
		ok = result_fail(r, RESULT_CONFIG,
				 _("the provider gave no refresh token: add offline_access to oauth_scope (Microsoft) or allow offline access (Google)"));
	else
		ok = oauth_store_tokens(acct, tokens, r);
	if (ok)
		say_stored(acct, tokens, out);
	oauth_tokens_wipe(tokens);
	return ok;
}

/* ---- device authorization grant (RFC 8628) --------------------------- */

struct device_answer {
	char device_code[2048];
	char user_code[128];
	char uri[512];
	long long expires_in;
	long long interval;
};

static bool read_device_answer(const struct account *acct, const struct json *obj, struct device_answer *d,
			       struct result *r)
{
	const char *code = json_string(obj, "device_code"), *user_code = json_string(obj, "user_code");
	/* Google says verification_url, RFC 8628 verification_uri. */
	const char *uri = json_string(obj, "verification_uri");
	char host[160];

	if (uri == NULL)
		uri = json_string(obj, "verification_url");
	if (code == NULL || user_code == NULL || uri == NULL || strlen(code) >= sizeof d->device_code ||
	    strlen(user_code) >= sizeof d->user_code || strlen(uri) >= sizeof d->uri ||
	    strncmp(uri, "https://", 8) != 0)
		return result_fail(r, RESULT_PROTOCOL, _("%s: not a device authorization answer"),
				   oauth_endpoint_host(acct->oauth_device_endpoint, host, sizeof host));
	snprintf(d->device_code, sizeof d->device_code, "%s", code);
	log_printable(d->user_code, sizeof d->user_code, user_code, strlen(user_code));
	log_printable(d->uri, sizeof d->uri, uri, strlen(uri));
	if (!json_integer(obj, "expires_in", &d->expires_in) || d->expires_in <= 0 ||
	    d->expires_in > OAUTH_LOGIN_TIMEOUT)
		d->expires_in = OAUTH_LOGIN_TIMEOUT;
	if (!json_integer(obj, "interval", &d->interval) || d->interval <= 0 || d->interval > 60)
		d->interval = 5;
	return true;
}

static bool request_device_code(const struct account *acct, struct device_answer *d, struct result *r)
{
	const struct http_field fields[] = { { "scope", acct->oauth_scope } };
	struct json *obj = NULL;
	char host[160], why[300] = "";
	long status;
	bool ok;

	if (!oauth_post(acct, acct->oauth_device_endpoint, fields, 1, &status, &obj, r))
		return false;
	if (status == 200 && obj != NULL) {
		ok = read_device_answer(acct, obj, d, r);
	} else {
		const char *e = obj ? json_string(obj, "error") : NULL;
		const char *desc = obj ? json_string(obj, "error_description") : NULL;

		if (e != NULL)
			snprintf(why, sizeof why, "%.80s%s%.200s", e, desc ? ": " : "", desc ? desc : "");
		log_printable(why, sizeof why, why, strcspn(why, "\r\n"));
		ok = result_fail(r, status >= 500 ? RESULT_TEMPFAIL : RESULT_NOPERM, _("%s refused the device code request: HTTP %ld%s%s"),
				 oauth_endpoint_host(acct->oauth_device_endpoint, host, sizeof host), status,
				 why[0] ? ": " : "", why);
	}
	json_free(obj);
	return ok;
}

/* Poll until the person has signed in, declined, or the code expired. */
static bool poll_device(const struct account *acct, struct device_answer *d, struct oauth_tokens *tokens,
			struct result *r)
{
	const struct http_field fields[] = {
		{ "grant_type", DEVICE_GRANT }, { "device_code", d->device_code },
	};
	time_t end = time(NULL) + (time_t)d->expires_in;
	char error[64];

	for (;;) {
		if (time(NULL) + d->interval > end)
			return result_fail(r, RESULT_NOPERM,
					   _("the code expired before the sign-in was completed; run relaymail --oauth-login %s again"),
					   acct->name);
		sleep((unsigned)d->interval);
		if (oauth_token_request(acct, fields, 2, tokens, error, sizeof error, r)) {
			result_clear(r);        /* the pending answers before are no failure */
			return true;
		}
		if (strcmp(error, "authorization_pending") == 0)
			continue;
		if (strcmp(error, "slow_down") == 0) {
			d->interval += SLOW_DOWN_STEP;
			continue;
		}
		if (strcmp(error, "access_denied") == 0)
			return result_fail(r, RESULT_NOPERM, _("the sign-in was declined"));
		if (strcmp(error, "expired_token") == 0)
			return result_fail(r, RESULT_NOPERM,
					   _("the code expired before the sign-in was completed; run relaymail --oauth-login %s again"),
					   acct->name);
		return false;
	}
}

static bool login_device(const struct account *acct, FILE *out, struct result *r)
{
	struct device_answer d;
	struct oauth_tokens tokens;
	bool ok;

	if (!request_device_code(acct, &d, r))
		return false;
	fprintf(out, _("To sign in to account '%s' as %s, open\n\n    %s\n\non any device and enter the code %s\n\n"),
		acct->name, acct->user, d.uri, d.user_code);
	fprintf(out, _("Waiting for the sign-in (at most %lld minutes)...\n"), (d.expires_in + 59) / 60);
	fflush(out);
	ok = poll_device(acct, &d, &tokens, r);
	explicit_bzero(d.device_code, sizeof d.device_code);
	return ok && keep_tokens(acct, &tokens, out, r);
}

/* ---- authorization code grant with PKCE (RFC 7636) ---------------------- */

/* base64url without padding (RFC 7636 appendix A) of n bytes. */
static bool base64url(const unsigned char *data, size_t n, char *out, size_t size)
{
	gnutls_datum_t in = { (unsigned char *)data, (unsigned)n }, enc = { NULL, 0 };
	size_t len = 0;

	if (gnutls_base64_encode2(&in, &enc) < 0)
		return false;
	for (unsigned i = 0; i < enc.size && enc.data[i] != '=' && len + 1 < size; i++)
		out[len++] = enc.data[i] == '+' ? '-' : enc.data[i] == '/' ? '_' : (char)enc.data[i];
	out[len] = '\0';
	explicit_bzero(enc.data, enc.size);
	gnutls_free(enc.data);
	return len > 0;
}

struct pkce {
	char verifier[64];      /* 43 characters from 32 random bytes */
	char challenge[64];
	char state[32];
};

static bool pkce_make(struct pkce *p, struct result *r)
{
	unsigned char random[32], digest[32], state[16];
	bool ok = gnutls_rnd(GNUTLS_RND_KEY, random, sizeof random) == 0 &&
		  gnutls_rnd(GNUTLS_RND_NONCE, state, sizeof state) == 0 &&
		  base64url(random, sizeof random, p->verifier, sizeof p->verifier) &&
		  gnutls_hash_fast(GNUTLS_DIG_SHA256, p->verifier, strlen(p->verifier), digest) == 0 &&
		  base64url(digest, sizeof digest, p->challenge, sizeof p->challenge) &&
		  base64url(state, sizeof state, p->state, sizeof p->state);

	explicit_bzero(random, sizeof random);
	if (!ok)
		return result_fail(r, RESULT_OSERR, _("cannot make the PKCE code verifier"));
	return true;
}

/* The authorization request (RFC 6749 4.1.1 + RFC 7636 4.3).  Google
 * gives a refresh token only with access_type=offline, and again on a
 * second login only with prompt=consent; Microsoft ignores the first and
 * accepts the second. */
static char *authorize_url(const struct account *acct, const struct pkce *p, const char *redirect_uri)
{
	const char *names[] = { "response_type", "client_id", "redirect_uri", "scope", "state",
				"code_challenge", "code_challenge_method", "login_hint", "access_type", "prompt" };
	const char *values[] = { "code", acct->oauth_client_id, redirect_uri, acct->oauth_scope, p->state,
				 p->challenge, "S256", acct->user, "offline", "consent" };
	size_t n = sizeof names / sizeof names[0], size = strlen(acct->oauth_authorize_endpoint) + 2, at;
	char *encoded[sizeof names / sizeof names[0]] = { NULL }, *url = NULL;

	for (size_t i = 0; i < n; i++) {
		if ((encoded[i] = http_urlencode(values[i])) == NULL)
			goto out;
		size += strlen(names[i]) + strlen(encoded[i]) + 2;
	}
	if ((url = malloc(size)) == NULL)
		goto out;
	at = (size_t)snprintf(url, size, "%s", acct->oauth_authorize_endpoint);
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(url + at, size - at, "%c%s=%s",
				       i == 0 && strchr(acct->oauth_authorize_endpoint, '?') == NULL ? '?' : '&',
				       names[i], encoded[i]);
out:
	for (size_t i = 0; i < n; i++)
		free(encoded[i]);
	return url;
}

static bool login_code(const struct account *acct, int in_fd, FILE *out, struct result *r)
{
	struct oauth_redirect rd = { -1, "" };
	struct oauth_tokens tokens;
	struct pkce p;
	char *url = NULL, code[OAUTH_CODE_MAX + 1];
	bool ok = false;

	if (!pkce_make(&p, r) || !oauth_redirect_listen(&rd, r))
		return false;
	if ((url = authorize_url(acct, &p, rd.uri)) == NULL) {
		result_fail(r, RESULT_OSERR, _("out of memory"));
		goto out;
	}
	fprintf(out, _("To sign in to account '%s' as %s, open this address in a browser on any machine:\n\n    %s\n\n"),
		acct->name, acct->user, url);
	fprintf(out, _("The browser is then sent to %s. When it runs on another machine it cannot load that address: copy the address from its address bar, paste it here and press Enter.\n"),
		rd.uri);
	fflush(out);
	if (!oauth_redirect_wait(&rd, in_fd, p.state, OAUTH_LOGIN_TIMEOUT, code, sizeof code, r))
		goto out;
	{
		const struct http_field fields[] = {
			{ "grant_type", "authorization_code" }, { "code", code },
			{ "redirect_uri", rd.uri }, { "code_verifier", p.verifier },
		};

		ok = oauth_token_request(acct, fields, 4, &tokens, NULL, 0, r) && keep_tokens(acct, &tokens, out, r);
	}
out:
	explicit_bzero(code, sizeof code);
	explicit_bzero(&p, sizeof p);
	free(url);
	oauth_redirect_close(&rd);
	return ok;
}

/* ---- client credentials ------------------------------------------------ */

static bool login_client(const struct account *acct, FILE *out, struct result *r)
{
	const struct http_field fields[] = {
		{ "grant_type", "client_credentials" }, { "scope", acct->oauth_scope },
	};
	struct oauth_tokens tokens;

	return oauth_token_request(acct, fields, 2, &tokens, NULL, 0, r) && keep_tokens(acct, &tokens, out, r);
}

bool oauth_login(const struct account *acct, int in_fd, FILE *out, struct result *r)
{
	switch (acct->oauth_grant) {
	case OAUTH_GRANT_DEVICE_CODE:
		return login_device(acct, out, r);
	case OAUTH_GRANT_AUTHORIZATION_CODE:
		return login_code(acct, in_fd, out, r);
	case OAUTH_GRANT_CLIENT_CREDENTIALS:
		return login_client(acct, out, r);
	case OAUTH_GRANT_NONE:
		break;
	}
	return result_fail(r, RESULT_CONFIG,
			   _("account '%s' has no OAuth settings (oauth_client_id, or provider = office365 or gmail with oauth_client_id)"),
			   acct->name);
}
