/* Envelope: who the message is from and to, and the header fix-ups.
 *
 * envelope_build() derives MAIL FROM and the RCPT list from the options,
 * the account and (with -t) the headers, qualifies bare local names with the
 * account's domain, removes duplicates, and fixes the header block: Bcc and
 * Resent-Bcc are marked not to be transmitted; Date, Message-ID and From are
 * added when missing.  The envelope owns its strings (envelope_free()).
 * Errors: RESULT_USAGE (no recipients, bad argument), RESULT_DATAERR (bad
 * header address list), RESULT_OSERR.
 */
#ifndef RELAYMAIL_ENVELOPE_H
#define RELAYMAIL_ENVELOPE_H

#include "config.h"
#include "message.h"
#include "options.h"
#include "rfc5322.h"

#define ENVELOPE_MAX_RECIPIENTS 10000

/* mailname(5); a fixed path (tests give it their own content in a private
 * mount namespace, not through a setting a caller could change). */
#ifndef MAILNAME_FILE
#define MAILNAME_FILE "/etc/mailname"
#endif

struct envelope {
	char *sender;                   /* "" is the null sender <> */
	struct address_list recipients;
	char *domain;                   /* for EHLO and Message-ID; never NULL once built */
	char *qualify_domain;           /* qualifies bare names: domain, /etc/mailname or a
					 * host name with a dot; NULL: none (qualifying fails) */
	bool body_8bit;                 /* -B8BITMIME or 8-bit bytes in the message */
	bool needs_smtputf8;            /* UTF-8 in an address or a structured header */
	int smtputf8;                   /* -O smtputf8=: 1 yes, 0 no, -1 automatic */
	const char *dsn_notify;         /* borrowed from the options; NULL when unset */
	const char *dsn_ret;
	const char *dsn_envid;
	bool allow_partial;             /* deliver to the accepted recipients only */
};

bool envelope_build(const struct options *opts, const struct account *acct,
		    struct message *msg, struct envelope *env, struct result *r);

/* Append addr to list: as it is when it has a domain, else through the
 * [aliases] table (recursively) or qualified with "@domain".  domain NULL:
 * a bare name without an alias is RESULT_CONFIG, naming the missing setting. */
bool envelope_expand_address(const struct account *acct, const char *addr, const char *domain,
			     struct address_list *list, struct result *r);

/* The domain that qualifies bare names: the account's domain, else the
 * first line of /etc/mailname (mailname(5)), else the host name, each only
 * when it has a dot.  *source names where it came from ("domain",
 * "/etc/mailname", "host name"); false when there is none (buf then holds
 * the host name). */
bool envelope_qualify_domain(const struct account *acct, char *buf, size_t size, const char **source);

void envelope_free(struct envelope *env);

#endif
