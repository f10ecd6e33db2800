/* OAuth 2.0 access tokens for SMTP AUTH (XOAUTH2, OAUTHBEARER): the token
 * source of one account, and the refresh token's store.
 *
 * An account uses OAuth when it has an oauth_grant (oauth_client_id implies
 * one).  Its refresh token (from relaymail --oauth-login, oauth_login.h) is
 * kept in oauth_token_file when set (the text of the token; mode 0600,
 * owned by the user, or by the service user for the system account), else
 * in the keyring.  The access token is cached in acct->oauth_cache_file
 * (0600) until OAUTH_EXPIRY_MARGIN seconds before it expires, so that a
 * send per minute from cron does not ask the provider each time.  With
 * oauth_grant = client_credentials there is no refresh token: the client
 * secret (oauth_client_secret, _file or _command) gets a new access token.
 *
 * A rotated refresh token (the answer carries a new one) is written back
 * atomically (temporary file, fsync, rename) before the access token is
 * used.  Tokens, client secrets and the answers that carry them are
 * secrets: wiped after use, never logged, never shown by --check.
 *
 * Errors: RESULT_TEMPFAIL (the token endpoint cannot be reached, times out
 * (the account's timeout bounds a request), answers 5xx or 429, or answers
 * something that is not a token answer, such as a proxy's page: the
 * message is queued), RESULT_NOPERM (the provider
 * refused the grant: invalid_grant, invalid_client, ...; the message says
 * to run relaymail --oauth-login again), RESULT_CONFIG (no refresh token
 * stored; libcurl missing; token file unsafe), RESULT_OSERR.
 */
#ifndef RELAYMAIL_OAUTH_H
#define RELAYMAIL_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "credentials.h"
#include "http.h"
#include "result.h"

/* Renew an access token this long before the provider says it expires. */
#define OAUTH_EXPIRY_MARGIN 120
/* The whole of one token request when the account has no timeout. */
#define OAUTH_HTTP_TIMEOUT 30
#define OAUTH_TOKEN_MAX SECRET_MAX

struct oauth;

/* The token source of acct (borrowed for the life of *out).  Nothing is
 * read or fetched yet.  Thread-safe: the service's sessions share one. */
bool oauth_open(const struct account *acct, struct oauth **out, struct result *r);

/* A copy of a valid access token (release with secret_wipe()): the one
 * in memory, else the cached one, else a new one from the token endpoint.
 * renew: the relay refused the token it was given; fetch a new one
 * whatever the cache says. */
bool oauth_access_token(struct oauth *o, bool renew, struct secret *token, struct result *r);

/* NULL is fine. */
void oauth_close(struct oauth *o);

/* A token endpoint's answer (RFC 6749 5.1), owned; oauth_tokens_wipe(). */
struct oauth_tokens {
	struct secret access;
	struct secret refresh;          /* data NULL when the answer has none */
	time_t expires;                 /* 0 when the answer does not say */
};

struct json;

/* POST fields plus client_id (and the client secret when the account has
 * one) to url; *obj is the answer when it is a JSON object (owned;
 * json_free()), NULL otherwise, which is an error (RESULT_PROTOCOL) only
 * with status 200. */
bool oauth_post(const struct account *acct, const char *url, const struct http_field *fields,
		size_t n_fields, long *status, struct json **obj, struct result *r);

/* oauth_post() to the token endpoint, and read a token answer; an error
 * answer (RFC 6749 5.2) becomes one line with the provider's error code
 * and description, made printable, and error (when not NULL) gets the
 * code alone ("authorization_pending", ...).  Shared by the grants here
 * and by oauth_login.c. */
bool oauth_token_request(const struct account *acct, const struct http_field *fields,
			 size_t n_fields, struct oauth_tokens *out, char *error, size_t error_size,
			 struct result *r);

/* The host part of an endpoint, for messages (never path or query). */
const char *oauth_endpoint_host(const char *url, char *buf, size_t size);

/* Store what a grant gave: the refresh token (when any) where the account
 * keeps it, and the access token in the cache. */
bool oauth_store_tokens(const struct account *acct, const struct oauth_tokens *tokens,
			struct result *r);

void oauth_tokens_wipe(struct oauth_tokens *t);

/* For --check, without any network request and without showing a token:
 * where the refresh token is kept and whether one is there, and until
 * when the cached access token is valid (0: none cached). */
struct oauth_state {
	bool refresh_present;
	char refresh_where[600];        /* "oauth_token_file /path" or "the keyring" */
	char refresh_problem[320];      /* why it could not be read, or "" */
	time_t access_expires;
};
void oauth_describe(const struct account *acct, struct oauth_state *st);

/* The client secret of a confidential client (oauth_client_secret,
 * _file or _command), or data NULL when the account has none. */
bool oauth_client_secret(const struct account *acct, struct secret *out, struct result *r);

#endif
