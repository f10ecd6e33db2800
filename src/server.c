#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "credentials.h"
#include "deliver.h"
#include "envelope.h"
#include "handoff.h"
#include "i18n.h"
#include "log.h"
#include "message.h"
#include "sender.h"
#include "server.h"
#include "submit.h"

#define SERVER_INBUF 65536

struct server {
	const struct options *opts;
	const struct config *cfg;               /* account_by_sender: MAIL FROM chooses */
	const struct account *acct;             /* the default; NULL in system mode */
	struct account by_sender;               /* the one a MAIL FROM chose (borrows from cfg) */
	const struct service_config *service;   /* system mode: hand each message off */
	int in_fd, out_fd;
	char in[SERVER_INBUF];
	size_t in_start, in_end;
	char out[8192];
	size_t out_len;
	bool out_broken;
	char line[SERVER_LINE_MAX + 1];
	/* transaction */
	bool in_mail;
	char *sender;
	struct address_list rcpts;
	bool body_8bit;
	/* fetched once per account, for the first message that needs it */
	struct secret secret;
	const char *secret_of;                  /* the account's name (borrowed); NULL: none */
	struct eventlog log;
};

static void flush_out(struct server *s)
{
	size_t done = 0;

	while (!s->out_broken && done < s->out_len) {
		ssize_t n = write(s->out_fd, s->out + done, s->out_len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			s->out_broken = true;
		else
			done += (size_t)n;
	}
	s->out_len = 0;
}

static void reply(struct server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply(struct server *s, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof text - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof text - 3)
		n = (int)sizeof text - 3;
	memcpy(text + n, "\r\n", 2);
	if (s->out_len + (size_t)n + 2 > sizeof s->out)
		flush_out(s);
	memcpy(s->out + s->out_len, text, (size_t)n + 2);
	s->out_len += (size_t)n + 2;
}

/* More input; replies are flushed first, since the client may wait for
 * them (no PIPELINING) before it sends anything else.  false at EOF. */
static bool fill_in(struct server *s)
{
	ssize_t n;

	flush_out(s);
	if (s->in_start > 0) {
		memmove(s->in, s->in + s->in_start, s->in_end - s->in_start);
		s->in_end -= s->in_start;
		s->in_start = 0;
	}
	if (s->in_end == sizeof s->in)
		return true;
	do {
		n = read(s->in_fd, s->in + s->in_end, sizeof s->in - s->in_end);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return false;
	s->in_end += (size_t)n;
	return true;
}

/* One command line, CRLF or LF removed.  An overlong line is swallowed and
 * reported as empty with *too_long set. */
static bool read_command(struct server *s, bool *too_long)
{
	*too_long = false;
	for (;;) {
		char *start = s->in + s->in_start;
		size_t avail = s->in_end - s->in_start;
		char *lf = memchr(start, '\n', avail);

		if (lf != NULL) {
			size_t n = (size_t)(lf - start);

			s->in_start += n + 1;
			if (*too_long)
				n = 0;
			if (n > 0 && start[n - 1] == '\r')
				n--;
			if (n > SERVER_LINE_MAX) {
				*too_long = true;
				n = 0;
			}
			memcpy(s->line, start, n);
			s->line[n] = '\0';
			return true;
		}
		if (avail > SERVER_LINE_MAX) {
			*too_long = true;
			s->in_start = s->in_end;
		}
		if (!fill_in(s))
			return false;
	}
}

static void reset_transaction(struct server *s)
{
	free(s->sender);
	s->sender = NULL;
	address_list_free(&s->rcpts);
	s->in_mail = false;
	s->body_8bit = false;
}

/* "<addr> params": the address inside the brackets (quotes respected). */
static bool parse_path(const char *p, char *addr, size_t size, const char **params)
{
	bool quoted = false;
	size_t n = 0;

	while (*p == ' ')
		p++;
	if (*p++ != '<')
		return false;
	for (; *p && (quoted || *p != '>'); p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '\\' && quoted && p[1])
			addr[n++] = *p++;
		if (n + 1 >= size)
			return false;
		addr[n++] = *p;
	}
	if (*p != '>')
		return false;
	addr[n] = '\0';
	*params = p + 1;
	return rfc5322_address_is_safe(addr);
}

static bool mail_params(struct server *s, const char *params)
{
	char copy[SERVER_LINE_MAX + 1], *save = NULL;

	snprintf(copy, sizeof copy, "%s", params);
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (strcasecmp(w, "BODY=8BITMIME") == 0)
			s->body_8bit = true;
		else if (strcasecmp(w, "BODY=7BIT") == 0 || strncasecmp(w, "SIZE=", 5) == 0)
			continue;
		else
			return false;
	}
	return true;
}

