/* relaymail -q: deliver the due queue entries, one SMTP session per
 * account (RSET between messages), with backoff, lifetime and partial
 * refusals (entry format: queue.c). */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "credentials.h"
#include "deliver.h"
#include "eventlog.h"
#include "i18n.h"
#include "log.h"
#include "notice.h"
#include "pool.h"
#include "queue.h"
#include "queue_entry.h"

/* ---- flush -------------------------------------------------------------- */

struct flush {
	const struct config *cfg;
	const char *dir;
	int dirfd;              /* the queue directory, checked once (queue_dir_open) */
	bool force, verbose;
	const char *failed_dir; /* NULL: the account's (queue_paths()) */
	struct pool *pool;      /* the service's warm sessions, for pool_account */
	const char *pool_account;
	long long now;
	struct eventlog log;    /* of the account being flushed */
	/* Notices (notice.h) made while flushing one account, sent after its
	 * entries through the same account. */
	struct notice *notices;
	size_t n_notices, cap_notices;
};

/* A notice about entry e (its message msg): to the sender or the
 * account's admin_address; made now (the entry is about to go), sent by
 * send_notices().  Never for an unknown account: nothing could send it. */
static void make_notice(struct flush *fl, const struct account *acct, const struct entry *e,
			const struct envelope *env, const struct message *msg,
			const struct notice_failure *failed, size_t n_failed, const char *reason,
			const char *kept)
{
	struct notice_about about = { .env = env, .msg = msg, .failed = failed,
				      .n_failed = n_failed, .reason = reason, .kept = kept };
	const char *to = notice_recipient(acct, env, msg);
	struct result r;

	result_clear(&r);
	if (to == NULL)
		return;
	if (acct == NULL) {
		log_error(_("queue: %s: no notice to <%s>: the account cannot be used"), e->id, to);
		return;
	}
	if (fl->n_notices == fl->cap_notices) {
		size_t cap = fl->cap_notices ? 2 * fl->cap_notices : 4;
		struct notice *grown = realloc(fl->notices, cap * sizeof *grown);

		if (grown == NULL) {
			log_error(_("queue: %s: no notice to <%s>: out of memory"), e->id, to);
			return;
		}
		fl->notices = grown;
		fl->cap_notices = cap;
	}
	if (!notice_build(&about, to, fl->dir, &fl->notices[fl->n_notices], &r)) {
		log_error(_("queue: %s: no notice to <%s>: %s"), e->id, to, r.msg);
		return;
	}
	fl->n_notices++;
}

/* Every recipient of e failed for one reason. */
static void notice_all(struct flush *fl, const struct account *acct, const struct entry *e,
		       const struct message *msg, const char *reason, const char *kept)
{
	struct notice_failure failed[SMTP_REFUSALS_KEPT];
	size_t n = 0;

	for (; n < e->env.recipients.n && n < SMTP_REFUSALS_KEPT; n++)
		failed[n] = (struct notice_failure){ e->env.recipients.items[n], NULL };
	make_notice(fl, acct, e, &e->env, msg, failed, n, reason, kept);
}

/* The failed-mail store for the entries of acct; false (r set) when it
 * has none (no safe home directory and no failed_dir). */
static bool failed_store(const struct flush *fl, const struct account *acct, char *dir,
			 size_t size, struct result *r)
{
	char queue_dir[PATH_MAX];

	if (fl->failed_dir == NULL)
		return queue_paths(acct, queue_dir, dir, size, r) || *dir != '\0';
	snprintf(dir, size, "%s", fl->failed_dir);
	return true;
}

static void queue_event(struct flush *fl, const char *kind, const struct account *acct,
			const struct entry *e, const char *tls, const char *auth, const char *reply)
{
	struct event ev = {
		.kind = kind, .queue_id = e->id, .message_id = e->message_id, .env = &e->env,
		.acct = acct, .tls = tls, .auth = auth, .size = (long long)e->size, .reply = reply,
	};

	eventlog_write(&fl->log, &ev);
}

