#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <search.h>

#include <gnutls/gnutls.h>

#include "i18n.h"
#include "rfc5322.h"

/* ---- address list ---------------------------------------------------- */

static int ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* A total order whose equality is "the same address": the local part
 * byte for byte, then whether there is a domain, then the domain without
 * regard to ASCII case (not strcasecmp, whose folding follows the locale). */
static int address_cmp(const void *pa, const void *pb)
{
	const char *a = pa, *b = pb;
	const char *at_a = strrchr(a, '@'), *at_b = strrchr(b, '@');
	size_t local_a = at_a ? (size_t)(at_a - a) : strlen(a);
	size_t local_b = at_b ? (size_t)(at_b - b) : strlen(b);
	int c = memcmp(a, b, local_a < local_b ? local_a : local_b);

	if (c != 0)
		return c;
	if (local_a != local_b)
		return local_a < local_b ? -1 : 1;
	if (!at_a || !at_b)
		return (at_a != NULL) - (at_b != NULL);
	for (a = at_a + 1, b = at_b + 1; *a && ascii_lower(*a) == ascii_lower(*b); a++, b++)
		;
	return ascii_lower((unsigned char)*a) - ascii_lower((unsigned char)*b);
}

/* A balanced tree rather than a hash table: the addresses come from the
 * message, and no choice of them can make a lookup slower than O(log n). */
bool address_list_add(struct address_list *list, const char *addr, struct result *r)
{
	char *copy;

	if (tfind(addr, &list->index, address_cmp) != NULL)
		return true;
	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 8;
		char **grown = realloc(list->items, cap * sizeof *grown);

		if (grown == NULL)
			return result_fail(r, RESULT_OSERR, _("out of memory"));
		list->items = grown;
		list->cap = cap;
	}
	copy = strdup(addr);
	if (copy == NULL || tsearch(copy, &list->index, address_cmp) == NULL) {
		free(copy);
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	}
	list->items[list->n++] = copy;
	return true;
}

static void keep_item(void *item)
{
	(void)item;     /* owned by items[], freed there */
}

void address_list_free(struct address_list *list)
{
	tdestroy(list->index, keep_item);
	for (size_t i = 0; i < list->n; i++)
		free(list->items[i]);
	free(list->items);
	memset(list, 0, sizeof *list);
}

