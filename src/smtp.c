#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "header_fix.h"
#include "i18n.h"
#include "log.h"
#include "smtp.h"
#include "smtp_internal.h"
#include "smtp_reply.h"

#define BODY_CHUNK (256 * 1024)

/* ---- replies ----------------------------------------------------------- */

bool smtp_read_reply(struct smtp_session *s, const char *step)
{
	struct timespec deadline;
	const char *error = NULL;
	char shown[128];
	size_t len;

	smtp_reply_init(&s->reply);
	conn_deadline(s->c, &deadline);
	for (;;) {
		if (!conn_read_line(s->c, s->line, sizeof s->line, &len, &deadline, s->r))
			return result_prefix(s->r, step);
		switch (smtp_reply_feed(&s->reply, s->line, len, &error)) {
		case SMTP_REPLY_MORE:
			continue;
		case SMTP_REPLY_DONE:
			return true;
		case SMTP_REPLY_ERROR:
			return result_fail(s->r, RESULT_PROTOCOL, _("%s: the server broke the protocol (%s): \"%s\""),
					   step, _(error), log_printable(shown, sizeof shown, s->line, len));
		}
	}
}

/* The reply's text on one line, safe to print. */
static const char *reply_summary(const struct smtp_session *s, char *buf, size_t size)
{
	char text[400];

	log_printable(text, sizeof text, s->reply.text, s->reply.text_len);
	snprintf(buf, size, "%d %s", s->reply.code, text);
	return buf;
}

/* A reply of a class the client did not ask for (a 3xx where 2xx was
 * wanted, a 2xx where 354 was): the server's state is unknown, so the step
 * failed and the connection carries nothing more (reply_code stays 0). */
static bool reply_unexpected(struct smtp_session *s, const char *step)
{
	char summary[480];

	s->broken = true;
	reply_summary(s, summary, sizeof summary);
	return result_fail(s->r, RESULT_PROTOCOL, _("%s: unexpected reply from the server: %s"),
			   step, summary);
}

/* A reply that is not the one wanted: 4xx is temporary, 5xx uses perm,
 * any other class is a protocol error. */
bool smtp_reply_failed(struct smtp_session *s, const char *step, enum result_class perm)
{
	char summary[480];
	int cls = s->reply.code / 100;

	if (cls != 4 && cls != 5)
		return reply_unexpected(s, step);
	s->out->reply_code = s->reply.code;
	snprintf(s->out->reply_enhanced, sizeof s->out->reply_enhanced, "%s", s->reply.enhanced);
	log_printable(s->out->reply_text, sizeof s->out->reply_text, s->reply.text, s->reply.text_len);
	reply_summary(s, summary, sizeof summary);
	return result_fail(s->r, cls == 4 ? RESULT_TEMPFAIL : perm,
			   _("%s: the server replied: %s"), step, summary);
}

bool smtp_expect(struct smtp_session *s, const char *step, int want_class, enum result_class perm)
{
	if (!smtp_read_reply(s, step))
		return false;
	if (s->reply.code / 100 != want_class)
		return smtp_reply_failed(s, step, perm);
	return true;
}

bool smtp_send_and_expect(struct smtp_session *s, const char *command, const char *step,
			    int want_class, enum result_class perm)
{
	return conn_command(s->c, command, s->r) && conn_flush(s->c, s->r) &&
	       smtp_expect(s, step, want_class, perm);
}

/* ---- EHLO ------------------------------------------------------------- */

static void note_capability(struct smtp_session *s, const char *kw, size_t len)
{
	char word[SMTP_LINE_MAX];
	char *save = NULL, *tok;

	if (len >= sizeof word)
		len = sizeof word - 1;
	memcpy(word, kw, len);
	word[len] = '\0';
	tok = strtok_r(word, " ", &save);
	if (tok == NULL)
		return;
	if (strcasecmp(tok, "STARTTLS") == 0)
		s->caps |= CAP_STARTTLS;
	else if (strcasecmp(tok, "PIPELINING") == 0)
		s->caps |= CAP_PIPELINING;
	else if (strcasecmp(tok, "8BITMIME") == 0)
		s->caps |= CAP_8BITMIME;
	else if (strcasecmp(tok, "DSN") == 0)
		s->caps |= CAP_DSN;
	else if (strcasecmp(tok, "SMTPUTF8") == 0)
		s->caps |= CAP_SMTPUTF8;
	else if (strcasecmp(tok, "CHUNKING") == 0)
		s->caps |= CAP_CHUNKING;
	else if (strcasecmp(tok, "SIZE") == 0) {
		char *arg = strtok_r(NULL, " ", &save);

		s->caps |= CAP_SIZE;
		s->size_limit = arg ? strtoumax(arg, NULL, 10) : 0;
	} else if (strcasecmp(tok, "AUTH") == 0 || strncasecmp(tok, "AUTH=", 5) == 0) {
		char *mech = tok[4] == '=' ? tok + 5 : strtok_r(NULL, " ", &save);

		s->caps |= CAP_AUTH;
		for (; mech != NULL; mech = strtok_r(NULL, " ", &save))
			smtp_auth_offered(s, mech);
	}
}