/* The .env goes first: without it the .msg is a stray, never an entry. */
static void remove_entry(struct flush *fl, const char *id)
{
	char name[QUEUE_ID_MAX + 8];

	snprintf(name, sizeof name, "%s.env", id);
	if (unlinkat(fl->dirfd, name, 0) != 0 && errno != ENOENT) {
		log_error(_("queue: cannot remove %s: %s"), name, strerror(errno));
		return;
	}
	snprintf(name, sizeof name, "%s.msg", id);
	unlinkat(fl->dirfd, name, 0);
	queue_fsync_dir(fl->dirfd);
}

/* msg is always initialized, so message_free() is safe after a failure. */
static bool open_message(struct flush *fl, const struct entry *e, struct message *msg,
			 struct result *r)
{
	char name[QUEUE_ID_MAX + 8];
	struct stat st;
	int fd;

	memset(msg, 0, sizeof *msg);
	msg->spool_fd = -1;
	snprintf(name, sizeof name, "%s.msg", e->id);
	fd = queue_open_file(fl->dirfd, name, false, &st, r);
	return fd >= 0 && message_adopt(fd, e->env.body_8bit, msg, r);
}

/* Permanent failure: the message moves to the failed-mail store; it leaves
 * the queue only once the copy there is safe. */
static void fail_entry(struct flush *fl, const struct account *acct, struct entry *e,
		       const char *reason)
{
	char failed_dir[PATH_MAX], kept[PATH_MAX];
	struct message msg;
	struct result r;

	result_clear(&r);
	if (!failed_store(fl, acct, failed_dir, sizeof failed_dir, &r)) {
		log_error(_("queue: %s failed (%s) and cannot be kept: %s; it stays queued"), e->id,
			  reason, r.msg);
		return;
	}
	if (!open_message(fl, e, &msg, &r) ||
	    !queue_keep_failed(failed_dir, &e->env, &msg, reason, kept, sizeof kept, &r)) {
		log_error(_("queue: %s failed (%s) and cannot be moved to %s: %s; it stays queued"),
			  e->id, reason, failed_dir, r.msg);
		message_free(&msg);
		return;
	}
	notice_all(fl, acct, e, &msg, reason, kept);
	message_free(&msg);
	queue_event(fl, "failed", acct, e, NULL, NULL, reason);
	remove_entry(fl, e->id);
	log_error(_("queue: %s to <%s> failed permanently: %s; message kept in %s"), e->id,
		  e->env.recipients.items[0], reason, kept);
}

/* Temporary failure: try again later, or give up after queue_lifetime. */
static void defer_entry(struct flush *fl, const struct account *acct, struct entry *e,
			const char *reason)
{
	unsigned lifetime = acct ? acct->queue_lifetime : CONFIG_DEFAULT_QUEUE_LIFETIME;
	struct result r;
	char why[RESULT_MSG_MAX + 64];

	if (fl->now - e->created > (long long)lifetime) {
		snprintf(why, sizeof why, _("undeliverable for %u days: %s"), lifetime / 86400, reason);
		fail_entry(fl, acct, e, why);
		return;
	}
	e->attempts++;
	e->next = fl->now + queue_backoff(e->attempts);
	queue_entry_set_error(e, reason);
	if (!queue_entry_save(fl->dirfd, fl->dir, e, &r))
		log_error(_("queue: cannot update %s: %s"), e->id, r.msg);
	queue_event(fl, "deferred", acct, e, NULL, NULL, reason);
}

/* The relay's own reply to recipient i of out, or NULL. */
static const char *refusal_of(const struct smtp_outcome *out, size_t i)
{
	for (size_t k = 0; k < out->n_refusals && k < SMTP_REFUSALS_KEPT; k++) {
		if (out->refusals[k].rcpt == i)
			return out->refusals[k].text;
	}
	return NULL;
}

/* The refused recipients' copy in the failed-mail store, and the notice
 * about them; false (logged) when the copy cannot be kept. */
