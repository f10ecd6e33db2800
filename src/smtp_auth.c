/* SMTP AUTH (RFC 4954): which mechanism, and each mechanism's exchange.
 * Responses are wiped as soon as they are written (conn_command_secret),
 * not after the reply: a relay that stalls must not keep them in memory.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "i18n.h"
#include "json.h"
#include "log.h"
#include "oauth.h"
#include "sasl.h"
#include "scram.h"
#include "smtp_internal.h"
#include "tls.h"

enum smtp_mech {
	MECH_PLAIN, MECH_LOGIN, MECH_XOAUTH2, MECH_OAUTHBEARER, MECH_SCRAM, MECH_SCRAM_PLUS,
	MECH_CRAM_MD5, MECH_COUNT, MECH_NONE = MECH_COUNT
};

static const char *const mech_names[MECH_COUNT] = {
	"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "CRAM-MD5"
};

#define OFFERS(s, m) (((s)->auth_mechs & (1u << (m))) != 0)

void smtp_auth_offered(struct smtp_session *s, const char *mech)
{
	for (unsigned m = 0; m < MECH_COUNT; m++) {
		if (strcasecmp(mech, mech_names[m]) == 0)
			s->auth_mechs |= 1u << m;
	}
	if (strlen(s->auth_offered) + strlen(mech) + 2 < sizeof s->auth_offered) {
		strcat(s->auth_offered, s->auth_offered[0] ? " " : "");
		strcat(s->auth_offered, mech);
	}
}

/* The RFC 9266 binding of this TLS session, when it has one. */
static bool channel_binding(struct smtp_session *s, unsigned char *cb, size_t size, size_t *len)
{
	return s->c->tls != NULL && tls_channel_binding(s->c->tls, cb, size, len);
}

static enum smtp_mech choose_mechanism(struct smtp_session *s, bool bearer, bool can_bind)
{
	switch (s->acct->auth) {
	case AUTH_CHOICE_PLAIN: return OFFERS(s, MECH_PLAIN) ? MECH_PLAIN : MECH_NONE;
	case AUTH_CHOICE_LOGIN: return OFFERS(s, MECH_LOGIN) ? MECH_LOGIN : MECH_NONE;
	case AUTH_CHOICE_CRAM_MD5: return OFFERS(s, MECH_CRAM_MD5) ? MECH_CRAM_MD5 : MECH_NONE;
	case AUTH_CHOICE_XOAUTH2: return OFFERS(s, MECH_XOAUTH2) ? MECH_XOAUTH2 : MECH_NONE;
	case AUTH_CHOICE_OAUTHBEARER: return OFFERS(s, MECH_OAUTHBEARER) ? MECH_OAUTHBEARER : MECH_NONE;
	case AUTH_CHOICE_SCRAM_PLUS:
		return OFFERS(s, MECH_SCRAM_PLUS) && can_bind ? MECH_SCRAM_PLUS : MECH_NONE;
	case AUTH_CHOICE_SCRAM:
		if (OFFERS(s, MECH_SCRAM_PLUS) && can_bind)
			return MECH_SCRAM_PLUS;
		return OFFERS(s, MECH_SCRAM) ? MECH_SCRAM : MECH_NONE;
	case AUTH_CHOICE_AUTO:
		break;
	}
	/* OAUTHBEARER is the standard; XOAUTH2 is what Microsoft offers.
	 * Passwords: PLAIN needs one round trip, LOGIN two; both inside TLS. */
	if (bearer)
		return OFFERS(s, MECH_OAUTHBEARER) ? MECH_OAUTHBEARER
		       : OFFERS(s, MECH_XOAUTH2) ? MECH_XOAUTH2 : MECH_NONE;
	return OFFERS(s, MECH_PLAIN) ? MECH_PLAIN : OFFERS(s, MECH_LOGIN) ? MECH_LOGIN : MECH_NONE;
}

