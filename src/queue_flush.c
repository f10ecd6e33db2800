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
#include "queue.h"
#include "queue_entry.h"

/* ---- flush -------------------------------------------------------------- */

struct flush {
	const struct config *cfg;
	const char *dir;
	bool force, verbose;
	long long now;
	struct eventlog log;    /* of the account being flushed */
};

static void queue_event(struct flush *fl, const char *kind, const struct account *acct,
			const struct entry *e, const char *tls, const char *auth, const char *reply)
{
	struct event ev = {
		.kind = kind, .queue_id = e->id, .message_id = e->message_id, .env = &e->env,
		.acct = acct, .tls = tls, .auth = auth, .size = (long long)e->size, .reply = reply,
	};

	eventlog_write(&fl->log, &ev);
}

static void remove_entry(const char *dir, const char *id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s.env", dir, id);
	unlink(path);
	snprintf(path, sizeof path, "%s/%s.msg", dir, id);
	unlink(path);
	queue_fsync_dir(dir);
}

static bool open_message(const char *dir, const struct entry *e, struct message *msg,
			 struct result *r)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/%s.msg", dir, e->id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return result_fail(r, RESULT_CANTCREAT, _("cannot open %s: %s"), path, strerror(errno));
	return message_adopt(fd, e->env.body_8bit, msg, r);
}

/* Permanent failure: the message moves to the failed-mail store. */
static void fail_entry(struct flush *fl, const struct account *acct, struct entry *e,
		       const char *reason)
{
	char queue_dir[PATH_MAX], failed_dir[PATH_MAX], kept[PATH_MAX];
	struct message msg;
	struct result r;

	queue_paths(acct, queue_dir, failed_dir, sizeof failed_dir, &r);
	if (!open_message(fl->dir, e, &msg, &r) ||
	    !queue_keep_failed(failed_dir, &e->env, &msg, reason, kept, sizeof kept, &r)) {
		log_error(_("queue: %s failed (%s) and cannot be moved to %s: %s; it stays queued"),
			  e->id, reason, failed_dir, r.msg);
		message_free(&msg);
		return;
	}
	message_free(&msg);
	queue_event(fl, "failed", acct, e, NULL, NULL, reason);
	remove_entry(fl->dir, e->id);
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
	if (!queue_entry_save(fl->dir, e, &r))
		log_error(_("queue: cannot update %s: %s"), e->id, r.msg);
	queue_event(fl, "deferred", acct, e, NULL, NULL, reason);
}

/* Delivered to some recipients: the permanently refused ones go to the
 * failed-mail store, the temporarily refused ones stay queued alone. */
static void partial_entry(struct flush *fl, const struct account *acct, struct entry *e,
			  const struct message *msg, const struct smtp_outcome *out)
{
	char queue_dir[PATH_MAX], failed_dir[PATH_MAX], kept[PATH_MAX];
	struct address_list later = { 0 };
	struct envelope refused = e->env;
	struct result r;

	memset(&refused.recipients, 0, sizeof refused.recipients);
	for (size_t i = 0; i < e->env.recipients.n && i < SMTP_MAX_STATUS; i++) {
		const char *rcpt = e->env.recipients.items[i];

		if (out->rcpt_status[i] == 4)
			address_list_add(&later, rcpt, &r);
		else if (out->rcpt_status[i] == 5)
			address_list_add(&refused.recipients, rcpt, &r);
	}
	if (refused.recipients.n > 0) {
		queue_paths(acct, queue_dir, failed_dir, sizeof failed_dir, &r);
		if (queue_keep_failed(failed_dir, &refused, msg, out->rejection, kept, sizeof kept, &r))
			log_error(_("queue: %s: %s; message kept in %s"), e->id, out->rejection, kept);
		else
			log_error(_("queue: %s: %s"), e->id, out->rejection);
	}
	address_list_free(&refused.recipients);
	if (later.n == 0) {
		remove_entry(fl->dir, e->id);
		return;
	}
	address_list_free(&e->env.recipients);
	e->env.recipients = later;
	defer_entry(fl, acct, e, out->temp_rejection);
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

/* Entries [0, n) all belong to one account: one login for all of them. */
static void flush_account(struct flush *fl, struct entry *e, size_t n)
{
	struct account acct;
	struct secret secret = { NULL, 0 };
	struct relay_link link = { .conn.fd = -1 };
	bool connected = false;
	struct result r;

	result_clear(&r);
	eventlog_init(&fl->log, NULL);
	if (config_account_resolve(fl->cfg, e[0].account, &acct, &r))
		eventlog_init(&fl->log, &acct);
	if (r.cls != RESULT_OK ||
	    !credentials_get(&acct, &secret, &r)) {
		for (size_t i = 0; i < n; i++)
			defer_entry(fl, NULL, &e[i], r.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct smtp_outcome out;
		struct message msg;

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
		if (!open_message(fl->dir, &e[i], &msg, &r)) {
			log_error("queue: %s", r.msg);
			continue;
		}
		if (smtp_send(link.session, &e[i].env, &msg, i + 1 == n, &out, &r)) {
			queue_event(fl, "delivered", &acct, &e[i], out.tls, out.auth_mechanism,
				    out.final_reply);
			if (out.n_rejected > 0)
				partial_entry(fl, &acct, &e[i], &msg, &out);
			else
				remove_entry(fl->dir, e[i].id);
		} else if (r.cls == RESULT_TEMPFAIL) {
			defer_entry(fl, &acct, &e[i], r.msg);
		} else {
			fail_entry(fl, &acct, &e[i], r.msg);
		}
		message_free(&msg);
	}
	if (connected)
		link_close(&link);
	secret_wipe(&secret);
}

/* A .msg whose .env never arrived is what a crash leaves behind. */
static void remove_strays(const char *dir, long long now)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];
	struct stat st;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		bool msg = len > 4 && strcmp(de->d_name + len - 4, ".msg") == 0;
		bool tmp = strncmp(de->d_name, ".tmp-", 5) == 0;

		if (!msg && !tmp)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0 || now - st.st_mtime < 3600)
			continue;
		if (msg) {
			char env[PATH_MAX];

			snprintf(env, sizeof env, "%.*s.env", (int)(strlen(path) - 4), path);
			if (access(env, F_OK) == 0)
				continue;
		}
		unlink(path);
	}
	closedir(d);
}

bool queue_flush(const struct config *cfg, const char *dir, bool force, bool verbose,
		 struct result *r)
{
	struct flush fl = { .cfg = cfg, .dir = dir, .force = force, .verbose = verbose,
			    .now = (long long)time(NULL) };
	struct entry_list list;
	char lock_path[PATH_MAX];
	size_t start = 0, kept = 0;
	int lock;

	snprintf(lock_path, sizeof lock_path, "%s/.lock", dir);
	lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock < 0)
		return errno == ENOENT ||
		       result_fail(r, RESULT_CANTCREAT, _("cannot open %s: %s"), lock_path, strerror(errno));
	if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
		close(lock);    /* another flush is running: it will do the work */
		return true;
	}
	remove_strays(dir, fl.now);
	if (!queue_scan(dir, &list, r)) {
		close(lock);
		return false;
	}
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
	close(lock);
	return true;
}