bool rfc5322_address_is_safe(const char *addr)
{
	size_t len = strlen(addr);

	if (len > ADDRESS_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)addr[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* ---- lexer ----------------------------------------------------------- */

enum tok_type { T_END, T_WORD, T_LITERAL, T_SPECIAL, T_ERROR };

struct token {
	enum tok_type type;
	const char *start;
	size_t len;
};

struct lexer {
	const char *p, *end;
	const char *error;
};

#define SPECIALS "<>@,:;."

static bool skip_comment(struct lexer *lx)
{
	int depth = 0;

	do {
		if (lx->p >= lx->end) {
			lx->error = N_("unterminated comment");
			return false;
		}
		if (*lx->p == '\\' && lx->p + 1 < lx->end)
			lx->p++;
		else if (*lx->p == '(')
			depth++;
		else if (*lx->p == ')')
			depth--;
		lx->p++;
	} while (depth > 0);
	return true;
}

static bool skip_cfws(struct lexer *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			lx->p++;
		else if (c == '(') {
			if (!skip_comment(lx))
				return false;
		} else
			break;
	}
	return true;
}

static bool scan_delimited(struct lexer *lx, char close, const char *error)
{
	lx->p++;
	while (lx->p < lx->end && *lx->p != close) {
		if (*lx->p == '\\')
			lx->p++;
		lx->p++;
	}
	if (lx->p >= lx->end) {
		lx->error = error;
		return false;
	}
	lx->p++;
	return true;
}

static bool is_atext(unsigned char c)
{
	return c > 32 && c != 127 && !strchr(SPECIALS "()[]\"\\", c);
}

static struct token next_token(struct lexer *lx)
{
	struct token t = { T_END, NULL, 0 };

	if (!skip_cfws(lx))
		return t.type = T_ERROR, t;
	if (lx->p >= lx->end)
		return t;
	t.start = lx->p;
	if (*lx->p == '"') {
		t.type = scan_delimited(lx, '"', N_("unterminated quoted string")) ? T_WORD : T_ERROR;
	} else if (*lx->p == '[') {
		t.type = scan_delimited(lx, ']', N_("unterminated domain literal")) ? T_LITERAL : T_ERROR;
	} else if (strchr(SPECIALS, *lx->p)) {
		t.type = T_SPECIAL;
		lx->p++;
	} else if (is_atext((unsigned char)*lx->p)) {
		t.type = T_WORD;
		while (lx->p < lx->end && is_atext((unsigned char)*lx->p))
			lx->p++;
	} else {
		lx->error = N_("invalid character in address");
		t.type = T_ERROR;
	}
	t.len = (size_t)(lx->p - t.start);
	return t;
}

static bool is_special(const struct token *t, char c)
{
	return t->type == T_SPECIAL && *t->start == c;
}

/* ---- parser ---------------------------------------------------------- */

#define MAX_ELEMENT_TOKENS 256

struct sink {
	const char *text;               /* start of the parsed text, for offsets */
	rfc5322_address_fn found;
	void *data;
};

struct element {
	struct token tok[MAX_ELEMENT_TOKENS];
	size_t n;
};

/* Turn tokens local-part ["@" domain] into one string; reject phrases
 * without an address ("John Smith"). */
static bool build_addr_spec(const struct token *tok, size_t n, const struct sink *out,
			    struct result *r)
{
	char addr[ADDRESS_MAX + 1];
	size_t len = 0;
	bool want_word = true, seen_at = false;

	for (size_t i = 0; i < n; i++) {
		const struct token *t = &tok[i];
		/* A domain literal is a whole domain, never one label of it. */
		bool literal_domain = t->type == T_LITERAL && seen_at && i + 1 == n &&
				      is_special(&tok[i - 1], '@');
		bool word = t->type == T_WORD || literal_domain;

		if (want_word != word)
			return result_fail(r, RESULT_DATAERR, _("invalid address '%.*s'"),
					   (int)(tok[n - 1].start + tok[n - 1].len - tok[0].start), tok[0].start);
		if (is_special(t, '@')) {
			if (seen_at)
				return result_fail(r, RESULT_DATAERR, _("invalid address: two '@'"));
			seen_at = true;
		} else if (!word && !is_special(t, '.')) {
			return result_fail(r, RESULT_DATAERR, _("invalid address: unexpected '%c'"), *t->start);
		}
		if (len + t->len > ADDRESS_MAX)
			return result_fail(r, RESULT_DATAERR, _("address longer than %d characters"), ADDRESS_MAX);
		memcpy(addr + len, t->start, t->len);
		len += t->len;
		want_word = !want_word;
	}
	if (n == 0 || want_word)
		return result_fail(r, RESULT_DATAERR, _("invalid address: incomplete"));
	addr[len] = '\0';
	/* Folding inside a quoted string would carry CR LF into an SMTP command. */
	if (!rfc5322_address_is_safe(addr))
		return result_fail(r, RESULT_DATAERR, _("invalid address: control character"));
	return out->found(addr, (size_t)(tok[0].start - out->text),
			  (size_t)(tok[n - 1].start + tok[n - 1].len - tok[0].start), out->data, r);
}

/* Inside <...>: an optional obsolete route "@a,@b:" then the addr-spec. */
static bool parse_angle_addr(struct lexer *lx, const struct sink *out, struct result *r)
{
	struct element el;
	struct token t;

	el.n = 0;
	for (;;) {
		t = next_token(lx);
		if (t.type == T_ERROR)
			return result_fail(r, RESULT_DATAERR, "%s", _(lx->error));
		if (t.type == T_END)
			return result_fail(r, RESULT_DATAERR, _("missing '>' in address"));
		if (is_special(&t, '>'))
			break;
		if (is_special(&t, ':')) {      /* end of an obsolete route */
			el.n = 0;
			continue;
		}
		if (el.n == MAX_ELEMENT_TOKENS)
			return result_fail(r, RESULT_DATAERR, _("address too long"));
		el.tok[el.n++] = t;
	}
	if (el.n == 0)          /* "<>" is the null address: nothing to add */
		return true;
	return build_addr_spec(el.tok, el.n, out, r);
}

/* One list: mailboxes separated by ','; groups "name: a, b;" at the top
 * level only.  Returns at END, or at ';' when inside a group. */
static bool parse_list(struct lexer *lx, const struct sink *out, bool in_group,
		       struct result *r)
{
	struct element *el = malloc(sizeof *el);
	bool angle_done = false, ok = false;

	if (el == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	el->n = 0;
	for (;;) {
		struct token t = next_token(lx);
		bool end = t.type == T_END || is_special(&t, ',') || (in_group && is_special(&t, ';'));

		if (t.type == T_ERROR) {
			result_fail(r, RESULT_DATAERR, "%s", _(lx->error));
			goto out;
		}
		if (end) {
			if (!angle_done && el->n > 0 && !build_addr_spec(el->tok, el->n, out, r))
				goto out;
			el->n = 0;
			angle_done = false;
			if (t.type == T_END && in_group) {
				result_fail(r, RESULT_DATAERR, _("missing ';' after group"));
				goto out;
			}
			if (t.type == T_END || is_special(&t, ';'))
				break;
			continue;
		}
		if (angle_done) {
			result_fail(r, RESULT_DATAERR, _("unexpected text after '>'"));
			goto out;
		}
		if (is_special(&t, '<')) {
			if (!parse_angle_addr(lx, out, r))
				goto out;
			angle_done = true;
		} else if (is_special(&t, ':') && !in_group) {
			if (!parse_list(lx, out, true, r))
				goto out;
			el->n = 0;
			angle_done = true;      /* only ',' may follow a group */
		} else if (is_special(&t, ';') || is_special(&t, '>') || is_special(&t, ':')) {
			result_fail(r, RESULT_DATAERR, _("unexpected '%c' in address list"), *t.start);
			goto out;
		} else if (el->n == MAX_ELEMENT_TOKENS) {
			result_fail(r, RESULT_DATAERR, _("address too long"));
			goto out;
		} else {
			el->tok[el->n++] = t;
		}
	}
	ok = true;
out:
	free(el);
	return ok;
}

bool rfc5322_scan_address_list(const char *text, size_t len, rfc5322_address_fn found,
			       void *data, struct result *r)
{
	struct lexer lx = { text, text + len, NULL };
	struct sink out = { text, found, data };

	return parse_list(&lx, &out, false, r);
}

static bool add_to_list(const char *addr, size_t start, size_t len, void *data, struct result *r)
{
	(void)start;
	(void)len;
	return address_list_add(data, addr, r);
}

bool rfc5322_parse_address_list(const char *text, size_t len, struct address_list *out,
				struct result *r)
{
	return rfc5322_scan_address_list(text, len, add_to_list, out, r);
}

/* ---- formatting ------------------------------------------------------ */

bool rfc5322_format_date(time_t t, char *buf, size_t size)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;
	int n;

	if (localtime_r(&t, &tm) == NULL)
		return false;
	off = tm.tm_gmtoff / 60;
	n = snprintf(buf, size, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
		     days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
		     tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
		     labs(off) / 60, labs(off) % 60);
	return n > 0 && (size_t)n < size;
}

bool rfc5322_format_message_id(time_t t, const unsigned char *random, size_t nrandom,
			       const char *domain, char *buf, size_t size)
{
	struct tm tm;
	size_t len;
	int n;

	if (gmtime_r(&t, &tm) == NULL)
		return false;
	n = snprintf(buf, size, "<%04d%02d%02d%02d%02d%02d.", tm.tm_year + 1900, tm.tm_mon + 1,
		     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n < 0 || (size_t)n >= size)
		return false;
	len = (size_t)n;
	for (size_t i = 0; i < nrandom; i++) {
		if (len + 3 > size)
			return false;
		snprintf(buf + len, 3, "%02x", random[i]);
		len += 2;
	}
	n = snprintf(buf + len, size - len, "@%s>", domain);
	return n > 0 && (size_t)n < size - len;
}

static bool is_ascii_printable(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 32 || (unsigned char)*s > 126)
			return false;
	}
	return true;
}