static bool send_secret(struct smtp_session *s, const char *prefix, const char *response)
{
	return conn_command_secret(s->c, prefix, response, s->r) && conn_flush(s->c, s->r);
}

/* The reply's text as a decoded challenge (334 replies). */
static bool decode_challenge(struct smtp_session *s, char **out, size_t *len)
{
	return sasl_decode(s->reply.text, s->reply.text_len, out, len, s->r) ||
	       result_prefix(s->r, "AUTH");
}

static bool auth_plain(struct smtp_session *s, const struct secret *secret)
{
	char *response = NULL;
	bool ok = sasl_plain(s->acct->user, secret->data, &response, s->r) &&
		  send_secret(s, "AUTH PLAIN ", response);

	sasl_free(response);
	ok = ok && smtp_read_reply(s, "AUTH");
	if (ok && s->reply.code == 334)         /* server ignored the initial response */
		return result_fail(s->r, RESULT_PROTOCOL, _("AUTH: the server did not accept an initial response"));
	return ok;
}

static bool auth_login(struct smtp_session *s, const struct secret *secret)
{
	char *user = NULL, *pass = NULL;
	bool ok = sasl_base64(s->acct->user, &user, s->r) &&
		  smtp_send_and_expect(s, "AUTH LOGIN", "AUTH", 3, RESULT_NOPERM) &&
		  send_secret(s, "", user) && smtp_expect(s, "AUTH", 3, RESULT_NOPERM) &&
		  sasl_base64(secret->data, &pass, s->r) && send_secret(s, "", pass);

	sasl_free(user);
	sasl_free(pass);
	return ok && smtp_read_reply(s, "AUTH");
}

static bool auth_cram_md5(struct smtp_session *s, const struct secret *secret)
{
	char *challenge = NULL, *answer = NULL, *response = NULL;
	size_t len;
	bool ok = smtp_send_and_expect(s, "AUTH CRAM-MD5", "AUTH", 3, RESULT_NOPERM) &&
		  decode_challenge(s, &challenge, &len) &&
		  cram_md5_response(s->acct->user, secret->data, challenge, len, &answer, s->r) &&
		  sasl_base64(answer, &response, s->r) && send_secret(s, "", response);

	sasl_free(challenge);
	sasl_free(answer);
	sasl_free(response);
	return ok && smtp_read_reply(s, "AUTH");
}

/* Base64 of a SCRAM message, written as a secret (the proof derives from
 * the password). */
static bool send_scram(struct smtp_session *s, const char *prefix, const char *message)
{
	char *response = NULL;
	bool ok = sasl_base64(message, &response, s->r) && send_secret(s, prefix, response);

	sasl_free(response);
	return ok;
}

/* RFC 5802 over RFC 4954: client-first with the command, client-final
 * after the first 334, an empty line after the server-final 334; the
 * server is authenticated before 235 is believed. */
static bool auth_scram(struct smtp_session *s, const struct secret *secret, bool plus, bool can_bind,
		       const unsigned char *cb, size_t cb_len)
{
	char prefix[64], *challenge = NULL;
	const char *final = NULL;
	struct scram *scram = NULL;
	size_t len;
	bool ok = false;

	if (!scram_new(s->acct->user, secret->data, plus ? cb : NULL, plus ? cb_len : 0, !plus && can_bind,
		       &scram, s->r))
		return false;
	snprintf(prefix, sizeof prefix, "AUTH %s ", mech_names[plus ? MECH_SCRAM_PLUS : MECH_SCRAM]);
	if (!send_scram(s, prefix, scram_client_first(scram)) || !smtp_expect(s, "AUTH", 3, RESULT_NOPERM) ||
	    !decode_challenge(s, &challenge, &len) ||
	    !scram_client_final(scram, challenge, len, &final, s->r) || !send_scram(s, "", final) ||
	    !smtp_read_reply(s, "AUTH"))
		goto out;
	if (s->reply.code / 100 != 3) {         /* refused, or 235 without proof */
		if (s->reply.code == 235)
			result_fail(s->r, RESULT_NOPERM,
				    _("AUTH: the relay accepted SCRAM without proving that it knows the password; not sending"));
		else
			smtp_reply_failed(s, "AUTH", RESULT_NOPERM);
		goto out;
	}
	sasl_free(challenge);
	challenge = NULL;
	if (!decode_challenge(s, &challenge, &len))
		goto out;
	if (!scram_verify_server(scram, challenge, len, s->r)) {
		/* Cancel (RFC 4954 4): the relay is not who it claims to be. */
		struct result ignored;

		if (conn_command(s->c, "*", &ignored) && conn_flush(s->c, &ignored))
			smtp_read_reply(s, "AUTH");
		s->broken = true;
		goto out;
	}
	ok = conn_command(s->c, "", s->r) && conn_flush(s->c, s->r) && smtp_read_reply(s, "AUTH");
out:
	sasl_free(challenge);
	scram_free(scram);
	return ok;
}

