/* Durable queue and failed-mail store.
 *
 * Queue entry format (directory queue_dir, one entry = two files):
 *
 *   <id>.msg  the message exactly as it goes on the wire before
 *             dot-stuffing (CRLF lines, header fix-ups already applied, so a
 *             retry sends the same Message-ID and Date);
 *   <id>.env  the envelope and state, UTF-8 text, one "key value" per line
 *             (the keys: see the top of queue_entry.c).
 *
 * <id> is "<unix time>.<pid>.<8 hex random>".  Each file is written to a
 * name starting with "." in the same directory, fsynced, renamed, and the
 * directory fsynced; .msg first, .env last.  An entry exists once its .env
 * exists: a crash leaves no entry or a complete one (a stray .msg without
 * .env is removed by the next flush after an hour).  Updates rewrite .env
 * the same way; removal unlinks .env first.  A flush holds flock() on
 * <queue_dir>/.lock so two flushes never send the same entry.
 *
 * Reading is strict, because another user may have made the directory (the
 * /var/tmp fallback) or planted files in it: the directory and its files
 * are checked by queue_dir.c (queue_dir_open, queue_open_file) and a .env is
 * parsed as untrusted text by queue_entry.c (queue_entry_parse).  A refused
 * entry is reported and left in place, never sent and never deleted.  The
 * writer checks its text with the same parser, so it never writes an entry
 * that the next flush would refuse.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "i18n.h"
#include "log.h"
#include "queue.h"
#include "queue_entry.h"

#define BACKOFF_FIRST 300
#define BACKOFF_MAX (4 * 3600)

/* ---- where the queue lives ---------------------------------------------- */

/* A home under a web root would publish queued mail (www-data: /var/www). */
static bool home_is_safe(const char *home)
{
	struct stat st;

	if (home == NULL || home[0] != '/' || strcmp(home, "/") == 0 ||
	    strncmp(home, "/var/www", 8) == 0 || strncmp(home, "/srv", 4) == 0 ||
	    strcmp(home, "/nonexistent") == 0)
		return false;
	return stat(home, &st) == 0 && st.st_uid == geteuid();
}

/* $XDG_STATE_HOME/relaymail or ~/.local/state/relaymail; false when the
 * home directory cannot hold mail (missing, not ours, web-served): there
 * is no shared fallback such as /var/tmp, which another user could
 * prepare and which PrivateTmp= services lose when they stop. */
static bool state_base(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg != NULL && xdg[0] == '/' && (home == NULL || strncmp(xdg, home, strlen(home)) != 0 ||
					     home_is_safe(home)))
		n = snprintf(buf, size, "%s/relaymail", xdg);
	else if (home_is_safe(home))
		n = snprintf(buf, size, "%s/.local/state/relaymail", home);
	else
		return false;
	return n > 0 && (size_t)n < size;
}

bool queue_paths(const struct account *acct, char *queue_dir, char *failed_dir, size_t size,
		 struct result *r)
{
	char base[PATH_MAX - 16];
	bool have_base = state_base(base, sizeof base);

	queue_dir[0] = failed_dir[0] = '\0';
	if (acct != NULL && acct->queue_dir != NULL)
		snprintf(queue_dir, size, "%s", acct->queue_dir);
	else if (have_base)
		snprintf(queue_dir, size, "%s/queue", base);
	if (acct != NULL && acct->failed_dir != NULL)
		snprintf(failed_dir, size, "%s", acct->failed_dir);
	else if (have_base)
		snprintf(failed_dir, size, "%s/failed", base);
	if (*queue_dir && *failed_dir)
		return true;
	return result_fail(r, RESULT_CANTCREAT,
			   _("no safe place for queued and kept mail: the home directory (%s) is missing, not yours or web-served; set queue_dir and failed_dir in the account, or send through the system service ([service] in the system file)"),
			   getenv("HOME") ? getenv("HOME") : _("unset"));
}