static bool keep_refused(struct flush *fl, const struct account *acct, const struct entry *e,
			 const struct envelope *refused, const struct message *msg,
			 const struct smtp_outcome *out, char *why, size_t why_size)
{
	char failed_dir[PATH_MAX], kept[PATH_MAX];
	struct notice_failure failed[SMTP_REFUSALS_KEPT];
	const char *rejection = out->rejection;
	size_t n = 0;
	struct result r;

	result_clear(&r);
	if (failed_store(fl, acct, failed_dir, sizeof failed_dir, &r) &&
	    queue_keep_failed(failed_dir, refused, msg, rejection, kept, sizeof kept, &r)) {
		log_error(_("queue: %s: %s; message kept in %s"), e->id, rejection, kept);
		for (size_t i = 0; i < e->env.recipients.n && i < SMTP_MAX_STATUS; i++) {
			if (out->rcpt_status[i] == 5 && n < SMTP_REFUSALS_KEPT)
				failed[n++] = (struct notice_failure){ e->env.recipients.items[i],
								       refusal_of(out, i) };
		}
		make_notice(fl, acct, e, refused, msg, failed, n, rejection, kept);
		return true;
	}
	log_error(_("queue: %s: %s; the copy for the refused recipients cannot be kept (%s): "
		    "they stay queued"), e->id, rejection, r.msg);
	snprintf(why, why_size, _("%s; not kept in the failed-mail store: %s"), rejection, r.msg);
	return false;
}

/* Delivered to some recipients: they leave the entry.  The permanently
 * refused ones go to the failed-mail store; the temporarily refused ones,
 * and the refused ones whose copy could not be kept, stay queued (a
 * refused recipient never got the message, so sending to it again is no
 * duplicate; it is refused again and kept then, or given up after
 * queue_lifetime).  Nothing leaves the queue before its copy is safe. */
static void partial_entry(struct flush *fl, const struct account *acct, struct entry *e,
			  const struct message *msg, const struct smtp_outcome *out)
{
	struct address_list later = { 0 };
	struct envelope refused = e->env;
	char why[RESULT_MSG_MAX + 64];
	bool ok = true;
	struct result r;

	snprintf(why, sizeof why, "%s", out->temp_rejection[0] ? out->temp_rejection : out->rejection);
	memset(&refused.recipients, 0, sizeof refused.recipients);
	for (size_t i = 0; ok && i < e->env.recipients.n; i++) {
		const char *rcpt = e->env.recipients.items[i];
		/* Anything but a clear yes or a clear no is "not yet". */
		int status = i < SMTP_MAX_STATUS ? out->rcpt_status[i] : 4;

		if (status == 5)
			ok = address_list_add(&refused.recipients, rcpt, &r);
		else if (status != 0)
			ok = address_list_add(&later, rcpt, &r);
	}
	if (ok && refused.recipients.n > 0 &&
	    !keep_refused(fl, acct, e, &refused, msg, out, why, sizeof why)) {
		for (size_t i = 0; ok && i < refused.recipients.n; i++)
			ok = address_list_add(&later, refused.recipients.items[i], &r);
	}
	address_list_free(&refused.recipients);
	if (!ok) {
		/* Out of memory: leave the entry as it is (a duplicate later
		 * rather than a loss now). */
		log_error(_("queue: %s: %s"), e->id, r.msg);
		address_list_free(&later);
		return;
	}
	if (later.n == 0) {
		remove_entry(fl, e->id);
		return;
	}
	address_list_free(&e->env.recipients);
	e->env.recipients = later;
	defer_entry(fl, acct, e, why);
}

struct relay_link {
	struct conn conn;
	struct smtp_session *session;
	struct smtp_outcome outcome;
};

static bool link_open(struct flush *fl, const struct account *acct, const struct secret *secret,
		      const char *domain, struct relay_link *l, struct result *r)
{
	memset(l, 0, sizeof *l);
	l->conn.fd = -1;
	if (deliver_connect(acct, fl->verbose, &l->conn, r) &&
	    smtp_open(&l->conn, acct, secret, domain, &l->session, &l->outcome, r))
		return true;
	conn_close(&l->conn);
	return false;
}

static void link_close(struct relay_link *l)
{
	smtp_close(l->session);
	l->session = NULL;
	conn_close(&l->conn);
}

/* Over the flush's own link, or a warm session of the service's pool. */
static bool send_entry(struct flush *fl, struct relay_link *link, const struct entry *e,
		       const struct message *msg, bool last, struct smtp_outcome *out,
		       struct result *r)
{
	if (link == NULL)
		return pool_send(fl->pool, &e->env, msg, out, r);
	return smtp_send(link->session, &e->env, msg, last, out, r);
}

