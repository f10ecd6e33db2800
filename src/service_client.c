/* relaymail --serve: one client on the submission socket (protocol in
 * service_proto.h).  Who the client is comes from SO_PEERCRED alone;
 * nothing the client sends can name a file, a command or an account. */
#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "eventlog.h"
#include "i18n.h"
#include "log.h"
#include "message.h"
#include "options.h"
#include "queue.h"
#include "service_internal.h"
#include "service_proto.h"
#include "submit.h"

#define CLIENT_DATA_MAX ((off_t)1 << 30)
#define CHUNK 65536
#define LINGER_S 10
#define LINGER_IDLE_MS 3000
#define LINGER_MAX ((size_t)256 << 20)

struct request {
	struct service *svc;
	int fd;
	uid_t uid;
	char user[64];
	char gecos[256];
	char *argv[SERVICE_ARGS_MAX + 2];
	int argc;
	struct proto_reader in;
	FILE *notes;                    /* WARN lines collected for the answer */
	char *notes_text;
	size_t notes_len;
	bool broken;                    /* the client cannot be answered */
};

static void send_line(struct request *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void send_line(struct request *q, const char *fmt, ...)
{
	char line[SERVICE_LINE_MAX + 3];
	struct result ignored;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || q->broken)
		return;
	if ((size_t)n > sizeof line - 3)
		n = (int)sizeof line - 3;
	memcpy(line + n, "\r\n", 3);
	if (!message_write_all(q->fd, line, (size_t)n + 2, &ignored))
		q->broken = true;
}

/* The final line: code, class token, one line of text (made printable). */
static void send_final(struct request *q, const struct result *r)
{
	char shown[RESULT_MSG_MAX * 4];

	if (r->cls == RESULT_OK)
		send_line(q, "250 OK");
	else
		send_line(q, "%d %s %s", service_class_code(r->cls), service_class_token(r->cls),
			  log_escape(shown, sizeof shown, r->msg));
}

