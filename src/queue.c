/* Durable queue and failed-mail store.
 *
 * Queue entry format (directory queue_dir, one entry = two files):
 *
 *   <id>.msg  the message exactly as it goes on the wire before
 *             dot-stuffing (CRLF lines, header fix-ups already applied, so a
 *             retry sends the same Message-ID and Date);
 *   <id>.env  the envelope and state, UTF-8 text, one "key value" per line:
 *               version 1
 *               account NAME          domain DOMAIN (for EHLO)
 *               message-id <ID>       (for the logs)
 *               sender ADDR           (empty value: the null sender <>)
 *               rcpt ADDR             (one line per recipient)
 *               body-8bit 0|1         needs-smtputf8 0|1     smtputf8 -1|0|1
 *               dsn-notify X          dsn-ret X              dsn-envid X  (optional)
 *               created UNIX-TIME     attempts N             next-attempt UNIX-TIME
 *               last-error TEXT       (one line, control characters removed)
 *
 * <id> is "<unix time>.<pid>.<8 hex random>".  Each file is written to a
 * name starting with "." in the same directory, fsynced, renamed, and the
 * directory fsynced; .msg first, .env last.  An entry exists once its .env
 * exists: a crash leaves no entry or a complete one (a stray .msg without
 * .env is removed by the next flush after an hour).  Updates rewrite .env
 * the same way; removal unlinks .env first.  A flush holds flock() on
 * <queue_dir>/.lock so two flushes never send the same entry.
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

#define META_MAX (4 * 1024 * 1024)
#define BACKOFF_FIRST 300
#define BACKOFF_MAX (4 * 3600)

/* ---- directories -------------------------------------------------------- */

static bool ensure_dir(const char *path, struct result *r)
{
	char partial[PATH_MAX];
	struct stat st;
	size_t len = strlen(path);

	if (len >= sizeof partial)
		return result_fail(r, RESULT_CANTCREAT, _("%s: path too long"), path);
	memcpy(partial, path, len + 1);
	for (char *p = partial + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(partial, 0700) != 0 && errno != EEXIST)
			return result_fail(r, RESULT_CANTCREAT, _("cannot create %s: %s"), partial, strerror(errno));
		*p = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return result_fail(r, RESULT_CANTCREAT, _("cannot create %s: %s"), path, strerror(errno));
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return result_fail(r, RESULT_CANTCREAT, _("%s is not a directory"), path);
	/* Messages are private: refuse a directory others could read or plant. */
	if (st.st_uid != geteuid() || (st.st_mode & 077))
		return result_fail(r, RESULT_CANTCREAT,
				   _("%s must be owned by the user and private (chmod 700)"), path);
	return true;
}

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

static void state_base(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");

	if (xdg != NULL && xdg[0] == '/' && (home == NULL || strncmp(xdg, home, strlen(home)) != 0 ||
					     home_is_safe(home)))
		snprintf(buf, size, "%s/relaymail", xdg);
	else if (home_is_safe(home))
		snprintf(buf, size, "%s/.local/state/relaymail", home);
	else
		snprintf(buf, size, "/var/tmp/relaymail-%lu", (unsigned long)geteuid());
}

bool queue_paths(const struct account *acct, char *queue_dir, char *failed_dir, size_t size,
		 struct result *r)
{
	char base[PATH_MAX - 16];