/* One entry over the open link (NULL: the pool). */
static void flush_one(struct flush *fl, const struct account *acct, struct relay_link *link,
		      struct entry *e, bool last)
{
	struct smtp_outcome out;
	struct message msg;
	struct result r;

	result_clear(&r);
	if (!open_message(fl, e, &msg, &r)) {
		/* Checked by the scan a moment ago: a file changed under us or
		 * an I/O error.  Not sent; retried with backoff, reported. */
		log_error(_("queue: %s: the message cannot be read (%s); it stays queued"), e->id,
			  r.msg);
		message_free(&msg);
		defer_entry(fl, acct, e, r.msg);
		return;
	}
	if (send_entry(fl, link, e, &msg, last, &out, &r)) {
		queue_event(fl, "delivered", acct, e, out.tls, out.auth_mechanism, out.final_reply);
		if (out.n_rejected > 0)
			partial_entry(fl, acct, e, &msg, &out);
		else
			remove_entry(fl, e->id);
	} else if (r.cls == RESULT_TEMPFAIL) {
		defer_entry(fl, acct, e, r.msg);
	} else {
		fail_entry(fl, acct, e, r.msg);
	}
	message_free(&msg);
}

/* One notice over the pool (link NULL) or the flush's link, opened anew
 * when it is closed or not clean (the last entry went with QUIT in view). */
static bool send_notice(struct flush *fl, const struct account *acct, const struct secret *secret,
			struct relay_link *link, bool *connected, bool *clean, struct notice *n,
			bool last, struct result *r)
{
	struct smtp_outcome out;

	if (link == NULL)
		return pool_send(fl->pool, &n->env, &n->msg, &out, r);
	if (!*connected || !*clean || !smtp_session_usable(link->session)) {
		if (*connected)
			link_close(link);
		*connected = link_open(fl, acct, secret, n->env.domain, link, r);
		*clean = true;
		if (!*connected)
			return false;
	}
	return smtp_send(link->session, &n->env, &n->msg, last, &out, r);
}

/* The notices made while flushing the account's entries go through the
 * same account.  Each is sent once: a failure is logged, never queued
 * (a relay that is down gets one attempt for all of them). */
static void send_notices(struct flush *fl, const struct account *acct, const struct secret *secret,
			 struct relay_link *link, bool *connected, bool clean)
{
	struct result r;
	bool down = false;

	result_clear(&r);
	for (size_t k = 0; k < fl->n_notices; k++) {
		struct notice *n = &fl->notices[k];
		const char *to = n->env.recipients.items[0];

		if (!down && send_notice(fl, acct, secret, link, connected, &clean, n,
					 k + 1 == fl->n_notices, &r))
			log_info(_("queue: a notice of undelivered mail went to <%s>"), to);
		else
			log_error(_("queue: the notice to <%s> could not be sent: %s"), to, r.msg);
		down = down || (link != NULL && !*connected);
		notice_free(n);
	}
	fl->n_notices = 0;
}

/* Entries [0, n) all belong to one account: one login for all of them
 * (and for the notices about them: send_notices()). */
static void flush_account(struct flush *fl, struct entry *e, size_t n)
{
	struct account acct;
	struct secret secret = { NULL, 0, NULL };
	struct relay_link link = { .conn.fd = -1 };
	bool connected = false, last = false;
	struct result r;

	result_clear(&r);
	eventlog_init(&fl->log, NULL);
	if (config_account_resolve(fl->cfg, e[0].account, &acct, &r))
		eventlog_init(&fl->log, &acct);
	eventlog_set_user(&fl->log, NULL);
	if (r.cls == RESULT_OK && fl->pool != NULL && strcmp(acct.name, fl->pool_account) == 0) {
		for (size_t i = 0; i < n; i++) {
			eventlog_set_user(&fl->log, e[i].user);
			flush_one(fl, &acct, NULL, &e[i], false);
		}
		send_notices(fl, &acct, NULL, NULL, NULL, true);
		return;
	}
	if (r.cls != RESULT_OK ||
	    !credentials_get(&acct, &secret, &r)) {
		for (size_t i = 0; i < n; i++)
			defer_entry(fl, NULL, &e[i], r.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!connected || !smtp_session_usable(link.session)) {
			if (connected)
				link_close(&link);
			connected = link_open(fl, &acct, &secret, e[i].env.domain, &link, &r);
			if (!connected) {
				for (; i < n; i++)
					defer_entry(fl, &acct, &e[i], r.msg);
				break;
			}
		}
		eventlog_set_user(&fl->log, e[i].user);
		/* QUIT goes with the last message unless notices follow. */
		last = i + 1 == n && fl->n_notices == 0;
		flush_one(fl, &acct, &link, &e[i], last);
	}
	send_notices(fl, &acct, &secret, &link, &connected, !last);
	if (connected)
		link_close(&link);
	secret_wipe(&secret);
}