static bool valid_utf8(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t extra = p[i] < 0x80 ? 0 : (p[i] & 0xE0) == 0xC0 ? 1
			       : (p[i] & 0xF0) == 0xE0 ? 2 : (p[i] & 0xF8) == 0xF0 ? 3 : 4;

		if (extra == 4 || (extra > 0 && p[i] < 0xC2) || i + extra >= len)
			return false;
		for (size_t k = 1; k <= extra; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
		}
		i += extra + 1;
	}
	return true;
}

/* RFC 2047 B-encoding in words of at most 75 characters, split only at
 * UTF-8 character boundaries.  Bytes that are not UTF-8 are declared
 * UNKNOWN-8BIT (RFC 1428) rather than guessed. */
bool rfc5322_encode_words(const char *text, size_t total, size_t first_column, char *buf,
			  size_t size, size_t *len)
{
	bool utf8 = valid_utf8((const unsigned char *)text, total);
	/* 75 characters per word: "=?UTF-8?B?" + "?=" leave 63 for base64,
	 * 45 bytes; "=?UNKNOWN-8BIT?B?" + "?=" leave 56, 42 bytes. */
	const size_t chunk_max = utf8 ? 45 : 42, overhead = utf8 ? 12 : 19;
	/* RFC 2047 2: a line with encoded words is at most 76 characters, so
	 * the first word is shorter by the header's own start of line. */
	size_t first_room = first_column + overhead + 4 < 76 ? (76 - first_column - overhead) / 4 * 3 : 0;
	size_t pos = 0;

	bool fold_first = first_room < 3;       /* no room at all: start on a new line */

	while (pos < total) {
		size_t limit = pos == 0 && !fold_first && first_room < chunk_max ? first_room : chunk_max;
		size_t take = total - pos < limit ? total - pos : limit;
		size_t whole = take;
		gnutls_datum_t in, out;
		int n;

		while (utf8 && pos + take < total && ((unsigned char)text[pos + take] & 0xC0) == 0x80)
			take--;
		if (take == 0) {        /* one character wider than the room left */
			take = whole;
			while (pos + take < total && ((unsigned char)text[pos + take] & 0xC0) == 0x80)
				take++;
		}
		in.data = (unsigned char *)(text + pos);
		in.size = (unsigned)take;
		if (gnutls_base64_encode2(&in, &out) < 0)
			return false;
		n = snprintf(buf + *len, size - *len, "%s=?%s?B?%.*s?=",
			     pos || fold_first ? "\r\n " : "",
			     utf8 ? "UTF-8" : "UNKNOWN-8BIT", (int)out.size, out.data);
		gnutls_free(out.data);
		if (n < 0 || (size_t)n >= size - *len)
			return false;
		*len += (size_t)n;
		pos += take;
	}
	return true;
}

