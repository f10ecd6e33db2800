#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "i18n.h"
#include "message.h"

#define READ_CHUNK (128 * 1024)
#define SPOOL_BUF (128 * 1024)

/* Reader state across input chunks.  A body line is emitted as soon as
 * possible; only its first bytes (to recognise a lone ".") and its trailing
 * CRs (which may precede LF in the next chunk) are held back. */
struct message_reader {
	const struct message_read_opts *opts;
	struct message *msg;
	struct result *r;
	bool in_body;
	bool first_line;
	bool finished;          /* a lone "." ended the message */
	/* header phase: the current, incomplete line */
	char *hline;
	size_t hline_len;
	size_t header_bytes;
	/* body phase */
	char hold[8];
	size_t hold_len;
	size_t pending_cr;      /* CRs at the end of what was seen of the line */
	size_t line_len;
	char *out;
	size_t out_len;
	size_t column;          /* of the spool's current output line */
};

static bool spool_flush(struct message_reader *rd)
{
	size_t done = 0;

	while (done < rd->out_len) {
		ssize_t n = write(rd->msg->spool_fd, rd->out + done, rd->out_len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return result_fail(rd->r, RESULT_CANTCREAT, _("cannot write the spool file: %s"),
					   strerror(errno));
		done += (size_t)n;
	}
	rd->msg->body_size += (off_t)rd->out_len;
	rd->out_len = 0;
	return true;
}

static bool emit(struct message_reader *rd, const char *p, size_t n)
{
	while (n > 0) {
		size_t room = SPOOL_BUF - rd->out_len;
		size_t take = n < room ? n : room;

		memcpy(rd->out + rd->out_len, p, take);
		rd->out_len += take;
		p += take;
		n -= take;
		if (rd->out_len == SPOOL_BUF && !spool_flush(rd))
			return false;
	}
	return true;
}

static bool has_high_bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)p[i] & 0x80)
			return true;
	}
	return false;
}

static bool emit_eol(struct message_reader *rd)
{
	rd->column = 0;
	return emit(rd, "\r\n", 2);
}

/* RFC 5321 4.5.3.1.6: a text line is at most 998 characters.  Longer ones
 * are folded with CRLF SP (as Postfix does) instead of being refused or cut. */
static bool emit_content(struct message_reader *rd, const char *p, size_t n)
{
	while (rd->column + n > MESSAGE_MAX_LINE) {
		size_t take = MESSAGE_MAX_LINE - rd->column;

		if (!emit(rd, p, take) || !emit(rd, "\r\n ", 3))
			return false;
		rd->column = 1;
		p += take;
		n -= take;
	}
	rd->column += n;
	/* Only the body decides BODY=8BITMIME: 8-bit header text is encoded
	 * or needs SMTPUTF8 (header_fix.c). */
	if (!rd->msg->eight_bit && has_high_bit(p, n))
		rd->msg->eight_bit = true;
	return emit(rd, p, n);
}

/* RFC 5321 2.3.8 forbids a bare CR in SMTP data, and receivers that take
 * it for a line end are the SMTP smuggling vector: it becomes CRLF. */
static bool emit_text(struct message_reader *rd, const char *p, size_t n)
{
	const char *cr;

	while ((cr = memchr(p, '\r', n)) != NULL) {
		size_t before = (size_t)(cr - p);

		if (!emit_content(rd, p, before) || !emit_eol(rd))
			return false;
		p += before + 1;
		n -= before + 1;
	}
	return emit_content(rd, p, n);
}

/* Body text of the current line.  Its trailing CRs are held: before LF
 * they are dropped, as Postfix's sendmail drops every CR before LF (lines
 * ending in CR CR LF are one line end, not two); before anything else each
 * is a bare CR, which emit_text() turns into a line end. */
static bool emit_body(struct message_reader *rd, const char *p, size_t n)
{
	size_t crs = 0;

	while (crs < n && p[n - 1 - crs] == '\r')
		crs++;
	if (crs == n) {
		rd->pending_cr += crs;
		return true;
	}
	for (; rd->pending_cr > 0; rd->pending_cr--) {
		if (!emit_eol(rd))
			return false;
	}
	rd->pending_cr = crs;
	return emit_text(rd, p, n - crs);
}

