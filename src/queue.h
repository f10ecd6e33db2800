/* Durable queue for messages the relay could not take now, and the
 * failed-mail store for messages that cannot be sent at all.
 *
 * The queue entry layout is described at the top of queue.c, the .env
 * format at the top of queue_entry.c.  Entries are written to a temporary
 * name, fsynced, and renamed, so a crash leaves no entry or a complete one.
 * All paths and strings returned are owned by the caller.  Errors:
 * RESULT_CANTCREAT (directory or file cannot be written, or a directory is
 * refused: see queue_dir_open() in queue_entry.h), RESULT_OSERR.
 *
 * Every directory given here is checked before use: reached from "/"
 * without a symbolic link, each component owned by root or the effective
 * user and not writable by others (unless sticky), the directory itself
 * owned by the effective user with mode 0700.  Entries that fail their own
 * checks are reported on stderr and skipped, never sent, never deleted.
 */
#ifndef RELAYMAIL_QUEUE_H
#define RELAYMAIL_QUEUE_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "envelope.h"
#include "message.h"
#include "result.h"

#define QUEUE_ID_MAX 64

/* The directories for an account: queue_dir / failed_dir, else under
 * $XDG_STATE_HOME/relaymail (or ~/.local/state/relaymail).  When the home
 * directory is missing, not ours or web-served (/var/www, /srv) there is no
 * default: false (RESULT_CANTCREAT, the message names the fix), and the
 * directory without one is "". */
bool queue_paths(const struct account *acct, char *queue_dir, char *failed_dir, size_t size,
		 struct result *r);

/* Queue a message for a later relaymail -q.  id receives the entry name.
 * user: the local user who submitted it (system queue), or NULL. */
bool queue_store(const char *dir, const struct account *acct, const struct envelope *env,
		 const struct message *msg, const char *user, const char *last_error, char *id,
		 size_t id_size, struct result *r);

/* Keep a message that cannot be sent: <dir>/<id>.eml plus <id>.reason.
 * path receives the .eml file name. */
bool queue_keep_failed(const char *dir, const struct envelope *env, const struct message *msg,
		       const char *reason, char *path, size_t path_size, struct result *r);

/* Does dir hold no entry (or not exist)? */
bool queue_is_empty(const char *dir);

/* -bp / mailq: one line per entry on stdout (fields escaped), or "Mail
 * queue is empty".  A queue directory we do not own is an error. */
bool queue_list(const char *dir, struct result *r);

/* -q: deliver every due entry, one SMTP session per account.  Another flush
 * holding the lock makes this return true at once; a queue directory we do
 * not own is refused (false, RESULT_CANTCREAT).  verbose: the -v trace. */
bool queue_flush(const struct config *cfg, const char *dir, bool force, bool verbose,
		 struct result *r);

struct pool;

/* The service's flush: failed_dir instead of the account's, and the
 * entries of pool_account through the warm sessions of pool. */
struct queue_flush_opts {
	bool force;                     /* every entry, not only the due ones */
	bool verbose;
	const char *failed_dir;         /* NULL: the account's */
	struct pool *pool;              /* NULL: a connection of its own */
	const char *pool_account;
	bool wait_for_lock;             /* another run holds the queue: wait for it
					 * (an explicit FLUSH), not leave it the work */
};

bool queue_flush_with(const struct config *cfg, const char *dir,
		      const struct queue_flush_opts *opts, struct result *r);

/* Create dir (0700, checked as the queue is) if need be. */
bool queue_prepare_dir(const char *dir, struct result *r);

/* mailq into out; user: only the entries that user submitted (system
 * queue), NULL: all. */
bool queue_list_to(FILE *out, const char *dir, const char *user, struct result *r);

#endif