static bool ehlo(struct smtp_session *s)
{
	char command[300];
	size_t len;

	s->caps = 0;
	s->size_limit = 0;
	s->auth_offered[0] = '\0';
	s->auth_mechs = 0;
	/* A cut name would still be sent; a name this long is no host name. */
	if (snprintf(command, sizeof command, "EHLO %s", s->ehlo_domain) >= (int)sizeof command)
		return result_fail(s->r, RESULT_CONFIG, _("the EHLO domain is longer than %zu bytes"),
				   sizeof command - 6);
	if (!conn_command(s->c, command, s->r) || !conn_flush(s->c, s->r) || !smtp_read_reply(s, "EHLO"))
		return false;
	if (s->reply.code / 100 != 2) {
		/* Only a server that knows no ESMTP may get HELO, and only when
		 * no extension (STARTTLS, AUTH) is needed. */
		if (s->reply.code / 100 != 5 || s->acct->tls != TLS_MODE_OFF || s->acct->user != NULL)
			return smtp_reply_failed(s, "EHLO", RESULT_PERMFAIL);
		snprintf(command, sizeof command, "HELO %s", s->ehlo_domain);
		return smtp_send_and_expect(s, command, "HELO", 2, RESULT_PERMFAIL);
	}
	s->capabilities[0] = '\0';
	for (unsigned i = 1; i < s->reply.n_lines; i++) {
		const char *kw = smtp_reply_line(&s->reply, i, &len);
		size_t used = strlen(s->capabilities);

		if (kw == NULL)
			continue;
		note_capability(s, kw, len);
		if (used + len + 2 < sizeof s->capabilities) {
			if (used > 0)
				s->capabilities[used++] = ' ';
			log_printable(s->capabilities + used, sizeof s->capabilities - used, kw, len);
		}
	}
	return true;
}

static bool starttls(struct smtp_session *s)
{
	struct tls_params p = {
		.hostname = s->acct->host,
		.ca_file = s->acct->tls_ca_file,
		.verify = s->acct->tls_verify,
		.timeout_s = s->acct->timeout,
		.cache_file = s->acct->tls_cache_file,
	};

	if (!(s->caps & CAP_STARTTLS))
		return result_fail(s->r, RESULT_NOPERM,
				   _("%s does not offer STARTTLS; refusing to continue without TLS (tls = starttls)"),
				   s->acct->host);
	if (!smtp_send_and_expect(s, "STARTTLS", "STARTTLS", 2, RESULT_NOPERM))
		return false;
	if (!conn_starttls(s->c, &p, s->r))
		return false;
	/* RFC 3207: forget everything learnt before TLS and ask again. */
	return ehlo(s);
}

/* ---- transaction ------------------------------------------------------ */

static bool use_smtputf8(const struct smtp_session *s)
{
	return (s->caps & CAP_SMTPUTF8) && s->env->smtputf8 != 0 &&
	       (s->env->needs_smtputf8 || s->env->smtputf8 == 1);
}

static bool note_mail_reply(struct smtp_session *s);
static bool read_rcpt_reply(struct smtp_session *s, size_t i);

/* ---- commands ---------------------------------------------------------- */

/* One command line in a fixed buffer: an append that does not fit marks it
 * truncated and writes nothing past the end. */
struct command {
	char text[SMTP_COMMAND_MAX];
	size_t len;
	bool truncated;
};

static void command_start(struct command *c)
{
	c->text[0] = '\0';
	c->len = 0;
	c->truncated = false;
}