char *rfc5322_trim_wsp(char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
	return s;
}

void rfc5322_utf8_trim_partial(char *buf)
{
	size_t i = strlen(buf), tail = 0, need;
	unsigned char lead;

	while (i > 0 && tail < 3 && ((unsigned char)buf[i - 1] & 0xC0) == 0x80)
		i--, tail++;
	if (i == 0 || (unsigned char)buf[i - 1] < 0xC0)
		return;
	lead = (unsigned char)buf[i - 1];
	need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1;
	if (tail < need)
		buf[i - 1] = '\0';
}

bool rfc5322_format_mailbox(const char *name, const char *addr, char *buf, size_t size)
{
	size_t len = 0;
	int n;

	if (name == NULL || *name == '\0') {
		n = snprintf(buf, size, "%s", addr);
		return n >= 0 && (size_t)n < size;
	}
	if (is_ascii_printable(name)) {
		if (size < 3)
			return false;
		buf[len++] = '"';
		for (const char *p = name; *p; p++) {
			if (len + 3 >= size)
				return false;
			if (*p == '"' || *p == '\\')
				buf[len++] = '\\';
			buf[len++] = *p;
		}
		buf[len++] = '"';
	} else if (!rfc5322_encode_words(name, strlen(name), 6 /* "From: " */, buf, size, &len)) {
		return false;
	}
	n = snprintf(buf + len, size - len, " <%s>", addr);
	return n > 0 && (size_t)n < size - len;
}

/* ---- RFC 2047 in address lists --------------------------------------- */

struct phrase_out {
	char *buf;
	size_t size, len;
	size_t column0;         /* column of the text's first byte */
};

static bool out_put(struct phrase_out *o, const char *p, size_t n)
{
	if (o->len + n >= o->size)
		return false;
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = '\0';
	return true;
}

static size_t out_column(const struct phrase_out *o)
{
	for (size_t i = o->len; i > 0; i--) {
		if (o->buf[i - 1] == '\n')
			return o->len - i;
	}
	return o->column0 + o->len;
}

bool rfc5322_has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)p[i] & 0x80)
			return true;
	}
	return false;
}

static bool is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool mark_addr_spec(const char *addr, size_t start, size_t len, void *data,
			   struct result *r)
{
	(void)addr;
	(void)r;
	memset((unsigned char *)data + start, 1, len);
	return true;
}

/* The text a phrase or a comment's content stands for: folding, quotes
 * and quoted-pair backslashes undone; outside quotes (in a phrase) a run
 * of blanks is one space. */
static size_t phrase_text(const char *p, size_t n, bool comment, char *dst)
{
	size_t o = 0;
	bool quoted = false, blank = false;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c == '\r' || c == '\n')
			continue;
		if (c == '\\' && i + 1 < n) {
			c = p[++i];
		} else if (c == '"' && !comment) {
			quoted = !quoted;
			continue;
		} else if ((c == ' ' || c == '\t') && !quoted && !comment) {
			blank = true;
			continue;
		}
		if (blank && o > 0)
			dst[o++] = ' ';
		blank = false;
		dst[o++] = c;
	}
	return o;
}

