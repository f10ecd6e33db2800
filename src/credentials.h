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

/* Passwords, and bearer tokens given by password sources (an access
 * token of Microsoft is a JWT of 1.5 to 4 KiB). */
#define SECRET_MAX 8192
#define PASSWORD_COMMAND_TIMEOUT 10

struct oauth;

struct secret {
	char *data;     /* NUL-terminated; NULL when the account needs none */
	size_t len;
	/* An OAuth account's token source (oauth.h) instead of data: the
	 * access token is fetched when AUTH needs it.  Owned; closed by
	 * secret_wipe(). */
	struct oauth *oauth;
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

/* The first line a command prints (bounded by PASSWORD_COMMAND_TIMEOUT
 * and SECRET_MAX), and the content of a file (private_file: it must be
 * ours and closed to group and others); key names the setting in
 * messages.  Errors: RESULT_CONFIG, RESULT_OSERR. */
bool credentials_from_command(const char *key, const char *cmd, struct secret *out, struct result *r);
bool credentials_from_file(const char *key, const char *path, bool private_file,
			   struct secret *out, struct result *r);

/* A copy of len bytes in s (which holds nothing yet).  Errors:
 * RESULT_PROTOCOL (over SECRET_MAX), RESULT_OSERR. */
bool secret_set(struct secret *s, const char *data, size_t len, struct result *r);

/* Wipe and free data, close oauth. */
void secret_wipe(struct secret *s);

#endif
