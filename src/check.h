/* relaymail --check [ACCOUNT]: a diagnosis that sends no mail.
 *
 * Configuration and its sources, where the secret comes from, name
 * resolution, TCP reachability of the submission ports, TLS (version,
 * cipher, certificate, expiry, verification), EHLO capabilities, AUTH, and
 * the sender domain's SPF, DMARC and (with dkim_selector) DKIM records.
 * Each line is PASS, WARN or FAIL; the result is false when anything
 * needed to send fails.
 */
#ifndef RELAYMAIL_CHECK_H
#define RELAYMAIL_CHECK_H

#include "config.h"

#define CHECK_CERT_WARN_DAYS 14

/* cfg is already loaded; acct_error is the resolution error or NULL. */
bool check_run(const struct config *cfg, const char *account, bool verbose);

/* --check --sender ADDRESS: print which account ADDRESS chooses and why,
 * and set *account to it (unless *account is already set by --account).
 * False when ADDRESS is not an address. */
bool check_sender(const struct config *cfg, const char *address, const char **account);

#endif