/* After a comment that starts at i (nested, with quoted pairs). */
static size_t comment_end(const char *t, size_t i, size_t len)
{
	size_t depth = 0;

	for (; i < len; i++) {
		if (t[i] == '\\')
			i++;
		else if (t[i] == '(')
			depth++;
		else if (t[i] == ')' && --depth == 0)
			return i + 1;
	}
	return len;
}

/* A phrase: words (atoms, quoted strings, obs-phrase dots) and the blanks
 * between them, up to what is not one or belongs to an addr-spec; without
 * its trailing blanks. */
static size_t phrase_end(const char *t, const unsigned char *mark, size_t i, size_t len)
{
	size_t end;

	while (i < len && !mark[i]) {
		if (t[i] == '"') {
			for (i++; i < len && t[i] != '"'; i++)
				i += t[i] == '\\';
			i++;
		} else if (is_atext((unsigned char)t[i]) || t[i] == '.' || is_fws(t[i])) {
			i++;
		} else {
			break;
		}
	}
	end = i < len ? i : len;
	while (end > 0 && is_fws(t[end - 1]))
		end--;
	return end;
}

/* Text with 8-bit bytes as encoded words; plain is scratch of len bytes. */
static bool put_encoded(struct phrase_out *o, const char *p, size_t n, bool comment, char *plain)
{
	size_t plen = phrase_text(p, n, comment, plain);

	return rfc5322_encode_words(plain, plen, out_column(o), o->buf, o->size, &o->len);
}

/* One step over the text at i; returns where the next one starts, or 0
 * (with r set) to stop. */
static size_t encode_step(const char *t, size_t len, size_t i, const unsigned char *mark,
			  bool *angle, struct phrase_out *o, char *plain, struct result *r)
{
	size_t end = i + 1;
	bool ok;

	if (mark[i] || *angle) {
		while (mark[i] && end < len && mark[end])
			end++;
		if (rfc5322_has_8bit(t + i, end - i)) {
			result_fail(r, RESULT_DATAERR, _("the address '%.*s' is not ASCII"),
				    (int)(end - i), t + i);
			return 0;
		}
		*angle = *angle && t[i] != '>';
		ok = out_put(o, t + i, end - i);
	} else if (t[i] == '(') {
		end = comment_end(t, i, len);
		ok = !rfc5322_has_8bit(t + i, end - i) || end - i < 2 || t[end - 1] != ')'
		     ? out_put(o, t + i, end - i)
		     : out_put(o, "(", 1) && put_encoded(o, t + i + 1, end - i - 2, true, plain) &&
		       out_put(o, ")", 1);
	} else if (t[i] == '"' || is_atext((unsigned char)t[i])) {
		end = phrase_end(t, mark, i, len);
		if (end <= i)
			end = i + 1;
		ok = !rfc5322_has_8bit(t + i, end - i) ? out_put(o, t + i, end - i)
		     : put_encoded(o, t + i, end - i, false, plain) &&
		       (end >= len || is_fws(t[end]) || out_put(o, " ", 1));
	} else {
		*angle = t[i] == '<';
		ok = out_put(o, t + i, 1);
	}
	if (!ok) {
		result_fail(r, RESULT_OSERR, _("a header field is too long to encode"));
		return 0;
	}
	return end;
}

bool rfc5322_encode_phrases(const char *text, size_t len, size_t column, char *buf, size_t size,
			    size_t *outlen, struct result *r)
{
	unsigned char *mark = calloc(len + 1, 1);
	char *plain = malloc(len + 1);
	struct phrase_out o = { buf, size, 0, column };
	bool angle = false, ok = mark != NULL && plain != NULL && size > 0;
	size_t i = 0;

	if (!ok)
		result_fail(r, RESULT_OSERR, _("out of memory"));
	else
		ok = rfc5322_scan_address_list(text, len, mark_addr_spec, mark, r);
	if (ok)
		buf[0] = '\0';
	while (ok && i < len) {
		i = encode_step(text, len, i, mark, &angle, &o, plain, r);
		ok = i != 0;
	}
	/* 8-bit bytes the steps copy as they are (inside a domain literal or
	 * another construct no encoded word may replace) cannot be sent
	 * without SMTPUTF8 either. */
	for (size_t k = 0; ok && k < o.len; k++) {
		if ((unsigned char)buf[k] & 0x80)
			ok = result_fail(r, RESULT_DATAERR, _("8-bit text in an address list where no encoded word may stand"));
	}
	free(mark);
	free(plain);
	*outlen = o.len;
	return ok;
}
