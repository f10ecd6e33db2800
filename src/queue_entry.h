/* Inside the queue: one entry and the helpers that queue.c (storing,
 * scanning, listing), queue_flush.c (delivering), queue_dir.c (directory
 * and file checks) and queue_entry.c (the .env format) share.  Not a public
 * interface.  The entry layout on disk: see the top of queue.c; the .env
 * format: the top of queue_entry.c.
 *
 * Trust: a queue directory and its files are untrusted input (another user
 * may have created the directory first, or planted files in it).  The
 * directory is opened by walking its path from "/" without following
 * symbolic links and checking each component; every file is then opened
 * relative to that directory descriptor, with O_NOFOLLOW, and checked with
 * fstat(); .env text goes through queue_entry_parse(), which accepts only
 * what queue_entry_format() writes.
 */
#ifndef RELAYMAIL_QUEUE_ENTRY_H
#define RELAYMAIL_QUEUE_ENTRY_H

#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "envelope.h"
#include "queue.h"
#include "result.h"

/* Bounds of the .env fields (bytes); the writer never exceeds them. */
#define QUEUE_META_MAX (4 * 1024 * 1024)        /* the whole .env file */
#define QUEUE_ACCOUNT_MAX 256
#define QUEUE_DOMAIN_MAX 255
#define QUEUE_MESSAGE_ID_MAX 998
#define QUEUE_LAST_ERROR_MAX 1024
#define QUEUE_USER_MAX 64                       /* the local user (system queue) */

/* Room for a path or name made printable with log_escape(), for messages
 * (path names come from the environment and the configuration). */
#define SHOWN_PATH 256

struct entry {
	char id[QUEUE_ID_MAX];
	char *account;
	struct envelope env;    /* sender, recipients, domain and flags */
	char *dsn[3];           /* notify, ret, envid (owned; env points here) */
	long long created, next;
	unsigned attempts;
	char *last_error;
	char *message_id;
	char *user;             /* who submitted it (system queue), or NULL */
	off_t size;
};

struct entry_list {
	struct entry *items;
	size_t n;
};

/* ---- queue_dir.c: is this directory, this file ours and safe? ---- */

/* Open the directory path (absolute) and return its descriptor in *fd:
 * every component is opened with O_NOFOLLOW from "/", must be owned by root
 * or the effective user and not writable by others unless sticky (/tmp);
 * the directory itself must be owned by the effective user with no group or
 * other permission bits.  create: missing components are made, mode 0700;
 * otherwise a missing directory gives true with *fd = -1.
 * Errors: RESULT_CANTCREAT with one line naming the component and the fix. */
bool queue_dir_open(const char *path, bool create, int *fd, struct result *r);

/* Open name (an entry file "<id>.env", "<id>.msg", or ".lock") in dirfd
 * without following a symbolic link, read-only (create: read-write, made
 * with mode 0600 when missing).  It must be a regular file owned by the
 * effective user, not writable by group or others, and a .msg must have one
 * link.  Returns the descriptor (st filled) or -1 with r set
 * (RESULT_CANTCREAT, one line naming the file). */
int queue_open_file(int dirfd, const char *name, bool create, struct stat *st, struct result *r);

/* Does name look like an entry id we make ([A-Za-z0-9._-], bounded)? */
bool queue_id_is_valid(const char *name, size_t len);

/* fsync() the directory, so that a rename or unlink in it is durable
 * (false: errno says why). */
bool queue_fsync_dir(int dirfd);

/* ---- queue_entry.c: the .env text -------------------------------- */

/* Parse the text of a .env file (len bytes, not NUL-terminated, untrusted)
 * into e.  Only the keys of version 1, each once (rcpt repeated, at most
 * ENVELOPE_MAX_RECIPIENTS), values validated and bounded; no NUL, no control
 * characters, every line ends with LF.  On failure e is left empty (nothing
 * to free) and r says which line and why (RESULT_DATAERR, RESULT_OSERR).
 * On success the caller frees e with queue_entry_free(). e->id is not set. */
bool queue_entry_parse(const char *text, size_t len, struct entry *e, struct result *r);

/* The .env text for e (malloc'ed, owned by the caller), or NULL when out of
 * memory.  queue_entry_parse() accepts whatever this writes. */
char *queue_entry_format(const struct entry *e);

/* Free what e owns and leave it empty (safe on an empty entry). */
void queue_entry_free(struct entry *e);

/* Store a copy of reason (truncated to QUEUE_LAST_ERROR_MAX, not inside a
 * UTF-8 character) as last-error; false when out of memory (e unchanged). */
bool queue_entry_set_error(struct entry *e, const char *reason);

/* Write "key value\n" to f, control characters in value (NULL: empty)
 * replaced by spaces, so that a value cannot start a line of its own.  Also
 * used for the .reason files of the failed-mail store. */
void queue_put_line(FILE *f, const char *key, const char *value);

/* ---- queue.c: entries on disk ------------------------------------- */

/* Rewrite <dir>/<id>.env atomically (dir: the name, for messages). */
bool queue_entry_save(int dirfd, const char *dir, const struct entry *e, struct result *r);

/* Seconds until the next attempt after `attempts` attempts (with jitter). */
long long queue_backoff(unsigned attempts);

/* Every complete entry of the directory, by account then age; damaged,
 * planted or refused ones are reported on stderr and skipped (left alone). */
bool queue_scan(int dirfd, const char *dir, struct entry_list *list, struct result *r);

void queue_list_free(struct entry_list *list);

#endif