/* The error challenge of RFC 7628 3.2.2 (Google sends it for XOAUTH2 too):
 * {"status":"invalid_token","scope":"...","schemes":"bearer"}, made one
 * printable phrase. */
static void describe_token_refusal(struct smtp_session *s, char *buf, size_t size)
{
	char *json_text = NULL, status[80], scope[200];
	struct json *obj = NULL;
	struct result ignored;
	const char *v;
	size_t len;

	buf[0] = '\0';
	if (!sasl_decode(s->reply.text, s->reply.text_len, &json_text, &len, &ignored))
		return;
	if (json_parse_object(json_text, len, &obj, &ignored)) {
		v = json_string(obj, "status");
		log_printable(status, sizeof status, v ? v : "?", v ? strlen(v) : 1);
		v = json_string(obj, "scope");
		log_printable(scope, sizeof scope, v ? v : "", v ? strlen(v) : 0);
		snprintf(buf, size, scope[0] ? _("status %s, scope %s") : _("status %s"), status, scope);
	}
	json_free(obj);
	sasl_free(json_text);
}

/* One bearer attempt.  *token_refused: the relay said no to the token
 * (error challenge or 535), so a fresh token may help. */
static bool auth_bearer_once(struct smtp_session *s, enum smtp_mech mech, const char *token,
			     bool *token_refused)
{
	char *response = NULL, prefix[32], detail[320] = "";
	bool ok;

	*token_refused = false;
	snprintf(prefix, sizeof prefix, "AUTH %s ", mech_names[mech]);
	ok = (mech == MECH_XOAUTH2 ? sasl_xoauth2(s->acct->user, token, &response, s->r)
	      : sasl_oauthbearer(s->acct->user, s->acct->host, s->acct->port, token, &response, s->r)) &&
	     send_secret(s, prefix, response) && smtp_read_reply(s, "AUTH");
	sasl_free(response);
	if (!ok)
		return false;
	if (s->reply.code == 334) {
		/* The error challenge wants a dummy response before the final
		 * reply: ^A for OAUTHBEARER (RFC 7628 3.2.3), empty for XOAUTH2. */
		describe_token_refusal(s, detail, sizeof detail);
		if (!conn_command(s->c, mech == MECH_OAUTHBEARER ? "AQ==" : "", s->r) ||
		    !conn_flush(s->c, s->r) || !smtp_read_reply(s, "AUTH"))
			return false;
	}
	if (s->reply.code == 235)
		return true;
	*token_refused = s->reply.code / 100 == 5;
	smtp_reply_failed(s, "AUTH", RESULT_NOPERM);
	if (detail[0]) {
		char said[RESULT_MSG_MAX];

		snprintf(said, sizeof said, "%s", s->r->msg);
		result_fail(s->r, s->r->cls, "%s (%s)", said, detail);
	}
	return false;
}

/* Present the token; when the relay refuses it, renew it once and try
 * once more on the same connection (the cached one may have been revoked
 * before its time). */
