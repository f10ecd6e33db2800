#include "autoconfig.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "envelope.h"
#include "header_fix.h"
#include "i18n.h"
#include "log.h"
#include "rfc5322.h"

static const char *const address_headers[] = {
	"From", "To", "Cc", "Reply-To", "Sender",
	"Resent-From", "Resent-To", "Resent-Cc", "Resent-Sender",
};

static bool is_address_header(const struct header *h)
{
	for (size_t k = 0; k < sizeof address_headers / sizeof address_headers[0]; k++) {
		if (message_header_is(h, address_headers[k]))
			return true;
	}
	return false;
}

struct growbuf {
	char *data;
	size_t len, cap;
};

static bool put(struct growbuf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *grown = realloc(b->data, cap);

		if (grown == NULL)
			return false;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

struct rewrite {
	const struct account *acct;
	const char *domain;
	const char *value;
	size_t copied;
	struct growbuf out;
	bool changed;
	bool single;            /* From, Sender: one mailbox only */
};

/* Inside <...> only one address fits. */
static bool in_angle(const char *value, size_t start)
{
	while (start > 0 && (value[start - 1] == ' ' || value[start - 1] == '\t'))
		start--;
	return start > 0 && value[start - 1] == '<';
}

static bool rewrite_one(const char *addr, size_t start, size_t len, void *data, struct result *r)
{
	struct rewrite *rw = data;
	struct address_list expanded = { 0 };
	bool ok;

	if (!put(&rw->out, rw->value + rw->copied, start - rw->copied))
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	rw->copied = start + len;
	if (strchr(addr, '@') != NULL)
		return put(&rw->out, rw->value + start, len) ||
		       result_fail(r, RESULT_OSERR, _("out of memory"));
	ok = envelope_expand_address(rw->acct, addr, rw->domain, &expanded, r);
	for (size_t i = 0; ok && i < expanded.n; i++) {
		if (i > 0 && (rw->single || in_angle(rw->value, start)))
			break;
		ok = (i == 0 || put(&rw->out, ", ", 2)) &&
		     put(&rw->out, expanded.items[i], strlen(expanded.items[i]));
		if (!ok)
			result_fail(r, RESULT_OSERR, _("out of memory"));
	}
	address_list_free(&expanded);
	rw->changed = true;
	return ok;
}

/* Replace h's value by text (without the final CRLF). */
static bool replace_value(struct header *h, const char *text, size_t len, struct result *r)
{
	size_t vlen;
	const char *value = message_header_value(h, &vlen);
	size_t prefix = (size_t)(value - h->text);
	char *fresh = malloc(prefix + len + 3);

	if (fresh == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	memcpy(fresh, h->text, prefix);
	memcpy(fresh + prefix, text, len);
	memcpy(fresh + prefix + len, "\r\n", 3);
	free(h->text);
	h->text = fresh;
	h->cap = 0;
	h->len = prefix + len + 2;
	return true;
}

static bool fix_header(const struct account *acct, const char *domain, struct header *h,
		       struct result *r)
{
	struct rewrite rw = { acct, domain, NULL, 0, { NULL, 0, 0 }, false, false };
	size_t len;
	bool ok;

	/* An alias to several addresses names one author: the first. */
	rw.single = message_header_is(h, "From") || message_header_is(h, "Sender") ||
		    message_header_is(h, "Resent-From") || message_header_is(h, "Resent-Sender");
	rw.value = message_header_value(h, &len);
	ok = rfc5322_scan_address_list(rw.value, len, rewrite_one, &rw, r);
	if (ok && rw.changed)
		ok = (put(&rw.out, rw.value + rw.copied, len - rw.copied) ||
		      result_fail(r, RESULT_OSERR, _("out of memory"))) &&
		     replace_value(h, rw.out.data, rw.out.len, r);
	free(rw.out.data);
	return ok;
}

bool header_fix_addresses(const struct account *acct, const char *domain, struct message *msg,
			  struct result *r)
{
	for (size_t i = 0; i < msg->n_headers; i++) {
		struct header *h = &msg->headers[i];

		if (h->omit)
			continue;
		for (size_t k = 0; k < sizeof address_headers / sizeof address_headers[0]; k++) {
			if (message_header_is(h, address_headers[k]) && !fix_header(acct, domain, h, r)) {
				r->cls = RESULT_DATAERR;
				return result_prefix(r, address_headers[k]);
			}
		}
	}
	return true;
}

/* ---- From policy ------------------------------------------------------ */

struct first_address {
	char addr[ADDRESS_MAX + 1];
	size_t start;
	bool found;
};

static bool take_first(const char *addr, size_t start, size_t len, void *data, struct result *r)
{
	struct first_address *f = data;

	(void)len;
	(void)r;
	if (!f->found) {
		snprintf(f->addr, sizeof f->addr, "%s", addr);
		f->start = start;
		f->found = true;
	}
	return true;
}

/* "Cron Daemon" from `"Cron Daemon" <root>`, unfolded; empty when there
 * is none. */
static void display_name(const char *value, size_t start, char *buf, size_t size)
{
	size_t end = start, begin = 0, o = 0;

	while (end > 0 && value[end - 1] != '<')
		end--;
	buf[0] = '\0';
	if (end == 0)
		return;
	end--;
	while (begin < end && (value[begin] == ' ' || value[begin] == '\t' || value[begin] == '"'))
		begin++;
	while (end > begin && (value[end - 1] == ' ' || value[end - 1] == '\t' || value[end - 1] == '"'))
		end--;
	for (size_t i = begin; i < end && o + 1 < size; i++) {
		if (value[i] != '\r' && value[i] != '\n')
			buf[o++] = value[i];
	}
	buf[o] = '\0';
	if (o + 1 == size)
		rfc5322_utf8_trim_partial(buf);
}

static bool rewrite_from(const struct account *acct, struct message *msg, struct header *from,
			 const char *display, const char *original, struct result *r)
{
	char name[512], mailbox[2048];
	int n;

	if (display[0] != '\0')
		n = snprintf(name, sizeof name, "%s (%s)", display, original);
	else
		n = snprintf(name, sizeof name, "%s", original);
	if (n < 0 || (size_t)n >= sizeof name)
		rfc5322_utf8_trim_partial(name);
	/* replace_value keeps "From:"; the value starts with a blank. */
	mailbox[0] = ' ';
	if (!rfc5322_format_mailbox(name, acct->from, mailbox + 1, sizeof mailbox - 1))
		return result_fail(r, RESULT_DATAERR, _("From: cannot build the rewritten header"));
	if (!replace_value(from, mailbox, strlen(mailbox), r))
		return false;
	if (message_find(msg, "Reply-To", 0) < 0)
		return message_add_header(msg, "Reply-To", original, r);
	return true;
}

bool header_fix_from_policy(const struct account *acct, const char *domain, struct message *msg,
			    struct result *r)
{
	struct first_address first = { "", 0, false };
	struct address_list qualified = { 0 };
	char display[256];
	long idx = message_find(msg, "From", 0);
	struct header *from;
	const char *value;
	size_t len;
	bool unqualified, rewrite, ok;

	if (acct->from_policy == FROM_POLICY_KEEP || acct->from == NULL || idx < 0)
		return true;
	from = &msg->headers[idx];
	value = message_header_value(from, &len);
	if (!rfc5322_scan_address_list(value, len, take_first, &first, r) || !first.found)
		return true;    /* left to the relay: nothing sensible to rewrite */
	unqualified = strchr(first.addr, '@') == NULL;
	if (!envelope_expand_address(acct, first.addr, domain, &qualified, r))
		return false;
	rewrite = qualified.n > 0 &&
		  (acct->from_policy == FROM_POLICY_ALWAYS ? strcasecmp(qualified.items[0], acct->from) != 0
							   : unqualified);
	display_name(value, first.start, display, sizeof display);
	ok = !rewrite || rewrite_from(acct, msg, from, display, qualified.items[0], r);
	address_list_free(&qualified);
	return ok;
}

/* ---- From for a message without one ---------------------------------- */

/* The sender's full name as Postfix's sendmail takes it: -F, else $NAME,
 * else the passwd GECOS up to its first comma ("Full Name,room,phone").
 * $NAME is the caller's only in the client: the service's environment is
 * its own, and its caller's GECOS comes with the request. */
static void full_name(const struct options *opts, char *buf, size_t size)
{
	const struct passwd *pw;
	const char *name = opts->fullname, *env = NULL;
	bool gecos = false;

	if (name == NULL && opts->caller_user == NULL)
		env = secure_getenv("NAME");
	if (name == NULL && env != NULL && *env != '\0')
		name = env;
	if (name == NULL) {
		gecos = true;
		if (opts->caller_user != NULL)
			name = opts->caller_gecos;
		else if ((pw = getpwuid(getuid())) != NULL)
			name = pw->pw_gecos;
	}
	if (snprintf(buf, size, "%s", name ? name : "") >= (int)size)
		rfc5322_utf8_trim_partial(buf);
	if (gecos)
		buf[strcspn(buf, ",")] = '\0';
}

bool header_fix_add_from(const struct options *opts, const struct envelope *env,
			 struct message *msg, struct result *r)
{
	char buf[2048], name[256], daemon[300];

	if (message_find(msg, "From", 0) >= 0)
		return true;
	/* The null sender's From names no person (Postfix: MAILER-DAEMON). */
	if (*env->sender == '\0') {
		snprintf(daemon, sizeof daemon, "MAILER-DAEMON@%s", env->domain);
		name[0] = '\0';
	} else {
		full_name(opts, name, sizeof name);
	}
	if (!rfc5322_format_mailbox(name, *env->sender ? env->sender : daemon, buf, sizeof buf) ||
	    !message_add_header(msg, "From", buf, r))
		return result_fail(r, RESULT_SOFTWARE, _("cannot add a From header"));
	return true;
}

/* ---- 8-bit header text ---------------------------------------------- */

static bool is_unstructured(const struct header *h)
{
	return message_header_is(h, "Subject") || message_header_is(h, "Comments") ||
	       (h->name_len > 2 && strncasecmp(h->text, "X-", 2) == 0);
}

/* The value unfolded (CRLF before blanks removed) and trimmed. */
static bool unfolded_value(const struct header *h, struct growbuf *out)
{
	size_t len, i = 0;
	const char *v = message_header_value(h, &len);

	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	for (; i < len; i++) {
		if (v[i] == '\r' || v[i] == '\n')
			continue;
		if (!put(out, v + i, 1))
			return false;
	}
	return true;
}

static bool encode_header(struct header *h, struct result *r)
{
	struct growbuf plain = { NULL, 0, 0 };
	size_t size, len = 1;
	char *encoded = NULL;
	bool ok = false;

	if (!unfolded_value(h, &plain))
		goto out;
	size = plain.len * 3 + 64;
	encoded = malloc(size);
	if (encoded == NULL)
		goto out;
	encoded[0] = ' ';
	ok = rfc5322_encode_words(plain.data ? plain.data : "", plain.len, h->name_len + 2, encoded,
				  size, &len) &&
	     replace_value(h, encoded, len, r);
out:
	free(plain.data);
	free(encoded);
	return ok || result_fail(r, RESULT_OSERR, _("out of memory"));
}

bool header_fix_encode_8bit(struct message *msg, bool *eight_bit_left, struct result *r)
{
	*eight_bit_left = false;
	for (size_t i = 0; i < msg->n_headers; i++) {
		struct header *h = &msg->headers[i];

		if (h->omit || !rfc5322_has_8bit(h->text, h->len))
			continue;
		if (!is_unstructured(h))
			*eight_bit_left = true;
		else if (!encode_header(h, r))
			return false;
	}
	return true;
}

/* ---- relays without SMTPUTF8 ------------------------------------------ */

/* Address lists whose display names and comments can be encoded. */
static bool has_phrases(const struct header *h)
{
	return is_address_header(h) || message_header_is(h, "Disposition-Notification-To");
}

/* Fields with a syntax of their own (RFC 5322, 2045, 2183, 2369, 6376):
 * an encoded word would change what they say.  Any other field is
 * unstructured text (RFC 5322 3.6.8). */
static bool is_structured(const struct header *h)
{
	static const char *const names[] = {
		"Date", "Message-ID", "In-Reply-To", "References", "Resent-Date",
		"Resent-Message-ID", "Return-Path", "Received", "Keywords", "MIME-Version",
		"Content-Type", "Content-Transfer-Encoding", "Content-ID", "Content-Disposition",
		"Content-Language", "DKIM-Signature", "Authentication-Results", "Auto-Submitted",
	};

	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		if (message_header_is(h, names[k]))
			return true;
	}
	return (h->name_len > 5 && strncasecmp(h->text, "List-", 5) == 0) ||
	       (h->name_len > 4 && strncasecmp(h->text, "ARC-", 4) == 0);
}

/* "WHAT: SMTPUTF8 is needed, ..." (what may be r->msg). */
static bool refuse_8bit(const struct envelope *env, const char *what, struct result *r)
{
	char copy[RESULT_MSG_MAX];

	snprintf(copy, sizeof copy, "%s", what);
	return result_fail(r, RESULT_DATAERR,
			   env->smtputf8 == 0 ? _("%s: SMTPUTF8 is needed, and -O smtputf8=no was given")
			   : _("%s: SMTPUTF8 is needed, and the relay does not offer it"), copy);
}

/* RFC 6531 3.2: no encoding carries a UTF-8 mailbox. */
static bool envelope_ascii(const struct envelope *env, struct result *r)
{
	char what[RESULT_MSG_MAX];

	for (size_t i = 0; i <= env->recipients.n; i++) {
		const char *a = i == 0 ? env->sender : env->recipients.items[i - 1];

		if (rfc5322_has_8bit(a, strlen(a))) {
			snprintf(what, sizeof what, _("the address '%s' is not ASCII"), a);
			return refuse_8bit(env, what, r);
		}
	}
	return true;
}

/* The value with its display names and comments encoded; the buffer grows
 * until the encoded text fits (many short names grow most). */
static bool encode_phrases(const struct envelope *env, struct header *h, struct result *r)
{
	char what[RESULT_MSG_MAX];
	size_t vlen, outlen;
	const char *v = message_header_value(h, &vlen);
	bool ok = false;

	for (size_t size = vlen * 3 + 256; !ok && size <= vlen * 32 + 256; size *= 2) {
		char *buf = malloc(size);

		if (buf == NULL)
			return result_fail(r, RESULT_OSERR, _("out of memory"));
		ok = rfc5322_encode_phrases(v, vlen, h->name_len + 1, buf, size, &outlen, r) &&
		     replace_value(h, buf, outlen, r);
		free(buf);
		if (!ok && r->cls != RESULT_OSERR)
			break;
	}
	if (ok || r->cls != RESULT_DATAERR)
		return ok;
	/* Names are short; a cut message is still a message. */
	if (snprintf(what, sizeof what, "%.*s: %.600s", (int)(h->name_len < 100 ? h->name_len : 100),
		     h->text, r->msg) < 0)
		what[0] = '\0';
	return refuse_8bit(env, what, r);
}

static bool refuse_field(const struct envelope *env, const struct header *h, struct result *r)
{
	char what[RESULT_MSG_MAX];

	snprintf(what, sizeof what, _("%.*s: the field is not ASCII"), (int)h->name_len, h->text);
	return refuse_8bit(env, what, r);
}

bool header_fix_downgrade(const struct envelope *env, const struct message *msg,
			  struct message *plain, struct result *r)
{
	bool ok;

	memset(plain, 0, sizeof *plain);
	plain->spool_fd = -1;
	ok = envelope_ascii(env, r) && message_copy(msg, plain, r);

	for (size_t i = 0; ok && i < plain->n_headers; i++) {
		struct header *h = &plain->headers[i];

		if (h->omit || !rfc5322_has_8bit(h->text, h->len))
			continue;
		if (has_phrases(h))
			ok = encode_phrases(env, h, r);
		else if (is_structured(h))
			ok = refuse_field(env, h, r);
		else
			ok = encode_header(h, r);
	}
	ok = ok && header_fix_fold(plain, r);
	if (!ok)
		message_free(plain);
	return ok;
}

/* ---- folding ----------------------------------------------------------- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Where a line may be folded: before a blank, or (breaks[i] set) before
 * position i, right after a comma that separates addresses. */
struct fold_map {
	const char *text;
	const unsigned char *breaks;    /* NULL: blanks only */
};

static bool may_cut(const struct fold_map *m, size_t i)
{
	return is_blank(m->text[i]) || (m->breaks != NULL && m->breaks[i]);
}

/* Fold one physical line text[pos, end) (end at its CR) into lines of at
 * most HEADER_LINE_MAX characters: at the last place may_cut() allows that
 * leaves something before it, else (one unbreakable run) hard, at a UTF-8
 * character boundary.  A break that is not before a blank gets one
 * inserted to make the rest a continuation line, which then counts against
 * the limit too.  Sets *hard for a hard break. */
static bool fold_line(const struct fold_map *m, size_t pos, size_t end, struct growbuf *out,
		      bool *hard)
{
	const char *text = m->text;
	size_t lead = 0;        /* 1 after a break not at a blank: the inserted blank */

	while (lead + (end - pos) > HEADER_LINE_MAX) {
		size_t room = HEADER_LINE_MAX - lead, cut = pos + room;

		while (cut > pos + 1 && !may_cut(m, cut))
			cut--;
		if (cut == pos + 1 && !may_cut(m, cut)) {
			cut = pos + room;
			for (int k = 0; k < 3 && cut > pos + 1 && ((unsigned char)text[cut] & 0xC0) == 0x80; k++)
				cut--;
			*hard = true;
		}
		if ((lead && !put(out, " ", 1)) || !put(out, text + pos, cut - pos) ||
		    !put(out, "\r\n", 2))
			return false;
		lead = is_blank(text[cut]) ? 0 : 1;
		pos = cut;
	}
	return (!lead || put(out, " ", 1)) && put(out, text + pos, end - pos);
}

static bool fold_text(const struct fold_map *m, size_t len, struct growbuf *out, bool *hard)
{
	const char *text = m->text;
	size_t line_start = 0;

	while (line_start < len) {
		const char *nl = memchr(text + line_start, '\n', len - line_start);
		size_t line_end = nl ? (size_t)(nl - text) + 1 : len;
		size_t end = line_end;

		/* every stored line ends with CRLF: fold the text before it */
		if (end - line_start >= 2 && text[end - 1] == '\n' && text[end - 2] == '\r')
			end -= 2;
		if (!fold_line(m, line_start, end, out, hard) ||
		    !put(out, text + end, line_end - end))
			return false;
		line_start = line_end;
	}
	return true;
}

/* Mark the places right after a comma between addresses: not in a quoted
 * string, a comment, <...> (obsolete routes have commas) or [...].  PHP
 * writes "To: a@x,b@y,..." without blanks; folding there keeps every
 * address whole. */
static unsigned char *address_breaks(const struct header *h)
{
	unsigned char *breaks = calloc(h->len + 1, 1);
	size_t depth = 0;       /* comments nest */
	bool quoted = false, angle = false, literal = false;

	if (breaks == NULL)
		return NULL;
	for (size_t i = h->name_len; i < h->len; i++) {
		char c = h->text[i];

		if ((quoted || depth > 0) && c == '\\') {
			i++;
			continue;
		}
		if (quoted)
			quoted = c != '"';
		else if (depth > 0 && c == '(')
			depth++;
		else if (depth > 0)
			depth -= c == ')';
		else if (angle)
			angle = c != '>';
		else if (literal)
			literal = c != ']';
		else if (c == '"')
			quoted = true;
		else if (c == '(')
			depth = 1;
		else if (c == '<')
			angle = true;
		else if (c == '[')
			literal = true;
		else if (c == ',' && i + 1 < h->len)
			breaks[i + 1] = 1;
	}
	return breaks;
}

static bool needs_folding(const struct header *h)
{
	size_t run = 0;

	for (size_t i = 0; i < h->len; i++) {
		run = h->text[i] == '\n' ? 0 : run + 1;
		if (run > HEADER_LINE_MAX + 1)  /* the CR counts in run */
			return true;
	}
	return false;
}

static bool fold_header(struct header *h, struct result *r)
{
	struct growbuf out = { NULL, 0, 0 };
	struct fold_map m = { h->text, NULL };
	unsigned char *breaks = NULL;
	bool hard = false, ok;

	if (is_address_header(h) && (breaks = address_breaks(h)) == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	m.breaks = breaks;
	ok = fold_text(&m, h->len, &out, &hard);
	free(breaks);
	if (!ok) {
		free(out.data);
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	}
	/* A blank inserted into unstructured text would change it; encoded
	 * words may be folded anywhere and decode to the text as it was. */
	if (hard && is_unstructured(h)) {
		free(out.data);
		return encode_header(h, r);
	}
	free(h->text);
	h->text = out.data;
	h->cap = 0;
	h->len = out.len;
	return true;
}

bool header_fix_fold(struct message *msg, struct result *r)
{
	for (size_t i = 0; i < msg->n_headers; i++) {
		struct header *h = &msg->headers[i];

		if (h->omit)
			continue;
		/* "Name: " has to fit on the first line: a name cannot be folded. */
		if (h->name_len + 2 > HEADER_LINE_MAX)
			return result_fail(r, RESULT_DATAERR, _("a header field name is longer than %d characters"),
					   HEADER_LINE_MAX - 2);
		if (needs_folding(h) && !fold_header(h, r))
			return false;
	}
	return true;
}
