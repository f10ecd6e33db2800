/* The account's secret: where it comes from and how long it lives.
 *
 * credentials_get() fills a struct secret the caller owns and must release
 * with secret_wipe(), which overwrites the bytes before freeing them.  The
 * secret is never logged, never put in argv or the environment of a child.
 * Errors: RESULT_CONFIG (no source, source failed or unsafe), RESULT_USAGE,
 * RESULT_OSERR.
 */
#ifndef RELAYMAIL_CREDENTIALS_H
#define RELAYMAIL_CREDENTIALS_H

#include <stddef.h>

#include "config.h"
#include "result.h"

#define SECRET_MAX 1024
#define PASSWORD_COMMAND_TIMEOUT 10

struct secret {
	char *data;     /* NUL-terminated; NULL when the account needs none */
	size_t len;
};

/* Sources in order: keyring, password_command, password_file, systemd
 * credential, terminal prompt; password_source pins one.  A configured
 * source that fails is an error (no silent fall-through past it). */
bool credentials_get(const struct account *acct, struct secret *out, struct result *r);

/* Where the secret would come from, as one translated phrase in buf; the
 * secret itself is never shown and password_command is not run. */
bool credentials_describe(const struct account *acct, char *buf, size_t size, struct result *r);

/* A new secret for --set-password: from the terminal without echo, or the
 * first line of stdin when it is not a terminal. */
bool credentials_read_new(struct secret *out, struct result *r);

void secret_wipe(struct secret *s);

#endif