static void cmd_mail(struct server *s, const char *arg)
{
	char addr[ADDRESS_MAX + 1];
	const char *params;

	if (s->in_mail) {
		reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (strncasecmp(arg, "FROM:", 5) != 0 || !parse_path(arg + 5, addr, sizeof addr, &params)) {
		reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (!mail_params(s, params)) {
		reply(s, "555 5.5.4 Unsupported MAIL parameter");
		return;
	}
	s->sender = strdup(addr);
	if (s->sender == NULL) {
		reply(s, "452 4.3.1 Out of memory");
		return;
	}
	s->in_mail = true;
	reply(s, "250 2.1.0 Ok");
}

static void cmd_rcpt(struct server *s, const char *arg)
{
	char addr[ADDRESS_MAX + 1];
	const char *params;
	struct result r;

	if (!s->in_mail) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (strncasecmp(arg, "TO:", 3) != 0 || !parse_path(arg + 3, addr, sizeof addr, &params) ||
	    addr[0] == '\0') {
		reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	while (*params == ' ')
		params++;
	if (*params != '\0') {
		reply(s, "555 5.5.4 Unsupported RCPT parameter");
		return;
	}
	if (s->rcpts.n >= ENVELOPE_MAX_RECIPIENTS) {
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (!address_list_add(&s->rcpts, addr, &r)) {
		reply(s, "452 4.3.1 Out of memory");
		return;
	}
	reply(s, "250 2.1.5 Ok");
}

/* DATA content up to the lone ".", dot-unstuffed, into the message reader.
 * Returns false when the client went away mid-message. */
static bool receive_content(struct server *s, struct message_reader *rd, bool *ok)
{
	bool at_line_start = true;

	for (;;) {
		char *p = s->in + s->in_start;
		size_t avail = s->in_end - s->in_start;
		char *lf;
		size_t n;

		if (at_line_start && (avail < 3 && memchr(p, '\n', avail) == NULL)) {
			if (!fill_in(s))
				return false;
			continue;
		}
		if (at_line_start && p[0] == '.') {
			if (p[1] == '\n' || (p[1] == '\r' && p[2] == '\n')) {
				s->in_start += p[1] == '\n' ? 2 : 3;
				return true;
			}
			s->in_start++;          /* RFC 5321 4.5.2: remove the stuffed dot */
			p++;
			avail--;
		}
		lf = memchr(p, '\n', avail);
		n = lf ? (size_t)(lf - p) + 1 : avail;
		if (*ok)
			*ok = message_reader_feed(rd, p, n);
		s->in_start += n;
		at_line_start = lf != NULL;
		if (s->in_start == s->in_end && !fill_in(s))
			return false;
	}
}

/* The client gets the relay's own reply when there was one. */
static void reply_failure(struct server *s, const struct smtp_outcome *out, const struct result *r)
{
	char text[400];

	log_printable(text, sizeof text, r->msg, strlen(r->msg));
	if (out->reply_code >= 400) {
		/* The text already starts with the enhanced code, if any. */
		reply(s, "%d %s", out->reply_code, out->reply_text);
		return;
	}
	switch (r->cls) {
	case RESULT_TEMPFAIL:
	case RESULT_CONFIG:
	case RESULT_OSERR:
	case RESULT_CANTCREAT:
	case RESULT_NOPERM:
	case RESULT_PROTOCOL:
		reply(s, "451 4.3.0 %s", text);
		break;
	case RESULT_DATAERR:
		reply(s, "554 5.6.0 %s", text);
		break;
	default:
		reply(s, "554 5.0.0 %s", text);
		break;
	}
}

/* System mode: the transaction goes to the service as a sendmail
 * submission ("-i -f SENDER -- RCPT..."), which delivers it or queues it
 * in the system queue; the client hears 250 for either. */
static void hand_off(struct server *s, struct message *msg)
{
	char **argv = calloc(s->rcpts.n + 6, sizeof *argv);
	struct result r;
	int argc = 0;

	result_clear(&r);
	if (argv == NULL) {
		reply(s, "451 4.3.0 %s", _("out of memory"));
		return;
	}
	argv[argc++] = (char *)"sendmail";
	argv[argc++] = (char *)"-i";
	if (s->opts->error_mode == ERRORS_QUIET)
		argv[argc++] = (char *)"-oeq";
	argv[argc++] = (char *)"-f";
	argv[argc++] = *s->sender ? s->sender : (char *)"<>";
	argv[argc++] = (char *)"--";
	for (size_t i = 0; i < s->rcpts.n; i++)
		argv[argc++] = s->rcpts.items[i];
	if (handoff_submit(s->service, argc, argv, msg, NULL, NULL, &r)) {
		reply(s, "250 2.0.0 Ok: accepted by the relaymail service");
	} else {
		struct smtp_outcome none;

		memset(&none, 0, sizeof none);
		if (s->opts->error_mode == ERRORS_QUIET)
			log_error_quiet("%s", r.msg);
		else
			log_error("%s", r.msg);
		reply_failure(s, &none, &r);
	}
	free(argv);
}

/* The relay took the message for some recipients and refused others: it
 * is accepted, as Postfix's sendmail -bs would; the refused ones are named
 * on stderr, kept, and the sender gets a notice (submit_refused()). */
static bool accept_partial(struct server *s, const struct account *acct,
			   const struct envelope *env, const struct message *msg,
			   const struct smtp_outcome *out, struct result *r)
{
	struct submit_ctx ctx = {
		.acct = acct, .secret = &s->secret, .verbose = s->opts->verbose,
		.quiet = s->opts->error_mode == ERRORS_QUIET, .log = &s->log,
	};

	submit_refused(&ctx, env, msg, out, r);
	return r->cls == RESULT_OK;
}

/* The default account, or with account_by_sender the one MAIL FROM
 * chooses (as -f does for a message on stdin); NULL: r says why. */
static const struct account *message_account(struct server *s, struct result *r)
{
	char why[2 * ADDRESS_MAX + 256], shown[sizeof why * 4];
	const char *name;

	if (s->cfg == NULL || !s->cfg->account_by_sender || s->opts->account != NULL ||
	    s->sender == NULL || s->sender[0] == '\0')
		return s->acct;
	name = sender_choose_account(s->cfg, s->sender, why, sizeof why);
	if (s->opts->verbose)
		fprintf(stderr, "relaymail: %s\n", log_escape(shown, sizeof shown, why));
	if (name == NULL || strcmp(name, s->acct->name) == 0)
		return s->acct;
	return config_account_resolve(s->cfg, name, &s->by_sender, r) ? &s->by_sender : NULL;
}

/* The account's secret, kept for the next message of the same account. */
static bool account_secret(struct server *s, const struct account *acct, struct result *r)
{
	if (s->secret_of != NULL && strcmp(s->secret_of, acct->name) == 0)
		return true;
	secret_wipe(&s->secret);
	s->secret_of = NULL;
	if (!credentials_get(acct, &s->secret, r))
		return false;
	s->secret_of = acct->name;
	return true;
}

static void relay_message(struct server *s, struct message *msg)
{
	const struct account *acct = NULL;
	struct options opts = *s->opts;
	struct envelope env = { 0 };
	struct smtp_outcome out;
	struct result r;

	memset(&out, 0, sizeof out);
	result_clear(&r);
	opts.sender = s->sender;
	opts.recipients = s->rcpts.items;
	opts.n_recipients = s->rcpts.n;
	opts.extract_recipients = false;
	opts.body_8bit = s->opts->body_8bit || s->body_8bit;
	if (s->service != NULL) {
		hand_off(s, msg);
		return;
	}
	/* The client hears one answer for the whole message: 250 once the
	 * relay took it for someone (refused recipients: accept_partial()). */
	if ((acct = message_account(s, &r)) != NULL &&
	    (eventlog_init(&s->log, acct), envelope_build(&opts, acct, msg, &env, &r)) &&
	    account_secret(s, acct, &r) &&
	    deliver(acct, &s->secret, &env, msg, s->opts->verbose, &s->log, &out, &r) &&
	    accept_partial(s, acct, &env, msg, &out, &r)) {
		reply(s, "250 2.0.0 Ok: relayed: %s", out.final_reply);
	} else {
		char id[256];
		struct event e = { .kind = "failed", .env = &env, .acct = acct ? acct : s->acct, .reply = r.msg,
				   .size = (long long)message_wire_size(msg),
				   .message_id = message_id(msg, id, sizeof id) };

		if (s->opts->error_mode == ERRORS_QUIET)
			log_error_quiet("%s", r.msg);
		else
			log_error("%s", r.msg);
		if (env.sender != NULL)
			eventlog_write(&s->log, &e);
		reply_failure(s, &out, &r);
	}
	envelope_free(&env);
}

/* false: the client is gone. */
static bool cmd_data(struct server *s)
{
	struct message_read_opts read_opts = { .ignore_dots = true };
	struct message msg;
	struct message_reader *rd;
	struct result r;
	bool ok, connected;
	const char *dir = getenv("TMPDIR");

	if (!s->in_mail || s->rcpts.n == 0) {
		reply(s, "503 5.5.1 Error: need RCPT command");
		return true;
	}
	read_opts.spool_dir = dir && *dir ? dir : "/tmp";
	rd = message_reader_begin(&read_opts, &msg, &r);
	if (rd == NULL) {
		reply(s, "451 4.3.0 %s", r.msg);
		return true;
	}
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	ok = true;
	connected = receive_content(s, rd, &ok);
	ok = message_reader_finish(rd, ok && connected);
	if (connected && ok)
		relay_message(s, &msg);
	else if (connected)
		reply(s, "554 5.6.0 %s", r.msg);
	if (ok)
		message_free(&msg);
	reset_transaction(s);
	return connected;
}

static bool is_verb(const char *line, const char *verb, const char **arg)
{
	size_t n = strlen(verb);

	if (strncasecmp(line, verb, n) != 0 || (line[n] != '\0' && line[n] != ' '))
		return false;
	*arg = line + n + (line[n] == ' ');
	return true;
}

static const char *greeting_domain(const struct account *acct)
{
	return acct && acct->domain ? acct->domain : "localhost";
}

/* One command; false ends the session. */
static bool dispatch(struct server *s)
{
	const char *arg;

	if (is_verb(s->line, "EHLO", &arg)) {
		reset_transaction(s);
		reply(s, "250-%s", greeting_domain(s->acct));
		reply(s, "250-PIPELINING");
		reply(s, "250-8BITMIME");
		reply(s, "250 ENHANCEDSTATUSCODES");
	} else if (is_verb(s->line, "HELO", &arg)) {
		reset_transaction(s);
		reply(s, "250 %s", greeting_domain(s->acct));
	} else if (is_verb(s->line, "MAIL", &arg)) {
		cmd_mail(s, arg);
	} else if (is_verb(s->line, "RCPT", &arg)) {
		cmd_rcpt(s, arg);
	} else if (is_verb(s->line, "DATA", &arg)) {
		return cmd_data(s);
	} else if (is_verb(s->line, "RSET", &arg)) {
		reset_transaction(s);
		reply(s, "250 2.0.0 Ok");
	} else if (is_verb(s->line, "NOOP", &arg)) {
		reply(s, "250 2.0.0 Ok");
	} else if (is_verb(s->line, "QUIT", &arg)) {
		reply(s, "221 2.0.0 Bye");
		return false;
	} else if (is_verb(s->line, "VRFY", &arg)) {
		reply(s, "252 2.5.2 Cannot verify, but will try to deliver");
	} else if (is_verb(s->line, "HELP", &arg)) {
		reply(s, "214 2.0.0 HELO EHLO MAIL RCPT DATA RSET NOOP QUIT");
	} else {
		reply(s, "502 5.5.1 Error: command not implemented");
	}
	return true;
}

bool server_run(const struct options *opts, const struct config *cfg, const struct account *acct,
		const struct service_config *service, int in_fd, int out_fd, struct result *r)
{
	struct server *s = calloc(1, sizeof *s);
	bool too_long;

	if (s == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	s->opts = opts;
	s->cfg = cfg;
	s->acct = acct;
	s->service = service;
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	eventlog_init(&s->log, acct);
	reply(s, "220 %s ESMTP relaymail", greeting_domain(acct));
	while (!s->out_broken && read_command(s, &too_long)) {
		if (too_long)
			reply(s, "500 5.5.2 Error: line too long");
		else if (!dispatch(s))
			break;
	}
	flush_out(s);
	reset_transaction(s);
	secret_wipe(&s->secret);
	free(s);
	return true;
}

void server_refuse(int out_fd, const char *reason)
{
	char line[1024];
	int n = snprintf(line, sizeof line, "421 4.3.5 %s\r\n", reason);

	if (n <= 0)
		return;
	if ((size_t)n >= sizeof line) {         /* cut: the line still ends with CRLF */
		n = (int)sizeof line - 1;
		memcpy(line + n - 2, "\r\n", 2);
	}
	if (write(out_fd, line, (size_t)n) < 0)
		return;
}
