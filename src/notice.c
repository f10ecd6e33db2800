/* Notices of undelivered mail (see notice.h).  The text is built in memory
 * (open_memstream) and read back through message_read_buffer(), so the
 * notice is a message like any other for smtp.c. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "log.h"
#include "notice.h"
#include "rfc5322.h"

#define SUBJECT_MAX 200

/* The header block of msg as it went (or goes) on the wire, bounded:
 * indexed headers that are transmitted, or the start of a preformatted
 * spool (a queue entry) up to its empty line. */
static size_t header_block(const struct message *msg, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t got;
	char *end;

	if (!msg->preformatted) {
		for (size_t i = 0; i < msg->n_headers; i++) {
			const struct header *h = &msg->headers[i];

			if (h->omit || len + h->len > cap)
				continue;
			memcpy(buf + len, h->text, h->len);
			len += h->len;
		}
		return len;
	}
	if (msg->spool_fd < 0)
		return 0;
	do {
		got = pread(msg->spool_fd, buf, cap, 0);
	} while (got < 0 && errno == EINTR);
	if (got <= 0)
		return 0;
	len = (size_t)got;
	if (len >= 2 && memcmp(buf, "\r\n", 2) == 0)
		return 0;       /* no header at all */
	end = memmem(buf, len, "\r\n\r\n", 4);
	return end != NULL ? (size_t)(end - buf) + 2 : len;
}

/* The unfolded value of the first field `name` in block, control
 * characters as spaces, trimmed; "" when there is none. */