static bool auth_bearer(struct smtp_session *s, const struct secret *secret, enum smtp_mech mech)
{
	struct secret token = { NULL, 0, NULL };
	bool refused = false, ok;

	if (secret->oauth == NULL)      /* a token from a password source */
		return auth_bearer_once(s, mech, secret->data, &refused);
	ok = oauth_access_token(secret->oauth, false, &token, s->r) &&
	     auth_bearer_once(s, mech, token.data, &refused);
	secret_wipe(&token);
	if (ok || !refused)
		return ok;
	log_info(_("the relay refused the OAuth access token; renewing it and trying once more"));
	ok = oauth_access_token(secret->oauth, true, &token, s->r) &&
	     auth_bearer_once(s, mech, token.data, &refused);
	secret_wipe(&token);
	if (!ok && refused) {
		char said[RESULT_MSG_MAX];

		snprintf(said, sizeof said, "%s", s->r->msg);
		result_fail(s->r, RESULT_NOPERM,
			    _("%s; a new token was refused too: check that %s may send with SMTP AUTH (OAuth scope and the mailbox's SMTP AUTH setting)"),
			    said, s->acct->user);
	}
	return ok;
}

static bool no_mechanism(struct smtp_session *s, bool bearer)
{
	if (s->acct->auth == AUTH_CHOICE_SCRAM_PLUS && OFFERS(s, MECH_SCRAM_PLUS))
		return result_fail(s->r, RESULT_NOPERM,
				   _("auth = scram-sha-256-plus, but this TLS session has no tls-exporter channel binding (relaymail binds on TLS 1.3 only)"));
	if (bearer && s->acct->auth == AUTH_CHOICE_AUTO)
		return result_fail(s->r, RESULT_NOPERM,
				   _("the account uses OAuth, but the relay offers neither OAUTHBEARER nor XOAUTH2 (it offers: %s)"),
				   s->auth_offered);
	return result_fail(s->r, RESULT_NOPERM, _("no usable AUTH mechanism (the server offers: %s)"),
			   s->auth_offered);
}

bool smtp_authenticate(struct smtp_session *s, const struct secret *secret, struct smtp_outcome *out)
{
	bool bearer = secret->oauth != NULL || s->acct->auth == AUTH_CHOICE_XOAUTH2 ||
		      s->acct->auth == AUTH_CHOICE_OAUTHBEARER;
	unsigned char cb[64];
	size_t cb_len = 0;
	bool can_bind, ok;
	enum smtp_mech mech;

	if (secret->data == NULL && secret->oauth == NULL)
		return true;
	if (s->c->tls == NULL)  /* config forbids it; never send a secret in clear */
		return result_fail(s->r, RESULT_NOPERM, _("refusing to authenticate without TLS"));
	if (!(s->caps & CAP_AUTH))
		return result_fail(s->r, RESULT_NOPERM,
				   _("%s does not offer AUTH, but the account sets user"), s->acct->host);
	can_bind = channel_binding(s, cb, sizeof cb, &cb_len);
	mech = choose_mechanism(s, bearer, can_bind);
	if (mech == MECH_NONE)
		return no_mechanism(s, bearer);
	out->auth_mechanism = mech_names[mech];
	switch (mech) {
	case MECH_PLAIN: ok = auth_plain(s, secret); break;
	case MECH_LOGIN: ok = auth_login(s, secret); break;
	case MECH_CRAM_MD5: ok = auth_cram_md5(s, secret); break;
	case MECH_SCRAM:
	case MECH_SCRAM_PLUS:
		ok = auth_scram(s, secret, mech == MECH_SCRAM_PLUS, can_bind, cb, cb_len);
		break;
	case MECH_XOAUTH2:
	case MECH_OAUTHBEARER:
		return auth_bearer(s, secret, mech);
	default:
		ok = false;
		break;
	}
	explicit_bzero(cb, sizeof cb);
	if (!ok)
		return false;
	if (s->reply.code != 235)
		return smtp_reply_failed(s, "AUTH", RESULT_NOPERM);
	return true;
}