/* ---- atomic files ------------------------------------------------------- */

static bool make_id(char *id, size_t size)
{
	uint32_t random;

	if (gnutls_rnd(GNUTLS_RND_NONCE, &random, sizeof random) != 0)
		return false;
	snprintf(id, size, "%lld.%ld.%08x", (long long)time(NULL), (long)getpid(), random);
	return true;
}

/* "<dir>/<name>" made printable, for messages. */
static const char *file_shown(char *buf, size_t size, const char *dir, const char *name)
{
	char joined[PATH_MAX];

	snprintf(joined, sizeof joined, "%s/%s", dir, name);
	return log_escape(buf, size, joined);
}

typedef bool (*content_writer)(int fd, const void *data, struct result *r);

/* Write <name> in dirfd through a hidden temporary name (dir: for messages). */
static bool write_atomic(int dirfd, const char *dir, const char *name, content_writer writer,
			 const void *data, struct result *r)
{
	char tmp[QUEUE_ID_MAX + 32], shown[SHOWN_PATH];
	bool ok;
	int fd, err;

	snprintf(tmp, sizeof tmp, ".tmp-%s", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = errno;
		return result_fail(r, RESULT_CANTCREAT, _("cannot create %s: %s"),
				   file_shown(shown, sizeof shown, dir, tmp), strerror(err));
	}
	if (!writer(fd, data, r)) {
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return false;
	}
	ok = fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	ok = ok && renameat(dirfd, tmp, dirfd, name) == 0;
	if (!ok) {
		err = errno;
		unlinkat(dirfd, tmp, 0);
		return result_fail(r, RESULT_CANTCREAT, _("cannot write %s: %s"),
				   file_shown(shown, sizeof shown, dir, tmp), strerror(err));
	}
	if (!queue_fsync_dir(dirfd)) {
		err = errno;
		return result_fail(r, RESULT_CANTCREAT, _("cannot sync %s: %s"),
				   log_escape(shown, sizeof shown, dir), strerror(err));
	}
	return true;
}

static bool write_message(int fd, const void *data, struct result *r)
{
	return message_write_content(data, fd, r);
}

static bool write_text(int fd, const void *data, struct result *r)
{
	return message_write_all(fd, data, strlen(data), r);
}

/* ---- entries on disk ------------------------------------------------------ */

