/* relaymail --import-msmtprc [FILE]: an msmtp configuration file (msmtp(1),
 * "Configuration files") turned into the equivalent relaymail.conf text.
 *
 * Translated: defaults, account NAME [: OTHER[, OTHER...]] (inheritance),
 * account default : NAME (default_account), host, port, tls, tls_starttls,
 * tls_trust_file, tls_certcheck, auth, user, passwordeval, from, aliases,
 * logfile, timeout, allow_from_override.  msmtp's own defaults (port 25,
 * no TLS) are written out, as relaymail's differ.  A password is never
 * copied: each account that had one is named on stderr with the command
 * that stores it in the keyring.  Every other directive is named on stderr
 * with its file:line and left out.
 *
 * The file is untrusted text: size, line length and the number of accounts
 * are bounded; values relaymail.conf could not hold unchanged are left out
 * and named.  Errors: RESULT_CONFIG (unreadable or invalid file).
 */
#ifndef RELAYMAIL_MSMTPRC_H
#define RELAYMAIL_MSMTPRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "result.h"

#define MSMTPRC_MAX_SIZE (1024 * 1024)
#define MSMTPRC_LINE_MAX 4096
#define MSMTPRC_MAX_ACCOUNTS 1000

/* A note for stderr: what was left out, and where.  text is printable. */
typedef void (*msmtprc_note_fn)(void *arg, const char *text);

/* Translate len bytes of msmtprc text (path is for messages and the
 * header comment; home expands "~/").  Writes the configuration to out
 * only when the whole file is valid. */
bool msmtprc_convert(const char *text, size_t len, const char *path, const char *home, FILE *out,
		     msmtprc_note_fn note, void *arg, struct result *r);

/* The default file: ~/.msmtprc when it exists, else
 * $XDG_CONFIG_HOME/msmtp/config (~/.config/msmtp/config). */
bool msmtprc_default_path(char *buf, size_t size);

/* Read path (NULL: the default) and print its translation on stdout, the
 * notes on stderr. */
bool msmtprc_import(const char *path, struct result *r);

#endif
