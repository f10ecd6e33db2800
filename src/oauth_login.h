/* relaymail --oauth-login ACCOUNT: obtain the first refresh token with the
 * account's grant and store it (oauth.h).
 *
 * device_code (RFC 8628; Microsoft): ask the device endpoint for a code,
 * show the verification address and the user code on out, and poll the
 * token endpoint at the interval the provider gives, honouring
 * authorization_pending, slow_down (interval + 5 s), access_denied and
 * expired_token.  Works on a host without a browser.
 *
 * authorization_code with PKCE (RFC 7636, S256) and a loopback redirect
 * (RFC 8252; Google, whose Gmail scope is not allowed in the device flow):
 * show the authorization address; the browser's redirect arrives on
 * 127.0.0.1, or the person pastes the address the browser was sent to on
 * in_fd (a browser on another machine).
 *
 * client_credentials: no person involved; fetch a token once to prove the
 * client secret works.
 *
 * Errors: those of oauth.h and oauth_redirect.h; RESULT_NOPERM when the
 * person declined or the code expired.
 */
#ifndef RELAYMAIL_OAUTH_LOGIN_H
#define RELAYMAIL_OAUTH_LOGIN_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "result.h"

/* How long a person has to sign in, unless the provider says less. */
#define OAUTH_LOGIN_TIMEOUT 900

bool oauth_login(const struct account *acct, int in_fd, FILE *out, struct result *r);

#endif