static bool emit_hold(struct message_reader *rd)
{
	bool ok = emit_body(rd, rd->hold, rd->hold_len);

	rd->hold_len = 0;
	return ok;
}

/* LF: the CRs before it go. */
static bool end_line(struct message_reader *rd)
{
	rd->pending_cr = 0;
	return emit_eol(rd);
}

static bool is_dot_line(const struct message_reader *rd, const char *line, size_t n)
{
	return !rd->opts->ignore_dots && n == 1 && line[0] == '.';
}

/* Part of a body line, not yet terminated by LF. */
static bool body_partial(struct message_reader *rd, const char *p, size_t n)
{
	if (n == 0)
		return true;
	if (rd->line_len + n <= sizeof rd->hold) {
		memcpy(rd->hold + rd->hold_len, p, n);
		rd->hold_len += n;
		rd->line_len += n;
		return true;
	}
	rd->line_len += n;
	return emit_hold(rd) && emit_body(rd, p, n);
}

/* The rest of a body line up to (not including) its LF. */
static bool body_line_end(struct message_reader *rd, const char *p, size_t n)
{
	char small[sizeof rd->hold + 1];
	size_t total = rd->line_len + n;

	/* Short lines are held whole: only they can be a lone "." (followed
	 * by CRs). */
	bool held_whole = rd->line_len <= sizeof rd->hold;

	rd->line_len = 0;
	if (held_whole && total <= sizeof small) {
		memcpy(small, rd->hold, rd->hold_len);
		memcpy(small + rd->hold_len, p, n);
		rd->hold_len = 0;
		while (total > 0 && small[total - 1] == '\r')
			total--;
		if (is_dot_line(rd, small, total)) {
			rd->finished = true;
			return true;
		}
		return emit_body(rd, small, total) && end_line(rd);
	}
	return emit_hold(rd) && emit_body(rd, p, n) && end_line(rd);
}

static bool looks_like_field(const char *line, size_t n, size_t *name_len)
{
	size_t i = 0;

	while (i < n && line[i] > 32 && line[i] < 127 && line[i] != ':')
		i++;
	if (i == 0)
		return false;
	*name_len = i;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;            /* obsolete "Name :" syntax */
	return i < n && line[i] == ':';
}

