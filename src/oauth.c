/* OAuth 2.0 token source and stores (oauth.h). */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "json.h"
#include "keyring.h"
#include "log.h"
#include "oauth.h"

struct oauth {
	const struct account *acct;
	pthread_mutex_t lock;
	struct secret access;           /* data NULL until fetched */
	time_t expires;
};

void oauth_tokens_wipe(struct oauth_tokens *t)
{
	secret_wipe(&t->access);
	secret_wipe(&t->refresh);
	t->expires = 0;
}

/* ---- private files ---------------------------------------------------- */

/* Open a file only its owner may read: ours, or (for root) the
 * directory owner's, which is how root reads the service user's file. */
static int open_private(const char *key, const char *path, struct stat *st, struct result *r)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		result_fail(r, RESULT_CONFIG, _("%s %s: cannot open: %s"), key, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) ||
	    (st->st_uid != geteuid() && geteuid() != 0) || (st->st_mode & 077) != 0) {
		close(fd);
		result_fail(r, RESULT_CONFIG, _("%s %s: must be a regular file of yours with mode 0600"), key, path);
		return -1;
	}
	return fd;
}

/* The whole file, at most SECRET_MAX bytes, without a final newline. */
static bool read_private(const char *key, const char *path, struct secret *out, struct result *r)
{
	char buf[SECRET_MAX + 2];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	bool ok;
	int fd = open_private(key, path, &st, r);

	if (fd < 0)
		return false;
	while (len < sizeof buf && ((n = read(fd, buf + len, sizeof buf - len)) > 0 || (n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	close(fd);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == 0 || len > SECRET_MAX || memchr(buf, '\0', len) != NULL)
		ok = result_fail(r, RESULT_CONFIG, _("%s %s: empty, too long or not text"), key, path);
	else
		ok = secret_set(out, buf, len, r);
	explicit_bzero(buf, sizeof buf);
	return ok;
}

/* Create parents of path (mode 0700) that do not exist, one level at a
 * time: ~/.cache/relaymail may be missing on a fresh account. */
static void make_parents(const char *path)
{
	char dir[600];
	char *slash;

	if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
		return;
	for (slash = strchr(dir + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return;
		*slash = '/';
	}
}

/* Replace path with data atomically: a crash leaves the old token or the
 * new one, never half of one.  Root writing into a directory of another
 * user (the service's) gives the file to that user, who must read it. */
static bool write_private(const char *key, const char *path, const char *data, size_t len,
			  struct result *r)
{
	char tmp[700], dir[600], *slash;
	struct stat dst;
	bool ok = false;
	int fd;

	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp ||
	    snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
		return result_fail(r, RESULT_CONFIG, _("%s %s: path too long"), key, path);
	make_parents(path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return result_fail(r, RESULT_CONFIG, _("%s %s: cannot write: %s"), key, path, strerror(errno));
	slash = strrchr(dir, '/');
	if (slash != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (geteuid() == 0 && stat(dir, &dst) == 0 && dst.st_uid != 0 && fchown(fd, dst.st_uid, dst.st_gid) != 0)
		log_warn(_("%s %s: cannot give it to the directory's owner: %s"), key, path, strerror(errno));
	ok = write(fd, data, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	if (close(fd) != 0)
		ok = false;
	if (ok && rename(tmp, path) != 0)
		ok = false;
	if (!ok) {
		result_fail(r, RESULT_CONFIG, _("%s %s: cannot write: %s"), key, path, strerror(errno));
		unlink(tmp);
	}
	return ok;
}

/* ---- the access token cache ------------------------------------------ */

/* "expires EPOCH\nTOKEN\n"; a broken or foreign file is just not used. */
static bool cache_read(const struct account *acct, struct secret *token, time_t *expires)
{
	struct secret raw = { NULL, 0, NULL };
	struct result ignored;
	char *nl, *end;
	long long when;
	bool ok = false;

	if (acct->oauth_cache_file[0] == '\0' || access(acct->oauth_cache_file, F_OK) != 0 ||
	    !read_private("oauth cache", acct->oauth_cache_file, &raw, &ignored))
		return false;
	if (strncmp(raw.data, "expires ", 8) == 0 && (nl = strchr(raw.data, '\n')) != NULL) {
		errno = 0;
		when = strtoll(raw.data + 8, &end, 10);
		if (errno == 0 && end == nl && when > 0 && nl[1] != '\0' && strpbrk(nl + 1, "\r\n") == NULL) {
			*expires = (time_t)when;
			ok = secret_set(token, nl + 1, strlen(nl + 1), &ignored);
		}
	}
	secret_wipe(&raw);
	return ok;
}

static void cache_write(const struct account *acct, const struct secret *token, time_t expires)
{
	char *text;
	size_t size = token->len + 40;
	struct result r;
	int n;

	if (acct->oauth_cache_file[0] == '\0' || expires == 0 || (text = malloc(size)) == NULL)
		return;
	n = snprintf(text, size, "expires %lld\n%s", (long long)expires, token->data);
	if (n > 0 && (size_t)n < size && !write_private("oauth cache", acct->oauth_cache_file, text, (size_t)n, &r))
		log_info("%s", r.msg);  /* a cache that cannot be written only costs a request */
	explicit_bzero(text, size);
	free(text);
}

/* ---- the refresh token store ----------------------------------------- */

static bool refresh_load(const struct account *acct, struct secret *out, struct result *r)
{
	char why[256];

	if (acct->oauth_token_file != NULL) {
		if (access(acct->oauth_token_file, F_OK) != 0 && errno == ENOENT)
			return result_fail(r, RESULT_CONFIG,
					   _("account '%s' has no OAuth refresh token yet (%s does not exist): run relaymail --oauth-login %s"),
					   acct->name, acct->oauth_token_file, acct->name);
		return read_private("oauth_token_file", acct->oauth_token_file, out, r);
	}
	switch (keyring_lookup_as(acct, KEYRING_OAUTH_REFRESH, out, why, sizeof why)) {
	case KEYRING_FOUND:
		return true;
	case KEYRING_NOT_FOUND:
		return result_fail(r, RESULT_CONFIG,
				   _("account '%s' has no OAuth refresh token in the keyring: run relaymail --oauth-login %s"),
				   acct->name, acct->name);
	default:
		return result_fail(r, RESULT_CONFIG,
				   _("no OAuth refresh token for account '%s' from the keyring: %s; set oauth_token_file where there is no keyring"),
				   acct->name, why);
	}
}

bool oauth_store_tokens(const struct account *acct, const struct oauth_tokens *tokens, struct result *r)
{
	if (tokens->refresh.data != NULL) {
		if (acct->oauth_token_file != NULL
		    ? !write_private("oauth_token_file", acct->oauth_token_file, tokens->refresh.data,
				     tokens->refresh.len, r)
		    : !keyring_store_as(acct, KEYRING_OAUTH_REFRESH, tokens->refresh.data, r))
			return false;
	}
	cache_write(acct, &tokens->access, tokens->expires);
	return true;
}

/* ---- token requests --------------------------------------------------- */

/* A daemon's client secret where --set-password puts a password. */
static bool client_secret_from_keyring(const struct account *acct, struct secret *out, struct result *r)
{
	char why[256];

	if (keyring_lookup(acct, out, why, sizeof why) == KEYRING_FOUND)
		return true;
	return result_fail(r, RESULT_CONFIG,
			   _("no client secret for account '%s' (%s): set oauth_client_secret_file or oauth_client_secret_command, or store it with relaymail --set-password %s"),
			   acct->name, why, acct->name);
}

bool oauth_client_secret(const struct account *acct, struct secret *out, struct result *r)
{
	out->data = NULL;
	out->len = 0;
	if (acct->oauth_client_secret != NULL)
		return secret_set(out, acct->oauth_client_secret, strlen(acct->oauth_client_secret), r);
	if (acct->oauth_client_secret_file != NULL)
		return credentials_from_file("oauth_client_secret_file", acct->oauth_client_secret_file, true,
					     out, r);
	if (acct->oauth_client_secret_command != NULL)
		return credentials_from_command("oauth_client_secret_command",
						acct->oauth_client_secret_command, out, r);
	if (acct->oauth_grant == OAUTH_GRANT_CLIENT_CREDENTIALS)
		return client_secret_from_keyring(acct, out, r);
	return true;
}

/* The host of an endpoint, for messages (never the path or query). */
const char *oauth_endpoint_host(const char *url, char *buf, size_t size)
{
	const char *start = strstr(url, "://"), *end;

	start = start ? start + 3 : url;
	end = start + strcspn(start, "/?#");
	snprintf(buf, size, "%.*s", (int)(end - start), start);
	return buf;
}

/* An RFC 6749 5.2 error answer as one printable phrase; "" when the body
 * is not one. */
static void describe_error(const struct json *obj, char *buf, size_t size)
{
	const char *error = obj ? json_string(obj, "error") : NULL;
	const char *desc = obj ? json_string(obj, "error_description") : NULL;
	char e[80], d[300];

	buf[0] = '\0';
	if (error == NULL)
		return;
	log_printable(e, sizeof e, error, strlen(error));
	if (desc != NULL) {
		/* Microsoft's descriptions run to several lines of trace IDs. */
		log_printable(d, sizeof d, desc, strcspn(desc, "\r\n"));
		snprintf(buf, size, "%s: %s", e, d);
	} else {
		snprintf(buf, size, "%s", e);
	}
}

static bool read_token_answer(const struct json *obj, struct oauth_tokens *out, struct result *r)
{
	const char *access = json_string(obj, "access_token"), *refresh = json_string(obj, "refresh_token");
	const char *type = json_string(obj, "token_type");
	long long expires_in = 0;

	if (access == NULL || access[0] == '\0' || strpbrk(access, " \t\r\n\001") != NULL)
		return result_fail(r, RESULT_TEMPFAIL, _("the token endpoint's answer has no usable access_token"));
	if (type != NULL && strcasecmp(type, "bearer") != 0)
		return result_fail(r, RESULT_PROTOCOL, _("the token endpoint gave a token of type '%.40s', not Bearer"),
				   type);
	if (json_integer(obj, "expires_in", &expires_in) && (expires_in <= 0 || expires_in > 366LL * 86400))
		expires_in = 0;
	/* Without expires_in the token is used for this run and not cached
	 * for long: an hour is what both providers give. */
	out->expires = time(NULL) + (expires_in > 0 ? (time_t)expires_in : 3600);
	if (!secret_set(&out->access, access, strlen(access), r))
		return false;
	if (refresh != NULL && refresh[0] != '\0' &&
	    (strpbrk(refresh, "\r\n") != NULL || !secret_set(&out->refresh, refresh, strlen(refresh), r))) {
		oauth_tokens_wipe(out);
		return result_fail(r, RESULT_PROTOCOL, _("the token endpoint's refresh_token is not usable"));
	}
	return true;
}

/* 5xx and 429 are the provider's trouble: try later.  4xx says the grant,
 * the client or the request is wrong: a person must act. */
static bool answer_failed(const struct account *acct, long status, const struct json *obj,
			  struct result *r)
{
	char host[160], why[400];

	oauth_endpoint_host(acct->oauth_token_endpoint, host, sizeof host);
	describe_error(obj, why, sizeof why);
	if (status >= 500 || status == 429)
		return result_fail(r, RESULT_TEMPFAIL, _("token endpoint %s: HTTP %ld%s%s"), host, status,
				   why[0] ? ": " : "", why);
	if (why[0] != '\0' && (status == 400 || status == 401))
		return result_fail(r, RESULT_NOPERM, _("token endpoint %s refused: %s"), host, why);
	return result_fail(r, RESULT_TEMPFAIL, _("token endpoint %s: unexpected answer (HTTP %ld)"), host,
			   status);
}

bool oauth_post(const struct account *acct, const char *url, const struct http_field *fields,
		size_t n_fields, long *status, struct json **obj, struct result *r)
{
	struct http_field all[12];
	struct secret client_secret = { NULL, 0, NULL };
	struct http_response resp = { 0, NULL, 0 };
	struct http_request req = {
		.url = url, .fields = all, .ca_file = acct->tls_ca_file,
		.verify = acct->tls_verify, .timeout_s = acct->timeout ? acct->timeout : OAUTH_HTTP_TIMEOUT,
	};
	struct result parse = { RESULT_OK, "" };
	bool ok = false;
	char host[160];

	*obj = NULL;
	*status = 0;
	if (n_fields + 2 > sizeof all / sizeof all[0])
		return result_fail(r, RESULT_OSERR, _("too many fields for the token endpoint"));
	memcpy(all, fields, n_fields * sizeof *fields);
	all[n_fields++] = (struct http_field){ "client_id", acct->oauth_client_id };
	if (!oauth_client_secret(acct, &client_secret, r))
		return false;
	if (client_secret.data != NULL)
		all[n_fields++] = (struct http_field){ "client_secret", client_secret.data };
	req.n_fields = n_fields;
	if (!http_post_form(&req, &resp, r))
		goto out;
	*status = resp.status;
	ok = true;
	if (resp.body == NULL || !json_parse_object(resp.body, resp.len, obj, &parse)) {
		*obj = NULL;
		if (resp.body != NULL && parse.cls == RESULT_CONFIG)   /* json-c is missing */
			ok = result_fail(r, RESULT_CONFIG, "%s", parse.msg);
		else if (resp.status == 200)    /* a proxy's or portal's page: try later */
			ok = result_fail(r, RESULT_TEMPFAIL, _("%s: the answer is not JSON"),
					 oauth_endpoint_host(url, host, sizeof host));
	}
out:
	http_response_free(&resp);
	secret_wipe(&client_secret);
	return ok;
}

bool oauth_token_request(const struct account *acct, const struct http_field *fields, size_t n_fields,
			 struct oauth_tokens *out, char *error, size_t error_size, struct result *r)
{
	struct json *obj = NULL;
	long status;
	bool ok = false;

	memset(out, 0, sizeof *out);
	if (error != NULL && error_size > 0)
		error[0] = '\0';
	if (!oauth_post(acct, acct->oauth_token_endpoint, fields, n_fields, &status, &obj, r))
		return false;
	if (status != 200 || obj == NULL) {
		const char *code = obj ? json_string(obj, "error") : NULL;

		if (error != NULL && code != NULL)
			log_printable(error, error_size, code, strlen(code));
		answer_failed(acct, status, obj, r);
	} else {
		ok = read_token_answer(obj, out, r);
	}
	json_free(obj);
	return ok;
}

/* A new access token by the account's grant: client_credentials, or the
 * refresh token (stored back when the provider rotated it). */
static bool fetch_access_token(const struct account *acct, struct oauth_tokens *tokens, struct result *r)
{
	struct secret refresh = { NULL, 0, NULL };
	bool ok;

	if (acct->oauth_grant == OAUTH_GRANT_CLIENT_CREDENTIALS) {
		const struct http_field fields[] = {
			{ "grant_type", "client_credentials" }, { "scope", acct->oauth_scope },
		};

		return oauth_token_request(acct, fields, 2, tokens, NULL, 0, r) && oauth_store_tokens(acct, tokens, r);
	}
	if (!refresh_load(acct, &refresh, r))
		return false;
	{
		const struct http_field fields[] = {
			{ "grant_type", "refresh_token" }, { "refresh_token", refresh.data },
			{ "scope", acct->oauth_scope },
		};

		ok = oauth_token_request(acct, fields, 3, tokens, NULL, 0, r);
	}
	if (!ok && r->cls == RESULT_NOPERM) {
		char said[RESULT_MSG_MAX];

		snprintf(said, sizeof said, "%s", r->msg);
		result_fail(r, RESULT_NOPERM, _("%s; sign in again with relaymail --oauth-login %s"), said,
			    acct->name);
	}
	/* A rotated refresh token replaces the old one, which the provider may
	 * already have invalidated: it must be safe before anything else. */
	if (ok && tokens->refresh.data != NULL && strcmp(tokens->refresh.data, refresh.data) == 0)
		secret_wipe(&tokens->refresh);
	ok = ok && oauth_store_tokens(acct, tokens, r);
	secret_wipe(&refresh);
	return ok;
}

/* ---- the token source -------------------------------------------------- */

bool oauth_open(const struct account *acct, struct oauth **out, struct result *r)
{
	struct oauth *o = calloc(1, sizeof *o);

	*out = NULL;
	if (o == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	o->acct = acct;
	pthread_mutex_init(&o->lock, NULL);
	*out = o;
	return true;
}

static bool usable(const struct oauth *o, time_t now)
{
	return o->access.data != NULL && o->expires - OAUTH_EXPIRY_MARGIN > now;
}

/* Under the lock: make o->access valid. */
static bool refresh_locked(struct oauth *o, bool renew, struct result *r)
{
	struct oauth_tokens tokens;
	time_t now = time(NULL);

	if (!renew && usable(o, now))
		return true;
	secret_wipe(&o->access);
	if (!renew && cache_read(o->acct, &o->access, &o->expires) && usable(o, now))
		return true;
	secret_wipe(&o->access);
	if (!fetch_access_token(o->acct, &tokens, r))
		return false;
	o->access = tokens.access;
	o->expires = tokens.expires;
	tokens.access.data = NULL;
	oauth_tokens_wipe(&tokens);
	return true;
}

bool oauth_access_token(struct oauth *o, bool renew, struct secret *token, struct result *r)
{
	bool ok;

	token->data = NULL;
	token->len = 0;
	token->oauth = NULL;
	pthread_mutex_lock(&o->lock);
	ok = refresh_locked(o, renew, r) && secret_set(token, o->access.data, o->access.len, r);
	pthread_mutex_unlock(&o->lock);
	return ok;
}

void oauth_close(struct oauth *o)
{
	if (o == NULL)
		return;
	secret_wipe(&o->access);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

void oauth_describe(const struct account *acct, struct oauth_state *st)
{
	struct secret s = { NULL, 0, NULL };
	struct result r;
	time_t expires = 0;

	memset(st, 0, sizeof *st);
	if (acct->oauth_grant == OAUTH_GRANT_CLIENT_CREDENTIALS) {
		snprintf(st->refresh_where, sizeof st->refresh_where, "%s", _("none needed (client_credentials)"));
		st->refresh_present = true;
	} else if (acct->oauth_token_file != NULL) {
		snprintf(st->refresh_where, sizeof st->refresh_where, "oauth_token_file %s", acct->oauth_token_file);
	} else {
		snprintf(st->refresh_where, sizeof st->refresh_where, "%s", _("the keyring"));
	}
	if (acct->oauth_grant != OAUTH_GRANT_CLIENT_CREDENTIALS) {
		st->refresh_present = refresh_load(acct, &s, &r);
		if (!st->refresh_present)
			snprintf(st->refresh_problem, sizeof st->refresh_problem, "%.299s", r.msg);
		secret_wipe(&s);
	}
	if (cache_read(acct, &s, &expires))
		st->access_expires = expires;
	secret_wipe(&s);
}