static void command_add(struct command *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void command_add(struct command *c, const char *fmt, ...)
{
	size_t room = sizeof c->text - c->len;
	va_list ap;
	int n;

	if (c->truncated)
		return;
	va_start(ap, fmt);
	n = vsnprintf(c->text + c->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		c->truncated = true;
		c->text[c->len] = '\0';
		return;
	}
	c->len += (size_t)n;
}

/* RFC 3461 xtext: '+', '=' and anything outside 33..126 as +HH. */
static void command_add_xtext(struct command *c, const char *in)
{
	for (; *in != '\0' && !c->truncated; in++) {
		unsigned char ch = (unsigned char)*in;

		if (ch < 33 || ch > 126 || ch == '+' || ch == '=')
			command_add(c, "+%02X", ch);
		else
			command_add(c, "%c", ch);
	}
}

/* A truncated command would name another sender or recipient, or drop a
 * DSN request: such an envelope is refused before anything is sent. */
static bool build_mail(const struct smtp_session *s, off_t size, struct command *c)
{
	const struct envelope *env = s->env;
	bool dsn = s->caps & CAP_DSN;

	command_start(c);
	command_add(c, "MAIL FROM:<%s>", env->sender);
	if (s->caps & CAP_SIZE)
		command_add(c, " SIZE=%jd", (intmax_t)size);
	if ((s->caps & CAP_8BITMIME) && env->body_8bit)
		command_add(c, " BODY=8BITMIME");
	if (use_smtputf8(s))
		command_add(c, " SMTPUTF8");
	if (dsn && env->dsn_ret)
		command_add(c, " RET=%s", env->dsn_ret);
	if (dsn && env->dsn_envid) {
		command_add(c, " ENVID=");
		command_add_xtext(c, env->dsn_envid);
	}
	if (c->truncated)
		return result_fail(s->r, RESULT_DATAERR,
				   _("MAIL FROM: the sender address and DSN parameters do not fit in one SMTP command (%zu bytes at most)"),
				   sizeof c->text - 1);
	return true;
}

static bool build_rcpt(const struct smtp_session *s, size_t i, struct command *c)
{
	command_start(c);
	command_add(c, "RCPT TO:<%s>", s->env->recipients.items[i]);
	if ((s->caps & CAP_DSN) && s->env->dsn_notify)
		command_add(c, " NOTIFY=%s", s->env->dsn_notify);
	if (c->truncated)
		return result_fail(s->r, RESULT_DATAERR,
				   _("RCPT TO: recipient %zu and its DSN parameters do not fit in one SMTP command (%zu bytes at most)"),
				   i + 1, sizeof c->text - 1);
	return true;
}

/* Checked before the first command: every recipient gets a status slot
 * and every command fits, or the transaction does not start. */
static bool envelope_fits(struct smtp_session *s, off_t size)
{
	struct command c;

	if (s->env->recipients.n > SMTP_MAX_STATUS)
		return result_fail(s->r, RESULT_DATAERR,
				   _("too many recipients for one SMTP transaction (%zu; at most %d)"),
				   s->env->recipients.n, SMTP_MAX_STATUS);
	if (!build_mail(s, size, &c))
		return false;
	for (size_t i = 0; i < s->env->recipients.n; i++) {
		if (!build_rcpt(s, i, &c))
			return false;
	}
	return true;
}

static bool queue_envelope(struct smtp_session *s, off_t size)
{
	const struct envelope *env = s->env;
	struct command c;

	if (!(s->caps & CAP_DSN) && (env->dsn_notify || env->dsn_ret || env->dsn_envid))
		log_warn(_("%s does not offer DSN; -N, -R and -V are not passed on"), s->acct->host);
	if (!build_mail(s, size, &c) || !conn_command(s->c, c.text, s->r))
		return false;
	if (!(s->caps & CAP_PIPELINING)) {
		if (!conn_flush(s->c, s->r) || !smtp_read_reply(s, "MAIL FROM"))
			return false;
		if (!note_mail_reply(s))
			return true;    /* refused: no RCPT, no DATA */
	}
	for (size_t i = 0; i < env->recipients.n; i++) {
		if (!build_rcpt(s, i, &c) || !conn_command(s->c, c.text, s->r))
			return false;
		if (!(s->caps & CAP_PIPELINING) &&
		    !(conn_flush(s->c, s->r) && read_rcpt_reply(s, i)))
			return false;
	}
	/* Without PIPELINING, DATA only makes sense for someone. */
	if (!(s->caps & CAP_PIPELINING) && s->accepted == 0)
		return true;
	s->data_sent = true;
	if (s->use_bdat)
		return true;    /* "BDAT n LAST" and the content follow in this group */
	return conn_command(s->c, "DATA", s->r) && conn_flush(s->c, s->r);
}

/* MAIL's reply; false when it refused the transaction. */
static bool note_mail_reply(struct smtp_session *s)
{
	s->mail_failed = s->reply.code / 100 != 2;
	if (s->mail_failed) {
		smtp_reply_failed(s, "MAIL FROM", RESULT_PERMFAIL);
		s->first = *s->r;
	}
	return !s->mail_failed;
}

/* One RCPT reply into out->rcpt_status; the first rejection is kept, a
 * permanent one winning over a temporary one (retrying cannot help).  A
 * reply of another class than 2, 4 or 5 is no answer to RCPT: that
 * recipient failed permanently (a protocol error), never silently. */
static bool read_rcpt_reply(struct smtp_session *s, size_t i)
{
	char step[ADDRESS_MAX + 16];
	int cls;

	snprintf(step, sizeof step, "RCPT TO:<%s>", s->env->recipients.items[i]);
	if (i >= SMTP_MAX_STATUS)       /* envelope_fits() refused such envelopes */
		return result_fail(s->r, RESULT_SOFTWARE, _("%s: no room for the recipient's status"), step);
	if (!smtp_read_reply(s, step))
		return false;
	cls = s->reply.code / 100;
	s->out->rcpt_status[i] = cls == 2 ? 0 : cls == 4 ? 4 : 5;
	if (cls == 2) {
		s->accepted++;
		return true;
	}
	if (s->mail_failed)
		return true;    /* after a refused MAIL the 503s say nothing new */
	s->out->n_rejected++;
	smtp_reply_failed(s, step, RESULT_NOUSER);
	if (s->out->n_refusals < SMTP_REFUSALS_KEPT) {
		struct smtp_refusal *kept = &s->out->refusals[s->out->n_refusals++];

		kept->rcpt = i;
		snprintf(kept->text, sizeof kept->text, "%s", s->r->msg);
	}
	if (cls == 4 && s->out->temp_rejection[0] == '\0')
		snprintf(s->out->temp_rejection, sizeof s->out->temp_rejection, "%s", s->r->msg);
	if (s->first.cls == RESULT_OK || (s->first.cls == RESULT_TEMPFAIL && cls != 4)) {
		s->first = *s->r;
		snprintf(s->out->rejection, sizeof s->out->rejection, "%s", s->r->msg);
	}
	return true;
}

/* The replies of the group.  All recipients must be accepted unless the
 * envelope allows a partial delivery; then one accepted is enough and the
 * others are reported through out->rcpt_status. */
static bool check_envelope_replies(struct smtp_session *s)
{
	bool refused;

	if (s->caps & CAP_PIPELINING) {
		if (!smtp_read_reply(s, "MAIL FROM"))
			return false;
		note_mail_reply(s);
		for (size_t i = 0; i < s->env->recipients.n; i++) {
			if (!read_rcpt_reply(s, i))
				return false;
		}
	}
	refused = s->mail_failed || s->accepted == 0 ||
		  (s->out->n_rejected > 0 && !s->env->allow_partial);
	if (!s->data_sent) {
		*s->r = s->first;
		return false;
	}
	if (s->use_bdat) {
		if (refused)
			*s->r = s->first;
		return !refused;
	}
	if (!smtp_read_reply(s, "DATA"))
		return false;
	if (refused) {
		/* A 354 here would take the content: dropping the connection is the
		 * only way to abort without sending an empty message. */
		*s->r = s->first;
		return false;
	}
	if (s->reply.code != 354)
		return smtp_reply_failed(s, "DATA", RESULT_PERMFAIL);
	return true;
}

/* Dot-stuffing (RFC 5321 4.5.2) over CRLF lines, in large spans. */
static bool write_stuffed(struct conn *c, bool *at_line_start, const char *p, size_t n,
			  struct result *r)
{
	while (n > 0) {
		const char *hit;
		size_t span;

		if (*at_line_start && *p == '.' && !conn_write(c, ".", 1, r))
			return false;
		hit = memmem(p, n, "\n.", 2);
		span = hit ? (size_t)(hit - p) + 1 : n;
		if (!conn_write(c, p, span, r))
			return false;
		*at_line_start = p[span - 1] == '\n';
		p += span;
		n -= span;
	}
	return true;
}

/* The content: dot-stuffed and ended with "." for DATA, raw for BDAT. */
static bool send_content(struct smtp_session *s, const struct message *msg, bool stuffed)
{
	bool bol = true, ok = true;
	char *buf;
	off_t off = msg->body_offset;

	s->out->content_sent = true;
	for (size_t i = 0; i < msg->n_headers && ok; i++) {
		if (!msg->headers[i].omit)
			ok = stuffed ? write_stuffed(s->c, &bol, msg->headers[i].text, msg->headers[i].len, s->r)
				     : conn_write(s->c, msg->headers[i].text, msg->headers[i].len, s->r);
	}
	if (!ok || (!msg->preformatted && !conn_write(s->c, "\r\n", 2, s->r)))
		return false;
	if (s->c->verbose)
		log_trace(">>>", "[message content]", 17);
	buf = malloc(BODY_CHUNK);
	if (buf == NULL)
		return result_fail(s->r, RESULT_OSERR, _("out of memory"));
	while (ok && off < msg->body_offset + msg->body_size) {
		ssize_t n = pread(msg->spool_fd, buf, BODY_CHUNK, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ok = result_fail(s->r, RESULT_OSERR, _("cannot read the spool file: %s"),
					 n < 0 ? strerror(errno) : _("unexpected end"));
			break;
		}
		ok = stuffed ? write_stuffed(s->c, &bol, buf, (size_t)n, s->r)
			     : conn_write(s->c, buf, (size_t)n, s->r);
		off += n;
	}
	free(buf);
	/* Counted in message_wire_size(): the "." must start a line. */
	if (ok && msg->add_crlf)
		ok = conn_write(s->c, "\r\n", 2, s->r);
	return ok && (!stuffed || conn_command(s->c, ".", s->r));
}

/* One transaction.  A failure that came as a reply leaves the session
 * usable for the next message; anything else marks it broken. */
static bool transfer(struct smtp_session *s, const struct message *msg, bool last)
{
	char summary[480];
	off_t size = message_wire_size(msg);

	if ((s->caps & CAP_SIZE) && s->size_limit > 0 && (uintmax_t)size > s->size_limit)
		return result_fail(s->r, RESULT_DATAERR,
				   _("the message (%jd bytes) is larger than the server accepts (%ju bytes)"),
				   (intmax_t)size, s->size_limit);
	/* BDAT puts MAIL, RCPT, the content and QUIT in one flight; it cannot
	 * be taken back, so only where a partial delivery is acceptable. */
	s->use_bdat = (s->caps & CAP_CHUNKING) && (s->caps & CAP_PIPELINING) && s->env->allow_partial;
	if (!envelope_fits(s, size))
		return false;
	if (!queue_envelope(s, size))
		return s->broken = true, false;
	if (s->use_bdat && s->data_sent) {
		char command[64];

		snprintf(command, sizeof command, "BDAT %jd LAST", (intmax_t)size);
		if (!conn_command(s->c, command, s->r) || !send_content(s, msg, false))
			return s->broken = true, false;
	} else if (!check_envelope_replies(s)) {
		/* After a 354 only dropping the connection aborts the data; after
		 * any other reply that is not a refusal the state is unknown. */
		s->broken = s->broken || s->out->reply_code == 0 ||
			    (s->reply.code / 100 != 4 && s->reply.code / 100 != 5);
		return false;
	} else if (!send_content(s, msg, true)) {
		return s->broken = true, false;
	}
	/* RFC 2920: QUIT may close a pipelined group; it saves a round trip. */
	if (last && (s->caps & CAP_PIPELINING)) {
		if (!conn_command(s->c, "QUIT", s->r))
			return s->broken = true, false;
		s->quit_sent = true;
	}
	if (!conn_flush(s->c, s->r))
		return s->broken = true, false;
	if (s->use_bdat && s->data_sent && !check_envelope_replies(s)) {
		/* Nobody took it: the BDAT reply refuses the content too. */
		if (!smtp_read_reply(s, "BDAT"))
			return s->broken = true, false;
		*s->r = s->first;
		return false;
	}
	if (!smtp_read_reply(s, s->use_bdat ? "BDAT" : _("end of data")))
		return s->broken = true, false;
	if (s->reply.code / 100 != 2)
		return smtp_reply_failed(s, s->use_bdat ? "BDAT" : _("end of data"), RESULT_PERMFAIL);
	snprintf(s->out->final_reply, sizeof s->out->final_reply, "%s",
		 reply_summary(s, summary, sizeof summary));
	/* Refused recipients of a partial delivery are in out, not in r. */
	result_clear(s->r);
	return true;
}

bool smtp_open(struct conn *c, const struct account *acct, const struct secret *secret,
	       const char *ehlo_domain, struct smtp_session **out_session,
	       struct smtp_outcome *out, struct result *r)
{
	struct smtp_session *s = calloc(1, sizeof *s);
	bool ok;

	memset(out, 0, sizeof *out);
	*out_session = NULL;
	if (s == NULL) {
		result_fail(r, RESULT_OSERR, _("out of memory"));
		return false;   /* spelled out: the analyzer cannot see result_fail() */
	}
	s->c = c;
	s->out = out;
	s->acct = acct;
	s->ehlo_domain = ehlo_domain;
	s->r = r;
	ok = smtp_expect(s, _("greeting"), 2, RESULT_PERMFAIL) && ehlo(s) &&
	     (acct->tls != TLS_MODE_STARTTLS || starttls(s));
	if (ok && c->tls != NULL)
		tls_describe(c->tls, out->tls, sizeof out->tls);
	ok = ok && smtp_authenticate(s, secret, out);
	if (!ok) {
		free(s);
		return false;
	}
	snprintf(s->tls, sizeof s->tls, "%s", out->tls);
	s->auth_mechanism = out->auth_mechanism;
	*out_session = s;
	return true;
}

bool smtp_send(struct smtp_session *s, const struct envelope *env, const struct message *msg,
	       bool last, struct smtp_outcome *out, struct result *r)
{
	bool ok;

	memset(out, 0, sizeof *out);
	snprintf(out->tls, sizeof out->tls, "%s", s->tls);
	out->auth_mechanism = s->auth_mechanism;
	s->out = out;
	s->r = r;
	s->env = env;
	result_clear(&s->first);
	s->accepted = 0;
	s->mail_failed = false;
	s->data_sent = false;
	s->use_bdat = false;
	if (s->broken)
		return result_fail(r, RESULT_TEMPFAIL, _("the connection to the relay was lost"));
	if (env->needs_smtputf8 && !use_smtputf8(s)) {
		/* Known only now, after EHLO: the header text goes RFC 2047-encoded
		 * in a copy of the header block; the body is streamed as it is. */
		struct message plain;

		ok = header_fix_downgrade(env, msg, &plain, r) && transfer(s, &plain, last);
		message_free(&plain);
	} else {
		ok = transfer(s, msg, last);
	}
	/* A refused transaction must be reset before the next MAIL. */
	if (!ok && !s->broken && !last) {
		struct result ignored;

		s->r = &ignored;
		if (!(conn_command(s->c, "RSET", s->r) && conn_flush(s->c, s->r) &&
		      smtp_expect(s, "RSET", 2, RESULT_PERMFAIL)))
			s->broken = true;
		s->r = r;
	}
	return ok;
}

const char *smtp_capabilities(const struct smtp_session *s)
{
	return s->capabilities;
}

struct tls *smtp_tls(const struct smtp_session *s)
{
	return s->c->tls;
}

bool smtp_session_usable(const struct smtp_session *s)
{
	return s != NULL && !s->broken && !s->quit_sent;
}

void smtp_close(struct smtp_session *s)
{
	struct result ignored;

	if (s == NULL)
		return;
	/* The messages are accepted; a server that closes instead of
	 * answering QUIT changes nothing. */
	s->r = &ignored;
	if (!s->broken && (s->quit_sent || (conn_command(s->c, "QUIT", s->r) && conn_flush(s->c, s->r))))
		smtp_read_reply(s, "QUIT");
	free(s);
}

bool smtp_submit(struct conn *c, const struct account *acct, const struct secret *secret,
		 const struct envelope *env, const struct message *msg,
		 struct smtp_outcome *out, struct result *r)
{
	struct smtp_session *s;
	bool ok;

	if (!smtp_open(c, acct, secret, env->domain, &s, out, r))
		return false;
	ok = smtp_send(s, env, msg, true, out, r);
	if (ok)
		smtp_close(s);
	else
		free(s);
	return ok;
}
