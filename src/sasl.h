/* SASL client responses for SMTP AUTH (RFC 4954): PLAIN and LOGIN.
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

void sasl_free(char *response);

#endif
