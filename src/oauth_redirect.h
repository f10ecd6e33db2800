/* The redirect of an OAuth authorization code grant (RFC 6749 4.1, RFC
 * 8252 loopback redirect) for relaymail --oauth-login.
 *
 * oauth_redirect_listen() binds 127.0.0.1 on an ephemeral port and gives
 * the redirect URI ("http://127.0.0.1:PORT/").  oauth_redirect_wait() then
 * waits, up to timeout_s, for whichever comes first:
 *   - the browser's GET /?code=...&state=... on that socket (answered with
 *     a short page saying the window may be closed; any other request or
 *     path gets 404 and waiting goes on), or
 *   - a line on the input fd (the terminal): the address the browser was
 *     sent to, pasted by a person whose browser runs on another machine;
 *     only the query part is read (anything before '?' is ignored).
 * Query values are percent-decoded.  The request line and headers are
 * bounded (OAUTH_REDIRECT_LINE_MAX); a client that sends more or stalls
 * for 10 s is dropped and waiting goes on.
 *
 * The state must equal expected_state (constant-time compare), else the
 * answer is refused (CSRF, RFC 6749 10.12).  An error=... answer becomes
 * RESULT_NOPERM with error and error_description made printable.
 *
 * Errors: RESULT_NOPERM (error answer, state mismatch), RESULT_TEMPFAIL
 * (timeout; input closed without an answer), RESULT_PROTOCOL (a pasted
 * line without code), RESULT_OSERR.
 */
#ifndef RELAYMAIL_OAUTH_REDIRECT_H
#define RELAYMAIL_OAUTH_REDIRECT_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"

#define OAUTH_REDIRECT_LINE_MAX 8192
#define OAUTH_CODE_MAX 4096

struct oauth_redirect {
	int listen_fd;
	char uri[64];                   /* "http://127.0.0.1:PORT/" */
};

bool oauth_redirect_listen(struct oauth_redirect *rd, struct result *r);

/* code: at most OAUTH_CODE_MAX bytes; the caller wipes it. */
bool oauth_redirect_wait(struct oauth_redirect *rd, int input_fd, const char *expected_state,
			 unsigned timeout_s, char *code, size_t code_size, struct result *r);

void oauth_redirect_close(struct oauth_redirect *rd);

#endif