static bool read_all(int fd, char *buf, size_t size, size_t *got)
{
	*got = 0;
	while (*got < size) {
		ssize_t n = read(fd, buf + *got, size - *got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return true;
}

static bool load_entry(int dirfd, const char *id, struct entry *e, struct result *r)
{
	char name[QUEUE_ID_MAX + 8], *text = NULL;
	struct stat st;
	size_t got = 0;
	bool ok = false;
	int fd;

	memset(e, 0, sizeof *e);
	snprintf(name, sizeof name, "%s.env", id);
	fd = queue_open_file(dirfd, name, false, &st, r);
	if (fd < 0)
		return false;
	if (st.st_size > QUEUE_META_MAX) {
		result_fail(r, RESULT_CANTCREAT, _("%s is too large"), name);
		goto out;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL ||
	    !read_all(fd, text, (size_t)st.st_size, &got)) {
		result_fail(r, RESULT_CANTCREAT, _("cannot read %s"), name);
		goto out;
	}
	close(fd);
	fd = -1;
	if (!queue_entry_parse(text, got, e, r)) {
		result_prefix(r, name);
		goto out;
	}
	snprintf(e->id, sizeof e->id, "%s", id);
	snprintf(name, sizeof name, "%s.msg", id);
	fd = queue_open_file(dirfd, name, false, &st, r);
	ok = fd >= 0;
	e->size = ok ? st.st_size : 0;
out:
	if (fd >= 0)
		close(fd);
	free(text);
	if (!ok)
		queue_entry_free(e);
	return ok;
}

bool queue_entry_save(int dirfd, const char *dir, const struct entry *e, struct result *r)
{
	char name[QUEUE_ID_MAX + 8], *text = queue_entry_format(e);
	struct entry check;
	struct result why;
	bool ok;

	if (text == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	/* Never write an entry that the next flush would refuse to read. */
	if (!queue_entry_parse(text, strlen(text), &check, &why)) {
		free(text);
		return result_fail(r, why.cls == RESULT_OSERR ? RESULT_OSERR : RESULT_CANTCREAT,
				   _("cannot write queue entry %s: %s"), e->id, why.msg);
	}
	queue_entry_free(&check);
	snprintf(name, sizeof name, "%s.env", e->id);
	ok = write_atomic(dirfd, dir, name, write_text, text, r);
	free(text);
	return ok;
}

static bool copy_envelope(struct entry *e, const struct envelope *env, struct result *r)
{
	e->env.sender = strdup(env->sender);
	e->env.domain = strdup(env->domain);
	for (size_t i = 0; i < env->recipients.n; i++) {
		if (!address_list_add(&e->env.recipients, env->recipients.items[i], r))
			return false;
	}
	e->env.body_8bit = env->body_8bit;
	e->env.allow_partial = true;
	e->env.needs_smtputf8 = env->needs_smtputf8;
	e->env.smtputf8 = env->smtputf8;
	e->dsn[0] = env->dsn_notify ? strdup(env->dsn_notify) : NULL;
	e->dsn[1] = env->dsn_ret ? strdup(env->dsn_ret) : NULL;
	e->dsn[2] = env->dsn_envid ? strdup(env->dsn_envid) : NULL;
	e->env.dsn_notify = e->dsn[0];
	e->env.dsn_ret = e->dsn[1];
	e->env.dsn_envid = e->dsn[2];
	return (e->env.sender && e->env.domain) || result_fail(r, RESULT_OSERR, _("out of memory"));
}

long long queue_backoff(unsigned attempts)
{
	long long delay = BACKOFF_FIRST;
	uint16_t jitter = 0;

	for (unsigned i = 1; i < attempts && delay < BACKOFF_MAX; i++)
		delay *= 2;
	if (delay > BACKOFF_MAX)
		delay = BACKOFF_MAX;
	/* +-20 % so that many queued messages do not retry in lockstep. */
	gnutls_rnd(GNUTLS_RND_NONCE, &jitter, sizeof jitter);
	return delay * 8 / 10 + (long long)(jitter % (delay * 4 / 10 + 1));
}

static bool new_entry(struct entry *e, const struct account *acct, const struct envelope *env,
		      const struct message *msg, const char *user, const char *last_error,
		      struct result *r)
{
	char msgid[256];

	memset(e, 0, sizeof *e);
	if (!make_id(e->id, sizeof e->id))
		return result_fail(r, RESULT_OSERR, _("no random numbers"));
	if (user != NULL && (e->user = strdup(user)) == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	e->account = strdup(acct->name);
	if (*message_id(msg, msgid, sizeof msgid))
		e->message_id = strdup(msgid);
	e->created = (long long)time(NULL);
	e->attempts = 1;
	e->next = e->created + queue_backoff(1);
	return ((e->account && queue_entry_set_error(e, last_error)) ||
		result_fail(r, RESULT_OSERR, _("out of memory"))) &&
	       copy_envelope(e, env, r);
}

bool queue_store(const char *dir, const struct account *acct, const struct envelope *env,
		 const struct message *msg, const char *user, const char *last_error, char *id,
		 size_t id_size, struct result *r)
{
	struct entry e;
	char name[QUEUE_ID_MAX + 8];
	bool ok;
	int dirfd;

	memset(&e, 0, sizeof e);
	if (!queue_dir_open(dir, true, &dirfd, r))
		return false;
	ok = new_entry(&e, acct, env, msg, user, last_error, r);
	snprintf(name, sizeof name, "%s.msg", e.id);
	if (ok && write_atomic(dirfd, dir, name, write_message, msg, r)) {
		ok = queue_entry_save(dirfd, dir, &e, r);
		if (!ok)
			unlinkat(dirfd, name, 0);
	} else {
		ok = false;
	}
	snprintf(id, id_size, "%s", e.id);
	queue_entry_free(&e);
	close(dirfd);
	return ok;
}

/* ---- failed-mail store -------------------------------------------------- */

static char *format_reason(const struct envelope *env, const char *reason)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	queue_put_line(f, "reason", reason);
	queue_put_line(f, "sender", env->sender);
	for (size_t i = 0; i < env->recipients.n; i++)
		queue_put_line(f, "rcpt", env->recipients.items[i]);
	fprintf(f, "time %lld\n", (long long)time(NULL));
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

bool queue_keep_failed(const char *dir, const struct envelope *env, const struct message *msg,
		       const char *reason, char *path, size_t path_size, struct result *r)
{
	char id[QUEUE_ID_MAX], name[QUEUE_ID_MAX + 8], *text = NULL;
	bool ok;
	int dirfd;

	if (!queue_dir_open(dir, true, &dirfd, r))
		return false;
	if (!make_id(id, sizeof id)) {
		close(dirfd);
		return result_fail(r, RESULT_OSERR, _("no random numbers"));
	}
	snprintf(name, sizeof name, "%s.eml", id);
	ok = write_atomic(dirfd, dir, name, write_message, msg, r);
	if (ok) {
		text = format_reason(env, reason);
		snprintf(name, sizeof name, "%s.reason", id);
		if (text != NULL)
			ok = write_atomic(dirfd, dir, name, write_text, text, r);
		else
			ok = result_fail(r, RESULT_OSERR, _("out of memory"));
	}
	free(text);
	close(dirfd);
	snprintf(path, path_size, "%s/%s.eml", dir, id);
	return ok;
}

/* ---- scanning ----------------------------------------------------------- */

static int by_account_then_age(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->account, y->account);

	if (c == 0)
		c = (x->created > y->created) - (x->created < y->created);
	return c != 0 ? c : strcmp(x->id, y->id);
}

/* A directory stream of its own (readdir's offset is not shared). */
static DIR *open_stream(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (d == NULL && fd >= 0)
		close(fd);
	return d;
}

/* One .env found: loaded into list, or reported and left alone. */
static void scan_one(int dirfd, const char *dir, const char *name, size_t len,
		     struct entry_list *list)
{
	char id[QUEUE_ID_MAX], shown_dir[SHOWN_PATH], shown[SHOWN_PATH];
	struct result why;

	log_escape(shown_dir, sizeof shown_dir, dir);
	if (!queue_id_is_valid(name, len - 4)) {
		log_warn(_("queue %s: skipping %s: not a name relaymail makes"), shown_dir,
			 log_escape(shown, sizeof shown, name));
		return;
	}
	snprintf(id, sizeof id, "%.*s", (int)(len - 4), name);
	if (load_entry(dirfd, id, &list->items[list->n], &why))
		list->n++;
	else
		log_warn(_("queue %s: skipping entry %s (not sent, left in place): %s"), shown_dir, id,
			 why.msg);
}

bool queue_scan(int dirfd, const char *dir, struct entry_list *list, struct result *r)
{
	DIR *d = open_stream(dirfd);
	struct dirent *de;
	char shown[SHOWN_PATH];

	list->items = NULL;
	list->n = 0;
	if (d == NULL)
		return result_fail(r, RESULT_CANTCREAT, _("cannot read %s: %s"),
				   log_escape(shown, sizeof shown, dir), strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct entry *grown;

		if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".env") != 0)
			continue;
		grown = realloc(list->items, (list->n + 1) * sizeof *grown);
		if (grown == NULL) {
			closedir(d);
			queue_list_free(list);
			return result_fail(r, RESULT_OSERR, _("out of memory"));
		}
		list->items = grown;
		scan_one(dirfd, dir, de->d_name, len, list);
	}
	closedir(d);
	if (list->n > 1)
		qsort(list->items, list->n, sizeof *list->items, by_account_then_age);
	return true;
}

void queue_list_free(struct entry_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		queue_entry_free(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

static void format_age(long long seconds, char *buf, size_t size)
{
	if (seconds < 0)
		seconds = 0;
	if (seconds < 3600)
		snprintf(buf, size, "%lldm", seconds / 60);
	else if (seconds < 86400)
		snprintf(buf, size, "%lldh%02lldm", seconds / 3600, seconds % 3600 / 60);
	else
		snprintf(buf, size, "%lldd%02lldh", seconds / 86400, seconds % 86400 / 3600);
}

bool queue_is_empty(const char *dir)
{
	struct dirent *de;
	struct result ignored;
	bool empty = true;
	int dirfd;
	DIR *d;

	/* A directory we would refuse is not empty: the flush says why. */
	if (!queue_dir_open(dir, false, &dirfd, &ignored))
		return false;
	if (dirfd < 0)
		return true;
	d = open_stream(dirfd);
	close(dirfd);
	if (d == NULL)
		return false;
	while (empty && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		empty = de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".env") != 0;
	}
	closedir(d);
	return empty;
}

/* Entry fields come from a file: escaped so that they cannot drive the
 * terminal (the parser refuses control characters, this is the second wall). */
static void print_entry(FILE *out, const struct entry *e, long long now)
{
	char age[32], a[4 * ADDRESS_MAX + 1], b[4 * QUEUE_LAST_ERROR_MAX + 1];

	format_age(now - e->created, age, sizeof age);
	fprintf(out, "%-28s %10jd %7s %8u  <%s> (%s)\n", e->id, (intmax_t)e->size, age, e->attempts,
		log_escape(a, sizeof a, e->env.sender), log_escape(b, sizeof b, e->account));
	for (size_t k = 0; k < e->env.recipients.n; k++)
		fprintf(out, "%58s<%s>\n", "", log_escape(a, sizeof a, e->env.recipients.items[k]));
	if (e->last_error && *e->last_error)
		fprintf(out, "%58s(%s)\n", "", log_escape(b, sizeof b, e->last_error));
}

bool queue_list_to(FILE *out, const char *dir, const char *user, struct result *r)
{
	struct entry_list list = { NULL, 0 };
	long long now = (long long)time(NULL);
	size_t shown = 0;
	int dirfd;
	bool ok;

	if (!queue_dir_open(dir, false, &dirfd, r))
		return false;
	ok = dirfd < 0 || queue_scan(dirfd, dir, &list, r);
	if (dirfd >= 0)
		close(dirfd);
	if (!ok)
		return false;
	for (size_t i = 0; i < list.n; i++) {
		const struct entry *e = &list.items[i];

		if (user != NULL && (e->user == NULL || strcmp(e->user, user) != 0))
			continue;
		if (shown++ == 0)
			fprintf(out, "%-28s %10s %7s %8s  %s\n", _("-Queue ID-"), _("-Size-"), _("-Age-"),
				_("-Tries-"), _("-Sender/Recipients/Last error-"));
		print_entry(out, e, now);
	}
	if (shown == 0)
		fprintf(out, "%s\n", _("Mail queue is empty"));
	else
		fprintf(out, ngettext("-- %zu message in the queue\n", "-- %zu messages in the queue\n",
				      shown), shown);
	queue_list_free(&list);
	return true;
}

bool queue_list(const char *dir, struct result *r)
{
	return queue_list_to(stdout, dir, NULL, r);
}

bool queue_prepare_dir(const char *dir, struct result *r)
{
	int dirfd;

	if (!queue_dir_open(dir, true, &dirfd, r))
		return false;
	if (dirfd >= 0)
		close(dirfd);
	return true;
}