static bool grow_headers(struct message *msg, struct result *r)
{
	struct header *grown;
	size_t cap;

	if (msg->n_headers < msg->cap_headers)
		return true;
	if (msg->n_headers >= MESSAGE_MAX_HEADERS + 16)
		return result_fail(r, RESULT_DATAERR, _("too many header fields (limit %d)"),
				   MESSAGE_MAX_HEADERS);
	cap = msg->cap_headers ? msg->cap_headers * 2 : 32;
	grown = realloc(msg->headers, cap * sizeof *grown);
	if (grown == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	msg->headers = grown;
	msg->cap_headers = cap;
	return true;
}

/* Append one header line (without line end) as a new field or, when
 * continuation, to the previous field. */
static bool store_header(struct message *msg, const char *line, size_t n, bool continuation,
			 size_t name_len, size_t limit, struct result *r)
{
	struct header *h;
	char *text;

	if (!continuation) {
		if (msg->n_headers >= limit)
			return result_fail(r, RESULT_DATAERR, _("too many header fields (limit %d)"),
					   MESSAGE_MAX_HEADERS);
		if (!grow_headers(msg, r))
			return false;
		h = &msg->headers[msg->n_headers++];
		memset(h, 0, sizeof *h);
		h->name_len = name_len;
	} else {
		h = &msg->headers[msg->n_headers - 1];
	}
	text = h->text;
	if (h->len + n + 3 > h->cap) {
		/* Doubling keeps a header of many folded lines linear. */
		size_t cap = (h->len + n + 3) * 2;

		text = realloc(h->text, cap);
		if (text == NULL)
			return result_fail(r, RESULT_OSERR, _("out of memory"));
		h->cap = cap;
	}
	memcpy(text + h->len, line, n);
	/* A bare CR inside a header line would split it on the wire. */
	for (char *cr = memchr(text + h->len, '\r', n); cr; cr = memchr(cr, '\r', (size_t)(text + h->len + n - cr)))
		*cr = ' ';
	memcpy(text + h->len + n, "\r\n", 3);
	h->text = text;
	h->len += n + 2;
	return true;
}

static bool store_header_line(struct message_reader *rd, const char *line, size_t n,
			      bool continuation, size_t name_len)
{
	return store_header(rd->msg, line, n, continuation, name_len, MESSAGE_MAX_HEADERS, rd->r);
}

/* A complete line (LF removed) while still in the header block. */
static bool header_line(struct message_reader *rd, const char *line, size_t n)
{
	size_t name_len, raw_len = n;
	bool first = rd->first_line;

	rd->first_line = false;
	while (n > 0 && line[n - 1] == '\r')
		n--;            /* as in the body: every CR before LF */
	if (is_dot_line(rd, line, n)) {
		rd->finished = true;
		return true;
	}
	/* An mbox "From " envelope line is not a header and not content. */
	if (first && n >= 5 && memcmp(line, "From ", 5) == 0)
		return true;
	if (n == 0) {
		rd->in_body = true;
		return true;
	}
	if ((line[0] == ' ' || line[0] == '\t') && rd->msg->n_headers > 0)
		return store_header_line(rd, line, n, true, 0);
	if (looks_like_field(line, n, &name_len))
		return store_header_line(rd, line, n, false, name_len);
	/* Not a header: the header block ended without a blank line.  The
	 * body reader drops the CR before LF itself. */
	rd->in_body = true;
	return body_line_end(rd, line, raw_len);
}

static bool header_bytes(struct message_reader *rd, const char *p, size_t n, bool line_end)
{
	size_t name_len, len;

	char probe[256];
	size_t probe_len;

	rd->header_bytes += n + (line_end ? 1 : 0);
	if (rd->header_bytes > MESSAGE_MAX_HEADER_BYTES) {
		/* The line so far, held and new bytes together, decides whether
		 * it is a header: a huge first "line" that is none is body text. */
		probe_len = rd->hline_len < sizeof probe ? rd->hline_len : sizeof probe;
		memcpy(probe, rd->hline, probe_len);
		if (probe_len < sizeof probe) {
			size_t more = n < sizeof probe - probe_len ? n : sizeof probe - probe_len;

			memcpy(probe + probe_len, p, more);
			probe_len += more;
		}
		if (rd->msg->n_headers == 0 && rd->first_line &&
		    !looks_like_field(probe, probe_len, &name_len)) {
			rd->in_body = true;
			rd->first_line = false;
			if (!body_partial(rd, rd->hline, rd->hline_len))
				return false;
			rd->hline_len = 0;
			return line_end ? body_line_end(rd, p, n) : body_partial(rd, p, n);
		}
		return result_fail(rd->r, RESULT_DATAERR, _("header block larger than %d KiB"),
				   MESSAGE_MAX_HEADER_BYTES / 1024);
	}
	memcpy(rd->hline + rd->hline_len, p, n);
	rd->hline_len += n;
	if (!line_end)
		return true;
	len = rd->hline_len;
	rd->hline_len = 0;
	return header_line(rd, rd->hline, len);
}

/* Split a chunk of input into lines and route them to the current phase. */
static bool feed(struct message_reader *rd, const char *p, size_t n)
{
	while (n > 0 && !rd->finished) {
		const char *lf = memchr(p, '\n', n);
		size_t seg = lf ? (size_t)(lf - p) : n;
		bool ok;

		/* Checked per line: what follows a lone "." is not content. */
		if (memchr(p, '\0', seg) != NULL)
			return result_fail(rd->r, RESULT_DATAERR,
					   _("the message contains NUL bytes; binary data must be MIME-encoded"));

		if (!rd->in_body)
			ok = header_bytes(rd, p, seg, lf != NULL);
		else
			ok = lf ? body_line_end(rd, p, seg) : body_partial(rd, p, seg);
		if (!ok)
			return false;
		if (lf == NULL)
			break;
		p += seg + 1;
		n -= seg + 1;
	}
	return true;
}

/* End of input: an unterminated last line still counts as a line. */
static bool finish(struct message_reader *rd)
{
	if (!rd->finished) {
		if (!rd->in_body && rd->hline_len > 0) {
			size_t len = rd->hline_len;

			rd->hline_len = 0;
			if (!header_line(rd, rd->hline, len))
				return false;
		} else if (rd->in_body && rd->line_len > 0) {
			if (!body_line_end(rd, "", 0))
				return false;
		}
	}
	return spool_flush(rd);
}

static int open_spool(const char *dir, struct result *r)
{
	char path[4096];
	int fd;

#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
#endif
	if ((size_t)snprintf(path, sizeof path, "%s/relaymail.XXXXXX", dir) >= sizeof path) {
		result_fail(r, RESULT_CANTCREAT, _("cannot create a spool file in %s: %s"), dir,
			    strerror(ENAMETOOLONG));
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		result_fail(r, RESULT_CANTCREAT, _("cannot create a spool file in %s: %s"),
			    dir, strerror(errno));
		return -1;
	}
	unlink(path);
	return fd;
}

static bool reader_start(struct message_reader *rd, const struct message_read_opts *opts,
			 struct message *msg, struct result *r)
{
	memset(msg, 0, sizeof *msg);
	memset(rd, 0, sizeof *rd);
	msg->spool_fd = -1;
	rd->opts = opts;
	rd->msg = msg;
	rd->r = r;
	rd->first_line = true;
	rd->hline = malloc(MESSAGE_MAX_HEADER_BYTES + 1);
	rd->out = malloc(SPOOL_BUF);
	if (rd->hline == NULL || rd->out == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	msg->spool_fd = open_spool(opts->spool_dir ? opts->spool_dir : "/tmp", r);
	return msg->spool_fd >= 0;
}

static void reader_end(struct message_reader *rd, bool ok)
{
	free(rd->hline);
	free(rd->out);
	if (!ok)
		message_free(rd->msg);
}

/* After a lone "." the caller may still be writing: read to EOF so it does
 * not die of SIGPIPE. */
static void drain(int fd, char *buf, size_t size)
{
	ssize_t n;

	do {
		n = read(fd, buf, size);
	} while (n > 0 || (n < 0 && errno == EINTR));
}

bool message_read(int in_fd, const struct message_read_opts *opts,
		  struct message *msg, struct result *r)
{
	struct message_reader rd;
	char *buf = malloc(READ_CHUNK);
	bool ok = false;

	if (!reader_start(&rd, opts, msg, r) || buf == NULL) {
		if (buf == NULL)
			result_fail(r, RESULT_OSERR, _("out of memory"));
		goto out;
	}
	for (;;) {
		ssize_t n = read(in_fd, buf, READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			result_fail(r, RESULT_NOINPUT, _("cannot read the message from standard input: %s"),
				    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (!feed(&rd, buf, (size_t)n))
			goto out;
		if (rd.finished) {
			drain(in_fd, buf, READ_CHUNK);
			break;
		}
	}
	ok = finish(&rd);
out:
	reader_end(&rd, ok);
	free(buf);
	return ok;
}

bool message_read_buffer(const char *data, size_t len, const struct message_read_opts *opts,
			 struct message *msg, struct result *r)
{
	struct message_reader rd;
	bool ok = reader_start(&rd, opts, msg, r) && feed(&rd, data, len) && finish(&rd);

	reader_end(&rd, ok);
	return ok;
}

struct message_reader *message_reader_begin(const struct message_read_opts *opts,
					    struct message *msg, struct result *r)
{
	struct message_reader *rd = malloc(sizeof *rd);

	if (rd == NULL) {
		memset(msg, 0, sizeof *msg);
		msg->spool_fd = -1;
		result_fail(r, RESULT_OSERR, _("out of memory"));
		return NULL;
	}
	if (!reader_start(rd, opts, msg, r)) {
		reader_end(rd, false);
		free(rd);
		return NULL;
	}
	return rd;
}

bool message_reader_feed(struct message_reader *rd, const char *data, size_t len)
{
	return rd->finished || feed(rd, data, len);
}

bool message_reader_finish(struct message_reader *rd, bool ok)
{
	ok = ok && finish(rd);
	reader_end(rd, ok);
	free(rd);
	return ok;
}

bool message_header_is(const struct header *h, const char *name)
{
	size_t n = strlen(name);

	return h->name_len == n && strncasecmp(h->text, name, n) == 0;
}

const char *message_header_value(const struct header *h, size_t *len)
{
	const char *colon = memchr(h->text, ':', h->len);
	const char *start = colon ? colon + 1 : h->text + h->len;

	*len = (size_t)(h->text + h->len - start);
	if (*len >= 2)
		*len -= 2;      /* the final CRLF */
	return start;
}

long message_find(const struct message *msg, const char *name, size_t start)
{
	for (size_t i = start; i < msg->n_headers; i++) {
		if (message_header_is(&msg->headers[i], name))
			return (long)i;
	}
	return -1;
}

const char *message_id(const struct message *msg, char *buf, size_t size)
{
	long i = message_find(msg, "Message-ID", 0);
	size_t len, o = 0;
	const char *v;

	buf[0] = '\0';
	if (i < 0 || size == 0)
		return buf;
	v = message_header_value(&msg->headers[i], &len);
	for (size_t k = 0; k < len && o + 1 < size; k++) {
		if (v[k] != ' ' && v[k] != '\t' && v[k] != '\r' && v[k] != '\n')
			buf[o++] = v[k];
	}
	buf[o] = '\0';
	return buf;
}

bool message_add_header(struct message *msg, const char *name, const char *value,
			struct result *r)
{
	size_t nlen = strlen(name), vlen = strlen(value);
	struct header *h;

	if (!grow_headers(msg, r))
		return false;
	h = &msg->headers[msg->n_headers];
	memset(h, 0, sizeof *h);
	h->text = malloc(nlen + vlen + 5);
	if (h->text == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	memcpy(h->text, name, nlen);
	memcpy(h->text + nlen, ": ", 2);
	memcpy(h->text + nlen + 2, value, vlen);
	memcpy(h->text + nlen + 2 + vlen, "\r\n", 3);
	h->len = nlen + vlen + 4;
	h->name_len = nlen;
	msg->n_headers++;
	return true;
}

bool message_write_all(int fd, const char *p, size_t n, struct result *r)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return result_fail(r, RESULT_CANTCREAT, _("cannot write: %s"), strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return true;
}

bool message_write_content(const struct message *msg, int fd, struct result *r)
{
	char *buf;
	off_t off = 0;
	bool ok = true;

	for (size_t i = 0; !msg->preformatted && ok && i < msg->n_headers; i++) {
		if (!msg->headers[i].omit)
			ok = message_write_all(fd, msg->headers[i].text, msg->headers[i].len, r);
	}
	if (!ok || (!msg->preformatted && !message_write_all(fd, "\r\n", 2, r)))
		return false;
	buf = malloc(READ_CHUNK);
	if (buf == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	off = msg->body_offset;
	while (ok && off < msg->body_offset + msg->body_size) {
		ssize_t n = pread(msg->spool_fd, buf, READ_CHUNK, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ok = result_fail(r, RESULT_OSERR, _("cannot read the spool file"));
		else
			ok = message_write_all(fd, buf, (size_t)n, r);
		off += n > 0 ? n : 0;
	}
	free(buf);
	return ok && (!msg->add_crlf || message_write_all(fd, "\r\n", 2, r));
}

bool message_adopt(int fd, bool eight_bit, struct message *msg, struct result *r)
{
	struct stat st;

	memset(msg, 0, sizeof *msg);
	msg->spool_fd = fd;
	if (fstat(fd, &st) != 0) {
		message_free(msg);
		return result_fail(r, RESULT_OSERR, _("cannot stat a queue file: %s"), strerror(errno));
	}
	msg->body_size = st.st_size;
	msg->eight_bit = eight_bit;
	msg->preformatted = true;
	if (st.st_size > 0) {
		char tail[2];
		off_t at = st.st_size >= 2 ? st.st_size - 2 : 0;
		ssize_t n;

		do {
			n = pread(fd, tail, sizeof tail, at);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			message_free(msg);
			return result_fail(r, RESULT_OSERR, _("cannot read a queue file: %s"), strerror(errno));
		}
		msg->add_crlf = n != 2 || tail[0] != '\r' || tail[1] != '\n';
	}
	return true;
}

/* The header block of a preformatted message, up to its blank line,
 * into copy's headers; copy->body_offset is where the body starts. */
static bool load_headers(const struct message *msg, struct message *copy, struct result *r)
{
	const size_t limit = MESSAGE_COPY_MAX_HEADER_BYTES;
	char *block = malloc(limit);
	size_t have = 0, at = 0;
	char *blank = NULL;
	bool ok = block != NULL || result_fail(r, RESULT_OSERR, _("out of memory"));

	while (ok && blank == NULL && have < limit && (off_t)have < msg->body_size) {
		ssize_t n = pread(msg->spool_fd, block + have, limit - have, (off_t)have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ok = result_fail(r, RESULT_OSERR, _("cannot read a queue file: %s"),
					 n < 0 ? strerror(errno) : _("unexpected end"));
		have += n > 0 ? (size_t)n : 0;
		if (have >= 2 && block[0] == '\r' && block[1] == '\n')
			blank = block;
		else if (have >= 4)
			blank = memmem(block, have, "\r\n\r\n", 4);
	}
	if (ok && blank == NULL)
		ok = result_fail(r, RESULT_DATAERR, _("a queued message has no end of its header block"));
	if (blank != NULL && blank != block)
		blank += 2;             /* the last header's CRLF */
	while (ok && block + at < blank) {
		char *lf = memchr(block + at, '\n', (size_t)(blank - block) - at);
		size_t n = (size_t)(lf - block) - at, name_len = 0;
		bool continuation = block[at] == ' ' || block[at] == '\t';

		if (n > 0 && block[at + n - 1] == '\r')
			n--;
		if ((continuation && copy->n_headers == 0) ||
		    (!continuation && !looks_like_field(block + at, n, &name_len)))
			ok = result_fail(r, RESULT_DATAERR, _("a queued message has a malformed header line"));
		else
			ok = store_header(copy, block + at, n, continuation, name_len,
					  MESSAGE_MAX_HEADERS * 2, r);
		at = (size_t)(lf - block) + 1;
	}
	copy->body_offset = blank != NULL ? blank - block + 2 : 0;
	free(block);
	return ok;
}

static bool copy_headers(const struct message *msg, struct message *copy, struct result *r)
{
	for (size_t i = 0; i < msg->n_headers; i++) {
		const struct header *h = &msg->headers[i];

		if (!grow_headers(copy, r))
			return false;
		copy->headers[copy->n_headers] = *h;
		copy->headers[copy->n_headers].cap = 0;
		copy->headers[copy->n_headers].text = malloc(h->len + 1);
		if (copy->headers[copy->n_headers].text == NULL)
			return result_fail(r, RESULT_OSERR, _("out of memory"));
		memcpy(copy->headers[copy->n_headers++].text, h->text, h->len + 1);
	}
	return true;
}

bool message_copy(const struct message *msg, struct message *copy, struct result *r)
{
	bool ok;

	memset(copy, 0, sizeof *copy);
	copy->spool_fd = -1;
	ok = msg->preformatted ? load_headers(msg, copy, r) : copy_headers(msg, copy, r);
	if (ok && msg->spool_fd >= 0) {
		copy->spool_fd = fcntl(msg->spool_fd, F_DUPFD_CLOEXEC, 0);
		if (copy->spool_fd < 0)
			ok = result_fail(r, RESULT_OSERR, _("cannot duplicate the spool descriptor: %s"),
					 strerror(errno));
	}
	if (!ok) {
		message_free(copy);
		return false;
	}
	if (!msg->preformatted)
		copy->body_offset = msg->body_offset;
	copy->body_size = msg->body_size - (msg->preformatted ? copy->body_offset : 0);
	copy->eight_bit = msg->eight_bit;
	copy->add_crlf = msg->add_crlf;
	return true;
}

off_t message_wire_size(const struct message *msg)
{
	off_t size = (msg->preformatted ? 0 : 2) + msg->body_size + (msg->add_crlf ? 2 : 0);

	for (size_t i = 0; i < msg->n_headers; i++) {
		if (!msg->headers[i].omit)
			size += (off_t)msg->headers[i].len;
	}
	return size;
}

void message_free(struct message *msg)
{
	for (size_t i = 0; i < msg->n_headers; i++)
		free(msg->headers[i].text);
	free(msg->headers);
	if (msg->spool_fd >= 0)
		close(msg->spool_fd);
	memset(msg, 0, sizeof *msg);
	msg->spool_fd = -1;
}