/* A .msg whose .env never arrived is what a crash leaves behind; only our
 * own regular files are removed (never what someone else put there). */
static void remove_strays(int dirfd, long long now)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	struct stat st;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		bool msg = len > 4 && strcmp(de->d_name + len - 4, ".msg") == 0;
		bool tmp = strncmp(de->d_name, ".tmp-", 5) == 0;
		char env[NAME_MAX + 1];

		if (!msg && !tmp)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != geteuid() || now - st.st_mtime < 3600)
			continue;
		snprintf(env, sizeof env, "%.*s.env", (int)(len - 4), de->d_name);
		if (msg && fstatat(dirfd, env, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		unlinkat(dirfd, de->d_name, 0);
	}
	closedir(d);
}

/* The lock: a regular file of ours (never a planted link). */
static int open_lock(int dirfd, const char *dir, struct result *r)
{
	struct stat st;
	int fd = queue_open_file(dirfd, ".lock", true, &st, r);

	if (fd < 0) {
		char shown[256];

		result_prefix(r, log_escape(shown, sizeof shown, dir));
	}
	return fd;
}

bool queue_flush(const struct config *cfg, const char *dir, bool force, bool verbose,
		 struct result *r)
{
	struct queue_flush_opts opts = { .force = force, .verbose = verbose };

	return queue_flush_with(cfg, dir, &opts, r);
}

bool queue_flush_with(const struct config *cfg, const char *dir,
		      const struct queue_flush_opts *opts, struct result *r)
{
	struct flush fl = { .cfg = cfg, .dir = dir, .dirfd = -1, .force = opts->force,
			    .verbose = opts->verbose, .failed_dir = opts->failed_dir,
			    .pool = opts->pool, .pool_account = opts->pool_account,
			    .now = (long long)time(NULL) };
	bool force = opts->force;
	struct entry_list list = { NULL, 0 };
	size_t start = 0, kept = 0;
	bool ok = false;
	int lock = -1;

	/* A queue we do not own is refused: its entries could be anyone's. */
	if (!queue_dir_open(dir, false, &fl.dirfd, r))
		return false;
	if (fl.dirfd < 0)
		return true;    /* nothing was ever queued */
	lock = open_lock(fl.dirfd, dir, r);
	if (lock < 0)
		goto out;
	ok = true;
	if (flock(lock, LOCK_EX | (opts->wait_for_lock ? 0 : LOCK_NB)) != 0)
		goto out;       /* another flush is running: it will do the work */
	remove_strays(fl.dirfd, fl.now);
	ok = queue_scan(fl.dirfd, dir, &list, r);
	/* Only due entries take part (all with force); grouped by account. */
	for (size_t i = 0; i < list.n; i++) {
		if (force || list.items[i].next <= fl.now)
			list.items[kept++] = list.items[i];
		else
			queue_entry_free(&list.items[i]);
	}
	list.n = kept;
	for (size_t i = 1; i <= list.n; i++) {
		if (i == list.n || strcmp(list.items[i].account, list.items[start].account) != 0) {
			flush_account(&fl, &list.items[start], i - start);
			start = i;
		}
	}
	queue_list_free(&list);
	free(fl.notices);
out:
	if (lock >= 0)
		close(lock);
	close(fl.dirfd);
	return ok;
}
