#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "eventlog.h"
#include "i18n.h"
#include "log.h"

void eventlog_init(struct eventlog *log, const struct account *acct)
{
	log->file = acct ? acct->log_file : NULL;
	log->json = acct && acct->log_json;
	log->file_failed = false;
	log->local_user = NULL;
}

/* JSON string body: quotes, backslashes and control characters escaped;
 * bytes that are not ASCII become '?' (server text may be anything). */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c >= 0x80 ? '?' : c, f);
	}
	fputc('"', f);
}

static void json_field(FILE *f, const char *key, const char *value, bool *first)
{
	if (value == NULL)
		return;
	fprintf(f, "%s\"%s\":", *first ? "" : ",", key);
	json_string(f, value);
	*first = false;
}

static char *format_json(const struct eventlog *log, const struct event *e)
{
	char *text = NULL, stamp[32];
	size_t len = 0;
	bool first = true;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	fputc('{', f);
	json_field(f, "time", stamp, &first);
	json_field(f, "event", e->kind, &first);
	json_field(f, "user", log->local_user, &first);
	json_field(f, "queue_id", e->queue_id, &first);
	json_field(f, "message_id", e->message_id, &first);
	json_field(f, "sender", e->env ? e->env->sender : NULL, &first);
	if (e->env != NULL) {
		fprintf(f, ",\"recipients\":[");
		for (size_t i = 0; i < e->env->recipients.n; i++) {
			if (i > 0)
				fputc(',', f);
			json_string(f, e->env->recipients.items[i]);
		}
		fputc(']', f);
	}
	json_field(f, "account", e->acct ? e->acct->name : NULL, &first);
	json_field(f, "relay", e->acct ? e->acct->host : NULL, &first);
	if (e->acct)
		fprintf(f, ",\"port\":%u", e->acct->port);
	json_field(f, "tls", e->tls, &first);
	json_field(f, "auth", e->auth, &first);
	fprintf(f, ",\"size\":%lld,\"duration_ms\":%ld", e->size, e->duration_ms);
	json_field(f, "reply", e->reply, &first);
	fputs("}\n", f);
	return fclose(f) == 0 ? text : (free(text), NULL);
}

static char *format_text(const struct eventlog *log, const struct event *e)
{
	char *text = NULL, shown[512];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	fprintf(f, "%s", e->kind);
	if (log->local_user)
		fprintf(f, " user=%s", log->local_user);
	if (e->queue_id)
		fprintf(f, " queue_id=%s", e->queue_id);
	if (e->message_id)
		fprintf(f, " msgid=%s", e->message_id);
	if (e->env) {
		fprintf(f, " from=<%s> to=", e->env->sender);
		for (size_t i = 0; i < e->env->recipients.n; i++)
			fprintf(f, "%s<%s>", i ? "," : "", e->env->recipients.items[i]);
	}
	if (e->acct)
		fprintf(f, " account=%s relay=%s:%u", e->acct->name, e->acct->host, e->acct->port);
	fprintf(f, " tls=%s auth=%s size=%lld ms=%ld", e->tls && *e->tls ? e->tls : "none",
		e->auth ? e->auth : "none", e->size, e->duration_ms);
	if (e->reply)
		fprintf(f, " reply=\"%s\"", log_printable(shown, sizeof shown, e->reply, strlen(e->reply)));
	return fclose(f) == 0 ? text : (free(text), NULL);
}

/* The text line for syslog and a text log_file: the Message-ID, the
 * addresses and the queue id come from the message or a queue file, and
 * may carry control characters meant for a terminal (JSON escapes its own). */
static char *format_text_escaped(const struct eventlog *log, const struct event *e)
{
	char *raw = format_text(log, e), *shown;
	size_t size;

	if (raw == NULL)
		return NULL;
	size = 4 * strlen(raw) + 1;
	shown = malloc(size);
	if (shown != NULL)
		log_escape(shown, size, raw);
	free(raw);
	return shown;
}

static void append_file(struct eventlog *log, const char *line)
{
	size_t n = strlen(line);
	int fd = open(log->file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	bool ok = fd >= 0;

	/* O_APPEND writes of one line are atomic enough; the lock keeps
	 * concurrent relaymail processes from interleaving long lines. */
	if (ok) {
		flock(fd, LOCK_EX);
		ok = write(fd, line, n) == (ssize_t)n;
		close(fd);
	}
	if (!ok && !log->file_failed) {
		log->file_failed = true;
		log_warn(_("cannot write log_file %s: %s (the message is not affected)"), log->file,
			 strerror(errno));
	}
}

void eventlog_write(struct eventlog *log, const struct event *e)
{
	char *text = format_text_escaped(log, e);
	char *line;

	if (text == NULL)
		return;
	syslog(strcmp(e->kind, "failed") == 0 ? LOG_WARNING : LOG_INFO, "%s", text);
	if (log->file != NULL) {
		if (log->json) {
			line = format_json(log, e);
		} else if ((line = malloc(strlen(text) + 96)) != NULL) {
			char stamp[32];
			time_t now = time(NULL);
			struct tm tm;

			strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S%z", localtime_r(&now, &tm));
			snprintf(line, strlen(text) + 96, "%s relaymail[%ld]: %s\n", stamp, (long)getpid(), text);
		}
		if (line != NULL)
			append_file(log, line);
		free(line);
	}
	free(text);
}

void eventlog_set_user(struct eventlog *log, const char *user)
{
	log->local_user = user;
}