	state_base(base, sizeof base);
	if (acct != NULL && acct->queue_dir != NULL)
		snprintf(queue_dir, size, "%s", acct->queue_dir);
	else
		snprintf(queue_dir, size, "%s/queue", base);
	if (acct != NULL && acct->failed_dir != NULL)
		snprintf(failed_dir, size, "%s", acct->failed_dir);
	else
		snprintf(failed_dir, size, "%s/failed", base);
	(void)r;
	return true;
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

bool queue_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok = fd >= 0 && fsync(fd) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

typedef bool (*content_writer)(int fd, const void *data, struct result *r);

/* Write <dir>/<name> through a hidden temporary name. */
static bool write_atomic(const char *dir, const char *name, content_writer writer,
			 const void *data, struct result *r)
{
	char tmp[PATH_MAX], final[PATH_MAX];
	bool ok;
	int fd;

	snprintf(tmp, sizeof tmp, "%s/.tmp-%s", dir, name);
	snprintf(final, sizeof final, "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return result_fail(r, RESULT_CANTCREAT, _("cannot create %s: %s"), tmp, strerror(errno));
	ok = writer(fd, data, r);
	if (ok && fsync(fd) != 0)
		ok = result_fail(r, RESULT_CANTCREAT, _("cannot write %s: %s"), tmp, strerror(errno));
	if (close(fd) != 0 && ok)
		ok = result_fail(r, RESULT_CANTCREAT, _("cannot write %s: %s"), tmp, strerror(errno));
	if (ok && rename(tmp, final) != 0)
		ok = result_fail(r, RESULT_CANTCREAT, _("cannot rename %s: %s"), tmp, strerror(errno));
	if (!ok)
		unlink(tmp);
	return ok && (queue_fsync_dir(dir) ||
		      result_fail(r, RESULT_CANTCREAT, _("cannot sync %s: %s"), dir, strerror(errno)));
}

static bool write_message(int fd, const void *data, struct result *r)
{
	return message_write_content(data, fd, r);
}

static bool write_text(int fd, const void *data, struct result *r)
{
	return message_write_all(fd, data, strlen(data), r);
}

/* ---- entries ------------------------------------------------------------ */


void queue_entry_free(struct entry *e)
{
	free(e->account);
	free(e->last_error);
	free(e->message_id);
	for (size_t i = 0; i < 3; i++)
		free(e->dsn[i]);
	envelope_free(&e->env);
	memset(e, 0, sizeof *e);
}

/* One line, printable: error texts come from servers. */
static void put_line(FILE *f, const char *key, const char *value)
{
	fprintf(f, "%s ", key);
	for (const char *p = value ? value : ""; *p; p++)
		fputc((unsigned char)*p < 0x20 ? ' ' : *p, f);
	fputc('\n', f);
}

static char *format_meta(const struct entry *e)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	fprintf(f, "version 1\n");
	put_line(f, "account", e->account);
	if (e->message_id)
		put_line(f, "message-id", e->message_id);
	put_line(f, "domain", e->env.domain);
	put_line(f, "sender", e->env.sender);
	for (size_t i = 0; i < e->env.recipients.n; i++)
		put_line(f, "rcpt", e->env.recipients.items[i]);
	fprintf(f, "body-8bit %d\nneeds-smtputf8 %d\nsmtputf8 %d\n", e->env.body_8bit,
		e->env.needs_smtputf8, e->env.smtputf8);
	if (e->env.dsn_notify)
		put_line(f, "dsn-notify", e->env.dsn_notify);
	if (e->env.dsn_ret)
		put_line(f, "dsn-ret", e->env.dsn_ret);
	if (e->env.dsn_envid)
		put_line(f, "dsn-envid", e->env.dsn_envid);
	fprintf(f, "created %lld\nattempts %u\nnext-attempt %lld\n", e->created, e->attempts, e->next);
	put_line(f, "last-error", e->last_error);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

bool queue_entry_set_error(struct entry *e, const char *reason)
{
	char *copy = strdup(reason);

	if (copy == NULL)
		return false;
	free(e->last_error);
	e->last_error = copy;
	return true;
}

static bool set_string(char **dst, const char *value)
{
	free(*dst);
	*dst = strdup(value);
	return *dst != NULL;
}

static bool parse_meta_line(struct entry *e, const char *key, const char *value, struct result *r)
{
	if (strcmp(key, "account") == 0)
		return set_string(&e->account, value);
	if (strcmp(key, "domain") == 0)
		return set_string(&e->env.domain, value);
	if (strcmp(key, "message-id") == 0)
		return set_string(&e->message_id, value);
	if (strcmp(key, "sender") == 0)
		return set_string(&e->env.sender, value);
	if (strcmp(key, "rcpt") == 0)
		return address_list_add(&e->env.recipients, value, r);
	if (strcmp(key, "body-8bit") == 0)
		return e->env.body_8bit = atoi(value) != 0, true;
	if (strcmp(key, "needs-smtputf8") == 0)
		return e->env.needs_smtputf8 = atoi(value) != 0, true;
	if (strcmp(key, "smtputf8") == 0)
		return e->env.smtputf8 = atoi(value), true;
	if (strcmp(key, "dsn-notify") == 0)
		return set_string(&e->dsn[0], value) && (e->env.dsn_notify = e->dsn[0]);
	if (strcmp(key, "dsn-ret") == 0)
		return set_string(&e->dsn[1], value) && (e->env.dsn_ret = e->dsn[1]);
	if (strcmp(key, "dsn-envid") == 0)
		return set_string(&e->dsn[2], value) && (e->env.dsn_envid = e->dsn[2]);
	if (strcmp(key, "created") == 0)
		return e->created = atoll(value), true;
	if (strcmp(key, "attempts") == 0)
		return e->attempts = (unsigned)atoi(value), true;
	if (strcmp(key, "next-attempt") == 0)
		return e->next = atoll(value), true;
	if (strcmp(key, "last-error") == 0)
		return set_string(&e->last_error, value);
	return true;    /* unknown keys from a newer version are kept out of the way */
}

static bool load_entry(const char *dir, const char *id, struct entry *e, struct result *r)
{
	char path[PATH_MAX], *text = NULL, *save = NULL;
	struct stat st;
	bool ok = false;
	FILE *f;
	size_t n;

	memset(e, 0, sizeof *e);
	e->env.smtputf8 = -1;
	e->env.allow_partial = true;
	snprintf(e->id, sizeof e->id, "%s", id);
	snprintf(path, sizeof path, "%s/%s.env", dir, id);
	f = fopen(path, "re");
	if (f == NULL || fstat(fileno(f), &st) != 0 || st.st_size > META_MAX ||
	    (text = malloc((size_t)st.st_size + 1)) == NULL) {
		result_fail(r, RESULT_CANTCREAT, _("cannot read queue entry %s"), id);
		goto out;
	}
	n = fread(text, 1, (size_t)st.st_size, f);
	text[n] = '\0';
	ok = true;
	for (char *line = strtok_r(text, "\n", &save); ok && line; line = strtok_r(NULL, "\n", &save)) {
		char *space = strchr(line, ' ');

		if (space == NULL)
			continue;
		*space = '\0';
		ok = parse_meta_line(e, line, space + 1, r);
	}
	snprintf(path, sizeof path, "%s/%s.msg", dir, id);
	if (ok && (e->account == NULL || e->env.sender == NULL || e->env.recipients.n == 0 ||
		   stat(path, &st) != 0))
		ok = result_fail(r, RESULT_CANTCREAT, _("queue entry %s is incomplete"), id);
	e->size = ok ? st.st_size : 0;
out:
	if (f != NULL)
		fclose(f);
	free(text);
	if (!ok)
		queue_entry_free(e);
	return ok;
}

bool queue_entry_save(const char *dir, const struct entry *e, struct result *r)
{
	char name[QUEUE_ID_MAX + 8], *text = format_meta(e);
	bool ok;

	if (text == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	snprintf(name, sizeof name, "%s.env", e->id);
	ok = write_atomic(dir, name, write_text, text, r);
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

bool queue_store(const char *dir, const struct account *acct, const struct envelope *env,
		 const struct message *msg, const char *last_error, char *id, size_t id_size,
		 struct result *r)
{
	struct entry e;
	char name[QUEUE_ID_MAX + 8];
	bool ok;

	memset(&e, 0, sizeof e);
	if (!ensure_dir(dir, r))
		return false;
	if (!make_id(e.id, sizeof e.id))
		return result_fail(r, RESULT_OSERR, _("no random numbers"));
	e.account = strdup(acct->name);
	{
		char msgid[256];

		if (*message_id(msg, msgid, sizeof msgid))
			e.message_id = strdup(msgid);
	}
	e.created = (long long)time(NULL);
	e.attempts = 1;
	e.next = e.created + queue_backoff(1);
	e.last_error = strdup(last_error);
	snprintf(name, sizeof name, "%s.msg", e.id);
	ok = ((e.account && e.last_error) || result_fail(r, RESULT_OSERR, _("out of memory"))) &&
	     copy_envelope(&e, env, r) &&
	     write_atomic(dir, name, write_message, msg, r) && queue_entry_save(dir, &e, r);
	if (!ok) {
		snprintf(name, sizeof name, "%s/%s.msg", dir, e.id);
		unlink(name);
	}
	snprintf(id, id_size, "%s", e.id);
	queue_entry_free(&e);
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
	put_line(f, "reason", reason);
	put_line(f, "sender", env->sender);
	for (size_t i = 0; i < env->recipients.n; i++)
		put_line(f, "rcpt", env->recipients.items[i]);
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

	if (!ensure_dir(dir, r))
		return false;
	if (!make_id(id, sizeof id))
		return result_fail(r, RESULT_OSERR, _("no random numbers"));
	snprintf(name, sizeof name, "%s.eml", id);
	ok = write_atomic(dir, name, write_message, msg, r);
	text = ok ? format_reason(env, reason) : NULL;
	snprintf(name, sizeof name, "%s.reason", id);
	ok = ok && text != NULL && write_atomic(dir, name, write_text, text, r);
	free(text);
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

/* Every complete entry; damaged ones are reported and skipped. */
bool queue_scan(const char *dir, struct entry_list *list, struct result *r)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	list->items = NULL;
	list->n = 0;
	if (d == NULL)
		return errno == ENOENT ||
		       result_fail(r, RESULT_CANTCREAT, _("cannot read %s: %s"), dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char id[QUEUE_ID_MAX];
		struct entry *grown;
		struct result ignored;

		if (de->d_name[0] == '.' || len < 5 || len - 4 >= sizeof id ||
		    strcmp(de->d_name + len - 4, ".env") != 0)
			continue;
		snprintf(id, sizeof id, "%.*s", (int)(len - 4), de->d_name);
		grown = realloc(list->items, (list->n + 1) * sizeof *grown);
		if (grown == NULL)
			break;
		list->items = grown;
		if (load_entry(dir, id, &list->items[list->n], &ignored))
			list->n++;
		else
			log_warn(_("queue: skipping damaged entry %s in %s"), id, dir);
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
	if (seconds < 3600)
		snprintf(buf, size, "%lldm", seconds / 60);
	else if (seconds < 86400)
		snprintf(buf, size, "%lldh%02lldm", seconds / 3600, seconds % 3600 / 60);
	else
		snprintf(buf, size, "%lldd%02lldh", seconds / 86400, seconds % 86400 / 3600);
}

bool queue_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool empty = true;

	if (d == NULL)
		return true;
	while (empty && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		empty = de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".env") != 0;
	}
	closedir(d);
	return empty;
}

bool queue_list(const char *dir, struct result *r)
{
	struct entry_list list;
	long long now = (long long)time(NULL);

	if (!queue_scan(dir, &list, r))
		return false;
	if (list.n == 0) {
		puts(_("Mail queue is empty"));
		return true;
	}
	printf("%-28s %10s %7s %8s  %s\n", _("-Queue ID-"), _("-Size-"), _("-Age-"), _("-Tries-"),
	       _("-Sender/Recipients/Last error-"));
	for (size_t i = 0; i < list.n; i++) {
		const struct entry *e = &list.items[i];
		char age[32];

		format_age(now - e->created, age, sizeof age);
		printf("%-28s %10jd %7s %8u  <%s> (%s)\n", e->id, (intmax_t)e->size, age, e->attempts,
		       e->env.sender, e->account);
		for (size_t k = 0; k < e->env.recipients.n; k++)
			printf("%58s<%s>\n", "", e->env.recipients.items[k]);
		if (e->last_error && *e->last_error)
			printf("%58s(%s)\n", "", e->last_error);
	}
	printf(ngettext("-- %zu message in the queue\n", "-- %zu messages in the queue\n", list.n), list.n);
	queue_list_free(&list);
	return true;
}

