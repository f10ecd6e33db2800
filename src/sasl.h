/* SASL client responses for SMTP AUTH (RFC 4954): PLAIN, LOGIN, and the
 * bearer-token mechanisms XOAUTH2 (Google's, also Microsoft's) and
 * OAUTHBEARER (RFC 7628).  SCRAM and CRAM-MD5 are scram.h's.
 *
 * Responses are base64 text in buffers the caller owns and must release with
 * sasl_free(), which wipes them first.  Errors: RESULT_OSERR.
 */
#ifndef RELAYMAIL_SASL_H
#define RELAYMAIL_SASL_H

#include <stddef.h>

#include "result.h"

/* base64("\0" user "\0" password) for AUTH PLAIN (RFC 4616). */
bool sasl_plain(const char *user, const char *password, char **out, struct result *r);

/* base64(text) for each step of AUTH LOGIN. */
bool sasl_base64(const char *text, char **out, struct result *r);

/* base64("user=" user ^A "auth=Bearer " token ^A ^A) for AUTH XOAUTH2. */
bool sasl_xoauth2(const char *user, const char *token, char **out, struct result *r);

/* base64(gs2 header "n,a=user," ^A "host=" host ^A "port=" port ^A
 * "auth=Bearer " token ^A ^A) for AUTH OAUTHBEARER (RFC 7628 3.1); ',' and
 * '=' in user are escaped as in RFC 5801. */
bool sasl_oauthbearer(const char *user, const char *host, unsigned port, const char *token,
		      char **out, struct result *r);

/* Decode a server challenge (base64 text of len bytes) into a new
 * NUL-terminated buffer (*out, *out_len) the caller releases with
 * sasl_free().  Errors: RESULT_PROTOCOL (not base64), RESULT_OSERR. */
bool sasl_decode(const char *text, size_t len, char **out, size_t *out_len, struct result *r);

void sasl_free(char *response);

#endif
