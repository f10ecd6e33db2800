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
#include "rfc5322.h"
#include "message_internal.h"

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
	if (!rd->msg->eight_bit && rfc5322_has_8bit(p, n))
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

static bool store_header_line(struct message_reader *rd, const char *line, size_t n,
			      bool continuation, size_t name_len)
{
	return message_store_header(rd->msg, line, n, continuation, name_len, MESSAGE_MAX_HEADERS, rd->r);
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
	if (message_looks_like_field(line, n, &name_len))
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
		    !message_looks_like_field(probe, probe_len, &name_len)) {
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
	char *buf = malloc(MESSAGE_IO_CHUNK);
	bool ok = false;

	if (!reader_start(&rd, opts, msg, r) || buf == NULL) {
		if (buf == NULL)
			result_fail(r, RESULT_OSERR, _("out of memory"));
		goto out;
	}
	for (;;) {
		ssize_t n = read(in_fd, buf, MESSAGE_IO_CHUNK);

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
			drain(in_fd, buf, MESSAGE_IO_CHUNK);
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