static bool identify(struct request *q)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	struct passwd pw, *found = NULL;
	char buf[4096];

	if (getsockopt(q->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return false;
	q->uid = cred.uid;
	if (getpwuid_r(cred.uid, &pw, buf, sizeof buf, &found) == 0 && found != NULL &&
	    strlen(pw.pw_name) < sizeof q->user) {
		snprintf(q->user, sizeof q->user, "%s", pw.pw_name);
		snprintf(q->gecos, sizeof q->gecos, "%s", pw.pw_gecos ? pw.pw_gecos : "");
	} else {
		/* A uid without a name (a container's, a deleted user's) is still
		 * someone: it gets a name that is no one else's. */
		snprintf(q->user, sizeof q->user, "uid-%lu", (unsigned long)cred.uid);
	}
	return true;
}

static void collect_note(void *arg, bool is_error, const char *text)
{
	struct request *q = arg;
	char shown[RESULT_MSG_MAX * 4];

	(void)is_error;
	if (q->notes != NULL)
		fprintf(q->notes, "%s\n", log_escape(shown, sizeof shown, text));
}

static void send_notes(struct request *q)
{
	char *save = NULL;

	if (q->notes == NULL)
		return;
	fclose(q->notes);
	q->notes = NULL;
	for (char *l = q->notes_text ? strtok_r(q->notes_text, "\n", &save) : NULL; l != NULL;
	     l = strtok_r(NULL, "\n", &save))
		send_line(q, "250-WARN %s", l);
	free(q->notes_text);
	q->notes_text = NULL;
}

static bool may_set_sender(const struct request *q)
{
	const char *who = q->uid == 0 ? "root" : q->user;

	return config_service_user_listed(q->svc->sc->allow_from_override, who,
					  q->uid == 0);
}

/* The sendmail arguments as the service allows them. */
static bool parse_arguments(struct request *q, struct options *opts, struct result *r)
{
	bool ok;

	q->argv[0] = (char *)"sendmail";
	pthread_mutex_lock(&q->svc->parse_lock);
	ok = options_parse(q->argc + 1, q->argv, opts, r);
	pthread_mutex_unlock(&q->svc->parse_lock);
	if (!ok)
		return false;
	if (opts->config_file != NULL || opts->account != NULL)
		return result_fail(r, RESULT_USAGE,
				   _("--config and --account cannot be used with the relaymail service"));
	if (opts->mode != MODE_SEND)
		return result_fail(r, RESULT_USAGE, _("this mode cannot be used with the relaymail service"));
	if (opts->sender != NULL && !may_set_sender(q)) {
		collect_note(q, false, _("-f is ignored: this user may not choose the envelope sender (allow_from_override)"));
		opts->sender = NULL;
	}
	opts->caller_user = q->user;
	opts->caller_gecos = q->gecos;
	opts->verbose = false;
	return true;
}

static bool read_content(struct request *q, off_t size, struct message *msg, struct result *r)
{
	struct message_read_opts ro = { .ignore_dots = true, .spool_dir = q->svc->queue_dir };
	struct message_reader *rd = message_reader_begin(&ro, msg, r);
	char *chunk = rd != NULL ? malloc(CHUNK) : NULL;
	bool ok = chunk != NULL;

	while (ok && size > 0) {
		size_t got;
		enum proto_status st = proto_read_some(&q->in, chunk,
						       size < CHUNK ? (size_t)size : CHUNK, &got);

		if (st != PROTO_OK)
			ok = result_fail(r, RESULT_TEMPFAIL, _("the client stopped sending its message"));
		else
			ok = message_reader_feed(rd, chunk, got);
		size -= (off_t)got;
	}
	free(chunk);
	if (rd == NULL)
		return false;
	return message_reader_finish(rd, ok) && ok;
}

static void answer_recipients(struct request *q, const struct envelope *env,
			      const struct smtp_outcome *out, const struct result *r, bool queued)
{
	char addr[ADDRESS_MAX * 3 + 1];

	for (size_t i = 0; i < env->recipients.n; i++) {
		int status = i < SMTP_MAX_STATUS ? out->rcpt_status[i] : 0;
		const char *state = status == 5 ? "refused" : status == 4 || queued ? "queued"
				    : r->cls == RESULT_OK || r->cls == RESULT_NOUSER ? "sent" : "refused";

		if (service_xtext_encode(env->recipients.items[i], addr, sizeof addr))
			send_line(q, "250-RCPT %s %s", addr, state);
	}
}

static void submission(struct request *q, off_t size)
{
	struct message msg = { .spool_fd = -1 };
	struct envelope env = { 0 };
	struct options opts;
	struct smtp_outcome outcome;
	struct eventlog log;
	struct submit_report report = { 0 };
	struct served by;
	struct result r;
	struct submit_ctx ctx = {
		.cfg = q->svc->cfg, .queue_dir = q->svc->queue_dir, .failed_dir = q->svc->failed_dir,
		.log = &log, .notify = collect_note, .notify_arg = q, .local_user = q->user,
		.report = &report,
	};

	result_clear(&r);
	memset(&outcome, 0, sizeof outcome);
	eventlog_init(&log, &q->svc->acct);
	if (!read_content(q, size, &msg, &r)) {
		/* Nothing of a message that did not arrive whole is kept. */
		message_free(&msg);
		send_final(q, &r);
		return;
	}
	if (parse_arguments(q, &opts, &r) && service_account_for(q->svc, &opts, &msg, &by, &r)) {
		ctx.acct = by.acct;
		ctx.secret = by.secret;
		ctx.pool = by.pool;
		ctx.quiet = opts.error_mode == ERRORS_QUIET;
		eventlog_init(&log, by.acct);
		eventlog_set_user(&log, q->user);
		if (envelope_build(&opts, by.acct, &msg, &env, &r))
			submit_message(&ctx, &env, &msg, &outcome, &r);
		else if (env.sender != NULL && msg.spool_fd >= 0)
			submit_keep(&ctx, &env, &msg, &r);
	}
	send_notes(q);
	if (env.sender != NULL)
		answer_recipients(q, &env, &outcome, &r, report.queued);
	send_final(q, &r);
	envelope_free(&env);
	message_free(&msg);
	if (r.cls == RESULT_OK && !report.queued)
		service_request_flush(q->svc, true);    /* the relay is back: send what waits */
}

/* "DATA <octets>" */
static bool parse_size(const char *text, off_t *size)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || n < 0)
		return false;
	*size = (off_t)n;
	return true;
}

