#ifndef RELAYMAIL_DSN_H
#define RELAYMAIL_DSN_H

#include <stdbool.h>

/* Delivery Status Notification parameters (RFC 3461) as relaymail takes
 * them from -N and -V and reads them back from a queue entry: one check
 * for both, so that nothing queued could not have been given. */

#define DSN_NOTIFY_MAX 63       /* longest NOTIFY list taken */
#define DSN_ENVID_MAX 100       /* RFC 3461 section 4.4 */

/* NEVER, or a comma-separated list of SUCCESS, FAILURE and DELAY (any
 * case), at most DSN_NOTIFY_MAX bytes. */
bool dsn_notify_valid(const char *value);

/* An ENVID of 1 to DSN_ENVID_MAX printable ASCII characters (no space):
 * it goes into MAIL FROM as xtext without further checks. */
bool dsn_envid_valid(const char *value);

#endif
