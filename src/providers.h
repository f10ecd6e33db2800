/* Built-in relay presets (provider = NAME) and hints for failures that
 * every user of a given relay runs into.
 *
 * A preset fills host, port, tls, auth and (where the provider fixes it)
 * user for the keys an account does not set; region picks the endpoint of
 * SES and Mailgun.  Strings returned are static or written to caller
 * buffers.  Errors: RESULT_CONFIG (unknown provider or region).
 */
#ifndef RELAYMAIL_PROVIDERS_H
#define RELAYMAIL_PROVIDERS_H

#include <stddef.h>

#include "config.h"
#include "result.h"

/* Fill the unset keys of acct from its provider's preset.  host_buf holds
 * a host name built from the region (acct->host may point to it, so the
 * account must not be copied afterwards). */
bool providers_apply(struct account *acct, char *host_buf, size_t host_size, struct result *r);

/* One translated line of advice for a failure text of this account, or
 * NULL when there is nothing specific to say. */
const char *providers_hint(const struct account *acct, const char *failure);

/* The SPF include a sender domain needs for the account's provider
 * ("sendgrid.net"), or NULL when unknown. */
const char *providers_spf_include(const struct account *acct);

/* The ports other than 587 and 465 that the account's provider (its preset,
 * or a known host) documents, most useful first; at most max.  Returns how
 * many; 0 for an unknown relay.  For --check when 587 and 465 are blocked. */
size_t providers_alt_ports(const struct account *acct, unsigned *ports, size_t max);

/* The names of all presets, space-separated (for messages and --help). */
const char *providers_names(void);

#endif
