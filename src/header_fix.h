/* Header fix-ups that make a locally written message acceptable to a relay:
 * bare local names in address headers are mapped through [aliases] and
 * qualified, From is made to match the account's verified sender when the
 * from_policy asks for it, and lines over 998 characters are folded.
 * Headers are rewritten in place (struct message owns them).  Errors:
 * RESULT_DATAERR (a header that cannot be parsed or folded), RESULT_OSERR.
 */
#ifndef RELAYMAIL_HEADER_FIX_H
#define RELAYMAIL_HEADER_FIX_H

#include "config.h"
#include "envelope.h"
#include "message.h"
#include "options.h"
#include "result.h"

#define HEADER_LINE_MAX 998

/* From, To, Cc, Reply-To, Sender and their Resent- forms. */
bool header_fix_addresses(const struct account *acct, const char *domain, struct message *msg,
			  struct result *r);

/* from_policy: keep, rewrite_unqualified or always (needs the account's
 * from); the original address moves to Reply-To and the display name. */
bool header_fix_from_policy(const struct account *acct, const char *domain, struct message *msg,
			    struct result *r);

/* A From header when the message has none: the envelope sender with the
 * sender's full name (-F, else $NAME, else the GECOS name); for the null
 * sender MAILER-DAEMON@domain without a name.  RESULT_SOFTWARE when it
 * cannot be built. */
bool header_fix_add_from(const struct options *opts, const struct envelope *env,
			 struct message *msg, struct result *r);

/* RFC 2047: 8-bit text in unstructured headers (Subject, Comments, X-*)
 * becomes encoded words, so it survives relays without SMTPUTF8.  Sets
 * *eight_bit_left when a structured header still holds 8-bit bytes. */
bool header_fix_encode_8bit(struct message *msg, bool *eight_bit_left, struct result *r);

/* For a relay without SMTPUTF8 (or -O smtputf8=no): plain, a copy of msg
 * (message_copy(): the body is shared, not copied) whose 8-bit header text
 * is RFC 2047-encoded: display names and comments in address lists, and
 * unstructured fields.  RESULT_DATAERR when an address (in the envelope or
 * a header) or a structured field other than an address list is not
 * ASCII: no encoding carries it.  plain is always initialised; free it
 * with message_free() (also after a failure). */
bool header_fix_downgrade(const struct envelope *env, const struct message *msg,
			  struct message *plain, struct result *r);

/* RFC 5322 2.1.1: fold lines longer than 998 characters at white space,
 * or (address lists) after a comma between addresses, never inside one. */
bool header_fix_fold(struct message *msg, struct result *r);

#endif
