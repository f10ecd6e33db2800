/* The desktop keyring through libsecret: the only user of libsecret/GLib.
 *
 * Entries are stored with relaymail's schema (org.relaymail.Password:
 * host, service = "smtp", user, account).  Lookups match on host, service
 * and user with any schema, so passwords stored by msmtp (same attributes)
 * are found too; an entry for this very account is preferred.
 *
 * Every call is bounded by KEYRING_TIMEOUT seconds, never unlocks a
 * collection and never opens a prompt.  A failed lookup says why in
 * `why` (translated, one phrase) so the caller can list alternatives.
 */
#ifndef RELAYMAIL_KEYRING_H
#define RELAYMAIL_KEYRING_H

#include <stddef.h>

#include "config.h"
#include "credentials.h"
#include "result.h"

#define KEYRING_TIMEOUT 3

enum keyring_status {
	KEYRING_FOUND,
	KEYRING_NOT_FOUND,
	KEYRING_NO_BUS,         /* no D-Bus session bus */
	KEYRING_NO_SERVICE,     /* no Secret Service on the bus */
	KEYRING_LOCKED,         /* the entry exists in a locked collection */
	KEYRING_TIMEOUT_,       /* the service did not answer in time */
	KEYRING_FAILED,         /* anything else */
};

/* out is filled only on KEYRING_FOUND (release with secret_wipe()). */
enum keyring_status keyring_lookup(const struct account *acct, struct secret *out,
				   char *why, size_t why_size);

/* Store or replace the secret for the account (label names relaymail, the
 * account, user and host).  Errors: RESULT_CONFIG with the reason. */
bool keyring_store(const struct account *acct, const char *secret, struct result *r);

/* Remove the account's entries (relaymail's schema only).  *removed says
 * whether there was one. */
bool keyring_forget(const struct account *acct, bool *removed, struct result *r);

/* The same for another kind of entry: attribute service = service_name
 * (KEYRING_PASSWORD for the account's password, KEYRING_OAUTH_REFRESH for
 * an OAuth refresh token). */
#define KEYRING_PASSWORD "smtp"
#define KEYRING_OAUTH_REFRESH "oauth2-refresh"
enum keyring_status keyring_lookup_as(const struct account *acct, const char *service_name,
				      struct secret *out, char *why, size_t why_size);
bool keyring_store_as(const struct account *acct, const char *service_name, const char *secret,
		      struct result *r);
bool keyring_forget_as(const struct account *acct, const char *service_name, bool *removed,
		       struct result *r);

#endif