static void field_value(const char *block, size_t len, const char *name, char *out, size_t size)
{
	size_t nlen = strlen(name), o = 0, i = 0;

	*out = '\0';
	while (i < len) {
		const char *line = block + i;
		const char *eol = memchr(line, '\n', len - i);
		size_t llen = eol ? (size_t)(eol - line) + 1 : len - i;

		i += llen;
		if (llen <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
			continue;
		for (size_t k = nlen + 1; ; k++) {
			if (k == llen) {
				/* A continuation line starts with a blank. */
				if (i >= len || (block[i] != ' ' && block[i] != '\t'))
					break;
				line = block + i;
				eol = memchr(line, '\n', len - i);
				llen = eol ? (size_t)(eol - line) + 1 : len - i;
				i += llen;
				k = 0;
			}
			if (o + 1 < size && (o > 0 || (line[k] != ' ' && line[k] != '\t')))
				out[o++] = (unsigned char)line[k] < 0x20 || line[k] == 0x7f ? ' ' : line[k];
		}
		break;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* Auto-Submitted (RFC 3834) other than "no": a notice, an auto-reply. */
static bool is_automatic(const char *block, size_t len)
{
	char value[128];

	field_value(block, len, "Auto-Submitted", value, sizeof value);
	if (value[0] == '\0')
		return false;
	return strncasecmp(value, "no", 2) != 0 || (value[2] != '\0' && value[2] != ' ' &&
						      value[2] != ';' && value[2] != '(');
}

const char *notice_recipient(const struct account *acct, const struct envelope *env,
			     const struct message *msg)
{
	char *block;
	size_t len;
	bool automatic;

	if (env->sender == NULL || env->sender[0] == '\0')
		return NULL;    /* the null sender: a bounce, never answered */
	block = malloc(NOTICE_HEADERS_MAX);
	if (block == NULL)
		return NULL;
	len = header_block(msg, block, NOTICE_HEADERS_MAX);
	automatic = is_automatic(block, len);
	free(block);
	if (automatic)
		return NULL;
	if (acct != NULL && acct->admin_address != NULL && acct->admin_address[0] != '\0')
		return acct->admin_address;
	/* -N never / -N success,delay: the sender asked for no failure notice. */
	if (env->dsn_notify != NULL && strcasestr(env->dsn_notify, "FAILURE") == NULL)
		return NULL;
	return env->sender;
}

/* "Subject: Undelivered mail: <the original subject>", encoded when not
 * ASCII. */
static void put_subject(FILE *f, const char *block, size_t len)
{
	char subject[SUBJECT_MAX + 1], line[SUBJECT_MAX + 64], enc[SUBJECT_MAX * 4 + 64];
	size_t out = 0;

	field_value(block, len, "Subject", subject, sizeof subject);
	rfc5322_utf8_trim_partial(subject);
	snprintf(line, sizeof line, "Undelivered mail: %s", subject[0] ? subject : "(no subject)");
	if (rfc5322_has_8bit(line, strlen(line)) && rfc5322_encode_words(line, strlen(line), 9, enc, sizeof enc, &out))
		fprintf(f, "Subject: %.*s\r\n", (int)out, enc);
	else
		fprintf(f, "Subject: %s\r\n", line);      /* ASCII, or the 8-bit text as it came */
}

static void put_headers(FILE *f, const struct notice_about *a, const char *to, bool eight_bit)
{
	unsigned char rnd[12];
	char date[64], id[512], from[1100];
	time_t now = time(NULL);
	const char *domain = a->env->domain ? a->env->domain : "localhost";

	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		memset(rnd, 0, sizeof rnd);     /* the time still tells notices apart */
	if (!rfc5322_format_date(now, date, sizeof date))
		date[0] = '\0';
	if (!rfc5322_format_message_id(now, rnd, sizeof rnd, domain, id, sizeof id))
		id[0] = '\0';
	/* The relay must accept the From: address: the identity the failed
	 * message was sent as is one this account uses. */
	if (!rfc5322_format_mailbox("Mail Delivery System", a->env->sender, from, sizeof from))
		snprintf(from, sizeof from, "<%s>", a->env->sender);
	fprintf(f, "From: %s\r\nTo: <%s>\r\n", from, to);
	fprintf(f, "Date: %s\r\nMessage-ID: %s\r\n", date, id);
	fputs("Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
	      "Content-Type: text/plain; charset=utf-8\r\n", f);
	fprintf(f, "Content-Transfer-Encoding: %s\r\n", eight_bit ? "8bit" : "7bit");
}

/* A line of our own text, made printable (relay replies, paths). */
static void put_text(FILE *f, const char *prefix, const char *text)
{
	char shown[RESULT_MSG_MAX * 4];

	fprintf(f, "%s%s\r\n", prefix, log_escape(shown, sizeof shown, text ? text : ""));
}

static void put_body(FILE *f, const struct notice_about *a, const char *block, size_t len)
{
	char host[256];

	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	fputs("\r\n", f);     /* the empty line after the header block */
	fprintf(f, _("This is relaymail on %s. Your message could not be delivered to these recipients:"),
		host);
	fputs("\r\n\r\n", f);
	for (size_t i = 0; i < a->n_failed; i++) {
		fprintf(f, "  <%s>\r\n", a->failed[i].rcpt);
		put_text(f, "    ", a->failed[i].error ? a->failed[i].error : a->reason);
	}
	fputs("\r\n", f);
	put_text(f, _("Envelope sender: "), a->env->sender);
	put_text(f, _("Last error: "), a->reason);
	if (a->kept != NULL)
		put_text(f, _("A copy is kept in: "), a->kept);
	fputs("\r\n", f);
	fputs(_("The headers of your message:"), f);
	fputs("\r\n\r\n", f);
	fwrite(block, 1, len, f);
}

/* Headers and body as one text (malloc'ed into *text). */
static bool compose(const struct notice_about *a, const char *to, char **text, size_t *size)
{
	char *block = malloc(NOTICE_HEADERS_MAX), *body = NULL;
	size_t blen, body_len = 0;
	FILE *f = NULL;
	bool ok = false;

	*text = NULL;
	if (block == NULL)
		return false;
	blen = header_block(a->msg, block, NOTICE_HEADERS_MAX);
	f = open_memstream(&body, &body_len);
	if (f == NULL)
		goto out;
	put_body(f, a, block, blen);
	if (fclose(f) != 0)
		goto out;
	f = open_memstream(text, size);
	if (f == NULL)
		goto out;
	put_headers(f, a, to, rfc5322_has_8bit(body, body_len));
	put_subject(f, block, blen);
	fwrite(body, 1, body_len, f);
	ok = fclose(f) == 0;
out:
	free(block);
	free(body);
	if (!ok) {
		free(*text);
		*text = NULL;
	}
	return ok;
}

static bool make_envelope(const struct notice_about *a, const char *to, struct notice *n,
			  struct result *r)
{
	n->env.sender = strdup("");
	n->env.domain = a->env->domain ? strdup(a->env->domain) : NULL;
	if (n->env.sender == NULL || (a->env->domain != NULL && n->env.domain == NULL))
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	n->env.smtputf8 = -1;
	n->env.needs_smtputf8 = rfc5322_has_8bit(to, strlen(to));
	n->env.body_8bit = n->msg.eight_bit;
	return address_list_add(&n->env.recipients, to, r);
}

bool notice_build(const struct notice_about *about, const char *to, const char *spool_dir,
		  struct notice *n, struct result *r)
{
	struct message_read_opts ro = { .ignore_dots = true, .spool_dir = spool_dir };
	char *text = NULL;
	size_t size = 0;

	memset(n, 0, sizeof *n);
	n->msg.spool_fd = -1;
	if (!compose(about, to, &text, &size))
		return result_fail(r, RESULT_OSERR, _("cannot compose the notice: out of memory"));
	if (!message_read_buffer(text, size, &ro, &n->msg, r) || !make_envelope(about, to, n, r)) {
		free(text);
		notice_free(n);
		return false;
	}
	free(text);
	return true;
}

/* The envelope's strings are the notice's own (envelope_free() would pull
 * in envelope.c and its dependencies for three free() calls). */
void notice_free(struct notice *n)
{
	free(n->env.sender);
	free(n->env.domain);
	address_list_free(&n->env.recipients);
	memset(&n->env, 0, sizeof n->env);
	message_free(&n->msg);
	n->msg.spool_fd = -1;
}
