/* Notices of undelivered mail, as nullmailer and dma send them: when the
 * queue gives a message up (queue_lifetime, a permanent refusal during a
 * flush) or the relay refused some of its recipients while it took the
 * others, the envelope sender (or the account's admin_address) gets a small
 * text/plain message: the recipients, each with the relay's reply, the last
 * error, where the copy is kept, and the original headers.
 *
 * Loop-safe (RFC 3834, RFC 3464 style): a notice has the null envelope
 * sender and "Auto-Submitted: auto-replied"; no notice is ever made about a
 * message with the null sender or with Auto-Submitted other than "no"
 * (another notice, a vacation reply, a bounce).  The caller submits the
 * notice through the same account, once: when that fails it is logged,
 * never queued.
 */
#ifndef RELAYMAIL_NOTICE_H
#define RELAYMAIL_NOTICE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "envelope.h"
#include "message.h"
#include "result.h"

/* Bytes of the original header block quoted in a notice (the rest is cut). */
#define NOTICE_HEADERS_MAX (32 * 1024)

/* One undelivered recipient and the error that concerns it (NULL: the
 * notice's reason). */
struct notice_failure {
	const char *rcpt;
	const char *error;
};

/* What the notice says, all borrowed. */
struct notice_about {
	const struct envelope *env;             /* the undelivered message's */
	const struct message *msg;              /* headers indexed, or preformatted */
	const struct notice_failure *failed;
	size_t n_failed;
	const char *reason;                     /* the last error */
	const char *kept;                       /* where the copy is kept, or NULL */
};

/* A built notice: its own envelope (null sender, one recipient) and message
 * (a spool like message_read()'s).  Owned; free with notice_free(). */
struct notice {
	struct envelope env;
	struct message msg;
};

/* Who gets the notice about a message of env: admin_address when set, else
 * the envelope sender; NULL when no notice may be sent (the null sender, or
 * a message that is itself automatic: see above). */
const char *notice_recipient(const struct account *acct, const struct envelope *env,
			     const struct message *msg);

/* Build the notice for `about`, to `to` (notice_recipient()), its body
 * spooled in spool_dir.  Errors: RESULT_OSERR, RESULT_CANTCREAT (spool).
 * On failure n is left empty (notice_free() is safe). */
bool notice_build(const struct notice_about *about, const char *to, const char *spool_dir,
		  struct notice *n, struct result *r);

void notice_free(struct notice *n);

#endif