static bool add_argument(struct request *q, const char *xtext, struct result *r)
{
	char arg[SERVICE_ARG_MAX + 1];

	if (q->argc >= SERVICE_ARGS_MAX)
		return result_fail(r, RESULT_USAGE, _("too many arguments (limit %d)"), SERVICE_ARGS_MAX);
	if (!service_xtext_decode(xtext, arg, sizeof arg))
		return result_fail(r, RESULT_USAGE, _("malformed argument"));
	if ((q->argv[q->argc + 1] = strdup(arg)) == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	q->argc++;
	q->argv[q->argc + 1] = NULL;
	return true;
}

static bool read_command(struct request *q, char *line, struct result *r)
{
	switch (proto_read_line(&q->in, line)) {
	case PROTO_OK:
		return true;
	case PROTO_TOO_LONG:
		return result_fail(r, RESULT_USAGE, _("line too long"));
	case PROTO_TIMEOUT:
		return result_fail(r, RESULT_TEMPFAIL, _("the client took too long"));
	default:
		q->broken = true;
		return result_fail(r, RESULT_TEMPFAIL, _("the client went away"));
	}
}

static void list_queue(struct request *q)
{
	char *text = NULL, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct result r;

	result_clear(&r);
	if (f == NULL) {
		result_fail(&r, RESULT_OSERR, _("out of memory"));
		send_final(q, &r);
		return;
	}
	queue_list_to(f, q->svc->queue_dir, q->uid == 0 ? NULL : q->user, &r);
	fclose(f);
	for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save))
		send_line(q, "250-%s", l);
	free(text);
	send_final(q, &r);
}

/* After refusing a client in the middle of what it sends: take (and drop)
 * the rest for a moment, so that closing does not reset the connection
 * before the client could read the answer. */
static void linger(struct request *q)
{
	time_t until = time(NULL) + LINGER_S;
	char sink[CHUNK];
	size_t taken = 0;
	ssize_t n;

	if (q->broken || shutdown(q->fd, SHUT_WR) != 0)
		return;
	while (time(NULL) < until && taken < LINGER_MAX) {
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };

		if (poll(&pfd, 1, LINGER_IDLE_MS) <= 0 || (n = read(q->fd, sink, sizeof sink)) <= 0)
			return;
		taken += (size_t)n;
	}
}

static void serve_client(struct request *q)
{
	char line[SERVICE_LINE_MAX + 1];
	struct result r;

	result_clear(&r);
	if (!identify(q))
		return;
	if (!config_service_user_listed(q->svc->sc->allowed_users, q->uid == 0 ? "root" : q->user, true)) {
		log_warn(_("service: user %s may not submit mail (allowed_users)"), q->user);
		result_fail(&r, RESULT_NOPERM, _("user %s may not submit mail through the relaymail service"), q->user);
		send_final(q, &r);
		return;
	}
	send_line(q, "220 relaymail service ready");
	proto_reader_init(&q->in, q->fd, q->svc->sc->client_timeout);
	while (read_command(q, line, &r)) {
		if (strncmp(line, "ARG ", 4) == 0) {
			if (!add_argument(q, line + 4, &r))
				break;
		} else if (strncmp(line, "DATA ", 5) == 0) {
			off_t size;

			if (!parse_size(line + 5, &size)) {
				result_fail(&r, RESULT_USAGE, _("malformed DATA size"));
				break;
			}
			if (size > CLIENT_DATA_MAX) {
				result_fail(&r, RESULT_DATAERR,
					    _("the message is larger than the relaymail service takes (%lld bytes)"),
					    (long long)CLIENT_DATA_MAX);
				break;
			}
			submission(q, size);
			return;
		} else if (strcmp(line, "LIST") == 0) {
			list_queue(q);
			return;
		} else if (strcmp(line, "FLUSH") == 0 || strcmp(line, "FLUSH ALL") == 0) {
			/* Ignoring the retry schedule is root's to ask for. */
			if (line[5] != '\0' && q->uid != 0)
				result_fail(&r, RESULT_NOPERM, _("only root may flush every entry of the system queue"));
			else
				service_flush_now(q->svc, line[5] != '\0', &r);
			send_final(q, &r);
			return;
		} else if (strcmp(line, "QUIT") == 0) {
			return;
		} else {
			result_fail(&r, RESULT_USAGE, _("unknown command"));
			break;
		}
	}
	send_final(q, &r);
	linger(q);
}

void *service_client_main(void *arg)
{
	struct service_client *c = arg;
	struct request *q = calloc(1, sizeof *q);

	if (q != NULL) {
		q->svc = c->svc;
		q->fd = c->fd;
		q->notes = open_memstream(&q->notes_text, &q->notes_len);
		serve_client(q);
		if (q->notes != NULL)
			fclose(q->notes);
		free(q->notes_text);
		for (int i = 1; i <= q->argc; i++)
			free(q->argv[i]);
		free(q);
	}
	close(c->fd);
	pthread_mutex_lock(&c->svc->lock);
	c->svc->active--;
	c->svc->last_activity = time(NULL);
	pthread_cond_broadcast(&c->svc->changed);
	pthread_mutex_unlock(&c->svc->lock);
	free(c);
	return NULL;
}
