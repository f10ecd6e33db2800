/* Table-driven tests for reading a message into the spool (message.h). */
#include "autoconfig.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "header_fix.h"
#include "message.h"
#include "tap.h"

#define S(lit) lit, sizeof(lit) - 1

struct msg_case {
	const char *name;
	const char *in;
	size_t in_len;
	bool ignore_dots;
	enum result_class cls;          /* RESULT_OK or the failure class */
	size_t n_headers;
	const char *headers;            /* every header's text, concatenated */
	const char *body;               /* the spool */
	bool eight_bit;
};

static const struct msg_case cases[] = {
	/* line endings */
	{ "LF becomes CRLF", S("Subject: hi\nTo: a@b\n\nline1\nline2\n"), false, RESULT_OK, 2,
	  "Subject: hi\r\nTo: a@b\r\n", "line1\r\nline2\r\n", false },
	{ "CRLF stays", S("Subject: hi\r\nTo: a@b\r\n\r\nline1\r\nline2\r\n"), false, RESULT_OK, 2,
	  "Subject: hi\r\nTo: a@b\r\n", "line1\r\nline2\r\n", false },
	{ "mixed LF and CRLF", S("a: b\r\nc: d\n\r\nx\ny\r\n"), false, RESULT_OK, 2,
	  "a: b\r\nc: d\r\n", "x\r\ny\r\n", false },
	/* Every CR before LF is dropped, as Postfix's sendmail does (CR CR LF,
	 * from files made on Windows and edited elsewhere, is one line end);
	 * any other CR is a bare CR, which RFC 5321 2.3.8 forbids in DATA: in
	 * the body it becomes CRLF, in a header a space. */
	{ "CR CR LF in the body", S("a: b\n\nx\r\r\nyz\r\r\nlonger line\r\r\n"), false,
	  RESULT_OK, 1, "a: b\r\n", "x\r\nyz\r\nlonger line\r\n", false },
	{ "CR CR LF on the first body line after headers without blank line",
	  S("a: b\nnot a header line\r\r\nnext\r\r\n"), false, RESULT_OK, 1, "a: b\r\n",
	  "not a header line\r\nnext\r\n", false },
	{ "CR CR LF on a short first line of a header-less message", S("x\r\r\ny\r\r\n"), false,
	  RESULT_OK, 0, "", "x\r\ny\r\n", false },
	{ "CR CR LF in headers", S("Subject: hi\r\r\nTo: a@b\r\r\n\r\r\nbody\r\r\n"), false,
	  RESULT_OK, 2, "Subject: hi\r\nTo: a@b\r\n", "body\r\n", false },
	{ "many CRs before LF", S("a: b\n\nx\r\r\r\r\r\r\r\r\r\r\r\ny\r\r\r\n0123456789abc\r\r\r\r\n"),
	  false, RESULT_OK, 1, "a: b\r\n", "x\r\ny\r\n0123456789abc\r\n", false },
	{ "CRs before text stay line ends", S("a: b\n\nx\r\r y\r\r\nlonger line\r\rz\n"), false,
	  RESULT_OK, 1, "a: b\r\n", "x\r\n\r\n y\r\nlonger line\r\n\r\nz\r\n", false },
	{ "only CRs on a line", S("a: b\n\nx\n\r\r\r\ny\n"), false, RESULT_OK, 1, "a: b\r\n",
	  "x\r\n\r\ny\r\n", false },
	{ "dot CR CR LF ends the message", S("a: b\n\nx\n.\r\r\nrest\n"), false, RESULT_OK, 1,
	  "a: b\r\n", "x\r\n", false },
	{ "dot CR CR LF ends the header block", S("a: b\r\r\n.\r\r\nrest\n"), false, RESULT_OK, 1,
	  "a: b\r\n", "", false },
	{ "-i: dot CR CR LF is content", S("a: b\n\nx\n.\r\r\nrest\n"), true, RESULT_OK, 1,
	  "a: b\r\n", "x\r\n.\r\nrest\r\n", false },
	{ "bare CR in the body becomes CRLF", S("a: b\n\nx\ry\n\rlead\ntrail\r \n"), false, RESULT_OK,
	  1, "a: b\r\n", "x\r\ny\r\n\r\nlead\r\ntrail\r\n \r\n", false },
	{ "bare CR in a header becomes a space", S("Subject: a\rb\n c\rd\nX: y\r\r\n\nz\n"), false,
	  RESULT_OK, 2, "Subject: a b\r\n c d\r\nX: y\r\n", "z\r\n", false },
	{ "bare CR at the end of an unterminated line", S("a: b\n\nlast\r"), false, RESULT_OK, 1,
	  "a: b\r\n", "last\r\n", false },
	{ "empty body lines kept", S("a: b\n\n\n\nx\n\n"), false, RESULT_OK, 1, "a: b\r\n",
	  "\r\n\r\nx\r\n\r\n", false },
	{ "unterminated last body line gets CRLF", S("a: b\n\nfirst\nlast"), false, RESULT_OK, 1,
	  "a: b\r\n", "first\r\nlast\r\n", false },
	{ "unterminated short last line", S("a: b\n\nab"), false, RESULT_OK, 1, "a: b\r\n", "ab\r\n",
	  false },
	{ "unterminated last header line", S("a: b\nc: d"), false, RESULT_OK, 2, "a: b\r\nc: d\r\n",
	  "", false },

	/* header block shapes */
	{ "folded header", S("Subject: a\n b\n\tc\nTo: x@y\n\nbody\n"), false, RESULT_OK, 2,
	  "Subject: a\r\n b\r\n\tc\r\nTo: x@y\r\n", "body\r\n", false },
	{ "folded header with CRLF", S("Subject: a\r\n  b\r\n\r\nbody\r\n"), false, RESULT_OK, 1,
	  "Subject: a\r\n  b\r\n", "body\r\n", false },
	{ "headers then non-header line", S("Subject: hi\nthis is body\nmore\n"), false, RESULT_OK, 1,
	  "Subject: hi\r\n", "this is body\r\nmore\r\n", false },
	{ "headers only", S("Subject: hi\nTo: a@b\n"), false, RESULT_OK, 2, "Subject: hi\r\nTo: a@b\r\n",
	  "", false },
	{ "headers and blank line only", S("Subject: hi\n\n"), false, RESULT_OK, 1, "Subject: hi\r\n",
	  "", false },
	{ "empty input", S(""), false, RESULT_OK, 0, "", "", false },
	{ "only a blank line", S("\n"), false, RESULT_OK, 0, "", "", false },
	{ "no headers at all", S("hello world\nsecond\n"), false, RESULT_OK, 0, "",
	  "hello world\r\nsecond\r\n", false },
	{ "leading blank line: empty header block", S("\nSubject: body\n"), false, RESULT_OK, 0, "",
	  "Subject: body\r\n", false },
	{ "continuation as first line is body", S(" x: y\nz\n"), false, RESULT_OK, 0, "",
	  " x: y\r\nz\r\n", false },
	{ "colon first is body", S(":x\n"), false, RESULT_OK, 0, "", ":x\r\n", false },
	{ "obsolete 'Name :' syntax", S("Subject : hi\n\nb\n"), false, RESULT_OK, 1, "Subject : hi\r\n",
	  "b\r\n", false },
	{ "no space after colon", S("a:b\n\nb\n"), false, RESULT_OK, 1, "a:b\r\n", "b\r\n", false },
	{ "mbox From line dropped", S("From someone@x Mon Jan  1 00:00:00 2024\nSubject: x\n\nb\n"), false,
	  RESULT_OK, 1, "Subject: x\r\n", "b\r\n", false },
	{ "mbox From line only on the first line", S("Subject: x\nFrom nobody\n"), false, RESULT_OK, 1,
	  "Subject: x\r\n", "From nobody\r\n", false },
	{ "From: header is a header", S("From: a@b\n\nx\n"), false, RESULT_OK, 1, "From: a@b\r\n",
	  "x\r\n", false },

	/* the lone dot */
	{ "dot as the very first line", S(".\nSubject: x\n\nbody\n"), false, RESULT_OK, 0, "", "", false },
	{ "dot CRLF as the very first line", S(".\r\nbody\r\n"), false, RESULT_OK, 0, "", "", false },
	{ "dot after headers", S("a: b\n.\nrest\n"), false, RESULT_OK, 1, "a: b\r\n", "", false },
	{ "dot after the blank line", S("a: b\n\n.\n"), false, RESULT_OK, 1, "a: b\r\n", "", false },
	{ "dot in the body", S("a: b\n\nbody\n.\nafter\n"), false, RESULT_OK, 1, "a: b\r\n", "body\r\n",
	  false },
	{ "dot CRLF in the body", S("x\r\n.\r\nrest"), false, RESULT_OK, 0, "", "x\r\n", false },
	{ "dot as the unterminated last line", S("a: b\n\nx\n."), false, RESULT_OK, 1, "a: b\r\n",
	  "x\r\n", false },
	{ "-i: dot as first line is content", S(".\nx\n"), true, RESULT_OK, 0, "", ".\r\nx\r\n", false },
	{ "-i: dot after headers is content", S("a: b\n.\nrest\n"), true, RESULT_OK, 1, "a: b\r\n",
	  ".\r\nrest\r\n", false },
	{ "-i: dot in the body is content", S("a: b\n\nbody\n.\nafter\n"), true, RESULT_OK, 1,
	  "a: b\r\n", "body\r\n.\r\nafter\r\n", false },
	{ "-i: dot CRLF is content", S("x\r\n.\r\nrest"), true, RESULT_OK, 0, "", "x\r\n.\r\nrest\r\n",
	  false },
	{ "double dots untouched", S("a: b\n\n..\n..x\n...\n"), false, RESULT_OK, 1, "a: b\r\n",
	  "..\r\n..x\r\n...\r\n", false },
	{ "dot with text is content", S("a: b\n\n.x\n. \n"), false, RESULT_OK, 1, "a: b\r\n",
	  ".x\r\n. \r\n", false },

	/* data errors and 8-bit */
	{ "NUL in the body", S("a: b\n\nx\0y\n"), false, RESULT_DATAERR, 0, NULL, NULL, false },
	{ "NUL in a header", S("a: b\0c\n\nx\n"), false, RESULT_DATAERR, 0, NULL, NULL, false },
	{ "NUL on an unterminated last line", S("a: b\n\nx\0"), false, RESULT_DATAERR, 0, NULL, NULL,
	  false },
	{ "NUL after the ending dot is not message content", S("a: b\n\nx\n.\n\0junk\n"), false,
	  RESULT_OK, 1, "a: b\r\n", "x\r\n", false },
	/* eight_bit is about the body (BODY=8BITMIME); 8-bit header text is
	 * encoded or needs SMTPUTF8 (header_fix.c). */
	{ "8-bit in a header only", S("Subject: caf\xc3\xa9\n\nx\n"), false, RESULT_OK, 1,
	  "Subject: caf\xc3\xa9\r\n", "x\r\n", false },
	{ "8-bit in the body", S("a: b\n\nx\xff\n"), false, RESULT_OK, 1, "a: b\r\n", "x\xff\r\n", true },
	{ "8-bit after the ending dot is not message content", S("a: b\n\nx\n.\n\xe9\n"), false,
	  RESULT_OK, 1, "a: b\r\n", "x\r\n", false },
	{ "7-bit message", S("a: b\n\nplain ~ text\x7f\n"), false, RESULT_OK, 1, "a: b\r\n",
	  "plain ~ text\x7f\r\n", false },
};

/* What a read produced, for comparisons between ways of reading. */
struct snapshot {
	bool ok;
	enum result_class cls;
	size_t n_headers;
	char *headers;          /* texts joined with '\001' after each */
	char *body;
	size_t body_len;
	bool eight_bit;
};

static char *read_spool(const struct message *msg, size_t *len)
{
	size_t size = (size_t)msg->body_size, done = 0;
	char *buf = malloc(size + 1);

	if (buf == NULL)
		abort();
	while (msg->spool_fd >= 0 && done < size) {
		ssize_t n = pread(msg->spool_fd, buf + done, size - done, (off_t)done);

		if (n <= 0)
			break;
		done += (size_t)n;
	}
	buf[done] = '\0';
	*len = done;
	return buf;
}

static char *join_headers(const struct message *msg, char sep)
{
	size_t total = 1, len = 0;
	char *out;

	for (size_t i = 0; i < msg->n_headers; i++)
		total += msg->headers[i].len + 1;
	out = malloc(total);
	if (out == NULL)
		abort();
	for (size_t i = 0; i < msg->n_headers; i++) {
		memcpy(out + len, msg->headers[i].text, msg->headers[i].len);
		len += msg->headers[i].len;
		if (sep)
			out[len++] = sep;
	}
	out[len] = '\0';
	return out;
}

static void snap_take(struct snapshot *s, bool ok, const struct result *r, struct message *msg)
{
	memset(s, 0, sizeof *s);
	s->ok = ok;
	s->cls = ok ? RESULT_OK : r->cls;
	if (ok) {
		s->n_headers = msg->n_headers;
		s->headers = join_headers(msg, '\001');
		s->body = read_spool(msg, &s->body_len);
		s->eight_bit = msg->eight_bit;
	}
	message_free(msg);
}

static void snap_free(struct snapshot *s)
{
	free(s->headers);
	free(s->body);
}

static bool snap_equal(const struct snapshot *a, const struct snapshot *b)
{
	if (a->ok != b->ok || a->cls != b->cls)
		return false;
	if (!a->ok)
		return true;
	return a->n_headers == b->n_headers && strcmp(a->headers, b->headers) == 0 &&
	       a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0 &&
	       a->eight_bit == b->eight_bit;
}

static void snap_diag(const struct snapshot *got, const struct snapshot *want)
{
	printf("# got ok=%d cls=%d n=%zu body_len=%zu 8bit=%d; want ok=%d cls=%d n=%zu body_len=%zu 8bit=%d\n",
	       got->ok, (int)got->cls, got->n_headers, got->body_len, got->eight_bit,
	       want->ok, (int)want->cls, want->n_headers, want->body_len, want->eight_bit);
}

static void read_buffer_snap(const char *in, size_t len, bool ignore_dots, struct snapshot *s)
{
	struct message_read_opts opts = { ignore_dots, "/tmp" };
	struct message msg;
	struct result r;
	char *copy = malloc(len ? len : 1);     /* exact size: ASan sees over-reads */
	bool ok;

	if (copy == NULL)
		abort();
	memcpy(copy, in, len);
	result_clear(&r);
	ok = message_read_buffer(copy, len, &opts, &msg, &r);
	free(copy);
	snap_take(s, ok, &r, &msg);
}

/* The incremental reader, fed in pieces of `piece` bytes (or split once at
 * `split` when piece is 0). */
static void read_pieces_snap(const char *in, size_t len, bool ignore_dots, size_t piece,
			     size_t split, struct snapshot *s)
{
	struct message_read_opts opts = { ignore_dots, "/tmp" };
	struct message msg;
	struct result r;
	struct message_reader *rd;
	bool ok = true;

	result_clear(&r);
	rd = message_reader_begin(&opts, &msg, &r);
	if (rd == NULL) {
		snap_take(s, false, &r, &msg);
		return;
	}
	if (piece == 0) {
		ok = message_reader_feed(rd, in, split) &&
		     message_reader_feed(rd, in + split, len - split);
	} else {
		for (size_t off = 0; ok && off < len; off += piece) {
			size_t n = len - off < piece ? len - off : piece;
			/* exact-size copies let ASan see over-reads; skipped for big
			 * inputs, where they would only cost time */
			char *copy = len <= 65536 ? malloc(n) : NULL;

			if (copy != NULL)
				memcpy(copy, in + off, n);
			ok = message_reader_feed(rd, copy ? copy : in + off, n);
			free(copy);
		}
	}
	ok = message_reader_finish(rd, ok);
	snap_take(s, ok, &r, &msg);
}

struct piece {
	size_t len;             /* bytes to write in one write(); 0 = the rest */
	unsigned pause_us;      /* sleep after it */
};

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(1);
		p += w;
		n -= (size_t)w;
	}
}

/* message_read() on a pipe whose writer (a child process) writes according
 * to the schedule; pieces repeat from the last entry. */
static void read_pipe_snap(const char *in, size_t len, bool ignore_dots,
			   const struct piece *sched, size_t n_sched, struct snapshot *s)
{
	struct message_read_opts opts = { ignore_dots, "/tmp" };
	struct message msg;
	struct result r;
	int fds[2], status;
	pid_t pid;
	bool ok;

	if (pipe(fds) != 0)
		abort();
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		size_t off = 0, k = 0;

		close(fds[0]);
		while (off < len) {
			const struct piece *pc = &sched[k < n_sched ? k : n_sched - 1];
			size_t n = pc->len == 0 || pc->len > len - off ? len - off : pc->len;

			write_all(fds[1], in + off, n);
			off += n;
			k++;
			if (pc->pause_us)
				usleep(pc->pause_us);
		}
		_exit(0);
	}
	close(fds[1]);
	result_clear(&r);
	ok = message_read(fds[0], &opts, &msg, &r);
	close(fds[0]);
	waitpid(pid, &status, 0);
	snap_take(s, ok, &r, &msg);
}

static void check_spool_file(const struct message *msg, const char *name)
{
	struct stat st;
	char label[256];

	snprintf(label, sizeof label, "%s: spool is private and unlinked", name);
	tap_ok(msg->spool_fd >= 0 && fstat(msg->spool_fd, &st) == 0 && st.st_nlink == 0 &&
	       (st.st_mode & 077) == 0 && st.st_size == msg->body_size, label);
}

static void run_case(const struct msg_case *c)
{
	struct message_read_opts opts = { c->ignore_dots, "/tmp" };
	struct message msg;
	struct result r;
	char name[300], *copy = malloc(c->in_len ? c->in_len : 1);
	bool ok;

	if (copy == NULL)
		abort();
	memcpy(copy, c->in, c->in_len);
	result_clear(&r);
	ok = message_read_buffer(copy, c->in_len, &opts, &msg, &r);
	free(copy);
	snprintf(name, sizeof name, "%s: result", c->name);
	tap_is_int(ok ? RESULT_OK : (long)r.cls, c->cls, name);
	if (!ok && c->cls == RESULT_OK)
		printf("# message: %s\n", r.msg);
	if (c->cls != RESULT_OK) {
		snprintf(name, sizeof name, "%s: freed on failure", c->name);
		tap_ok(msg.spool_fd == -1 && msg.n_headers == 0 && msg.headers == NULL, name);
		message_free(&msg);
		return;
	}
	if (ok) {
		size_t blen;
		char *hdrs = join_headers(&msg, 0), *body = read_spool(&msg, &blen);

		snprintf(name, sizeof name, "%s: n_headers", c->name);
		tap_is_int((long)msg.n_headers, (long)c->n_headers, name);
		snprintf(name, sizeof name, "%s: headers", c->name);
		tap_is_str(hdrs, c->headers, name);
		snprintf(name, sizeof name, "%s: body", c->name);
		tap_is_str(body, c->body, name);
		snprintf(name, sizeof name, "%s: body_size", c->name);
		tap_is_int((long)msg.body_size, (long)strlen(c->body), name);
		snprintf(name, sizeof name, "%s: eight_bit", c->name);
		tap_is_int(msg.eight_bit, c->eight_bit, name);
		snprintf(name, sizeof name, "%s: wire size", c->name);
		tap_is_int((long)message_wire_size(&msg),
			   (long)(strlen(c->headers) + 2 + strlen(c->body)), name);
		check_spool_file(&msg, c->name);
		free(hdrs);
		free(body);
	}
	message_free(&msg);
}

/* Every way of cutting the input must give what the buffer version gives. */
static void run_chunking(const struct msg_case *c)
{
	struct snapshot want, got;
	char name[300];
	bool same = true;

	read_buffer_snap(c->in, c->in_len, c->ignore_dots, &want);
	read_pieces_snap(c->in, c->in_len, c->ignore_dots, 1, 0, &got);
	snprintf(name, sizeof name, "%s: byte-by-byte feed matches", c->name);
	tap_ok(snap_equal(&got, &want), name);
	if (!snap_equal(&got, &want))
		snap_diag(&got, &want);
	snap_free(&got);
	for (size_t split = 0; split <= c->in_len; split++) {
		read_pieces_snap(c->in, c->in_len, c->ignore_dots, 0, split, &got);
		if (!snap_equal(&got, &want)) {
			if (same)
				printf("# first differing split at %zu\n", split);
			same = false;
		}
		snap_free(&got);
	}
	snprintf(name, sizeof name, "%s: every two-piece split matches", c->name);
	tap_ok(same, name);
	snap_free(&want);
}

static void test_pipe_byte_by_byte(void)
{
	static const struct {
		const char *in;
		size_t len;
		bool ignore_dots;
	} inputs[] = {
		{ S("a: b\n\n.\n"), false },
		{ S("x\r\n.\r\nrest"), false },
		{ S("x\r\n.\r\nrest"), true },
		{ S("Subject: a\r\n b\r\n\r\nx\r\r\n.\r\r\n..\n.\r\n"), false },
		{ S("From x\nA: b\nno header\r\r\nab\rc\n"), false },
		{ S(".\r\n"), false },
	};
	static const struct piece one_byte[] = { { 1, 300 } };

	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		struct snapshot want, got;
		char name[128];

		read_buffer_snap(inputs[i].in, inputs[i].len, inputs[i].ignore_dots, &want);
		read_pipe_snap(inputs[i].in, inputs[i].len, inputs[i].ignore_dots, one_byte, 1, &got);
		snprintf(name, sizeof name, "pipe, one byte per write: input %zu matches the buffer read", i);
		tap_ok(snap_equal(&got, &want), name);
		if (!snap_equal(&got, &want))
			snap_diag(&got, &want);
		snap_free(&want);
		snap_free(&got);
	}
}

/* A body of long lines whose CRs fall on 64 KiB / 128 KiB boundaries, the
 * sizes of pipe buffers, READ_CHUNK and the spool buffer. */
static char *boundary_body(size_t *len, size_t header_len)
{
	const size_t size = 3 * 128 * 1024 + 100;
	char *buf = malloc(size);
	const size_t marks[] = { 64 * 1024, 128 * 1024, 2 * 128 * 1024 - 1, 3 * 128 * 1024 };

	if (buf == NULL)
		abort();
	memcpy(buf, "Subject: big\n\n", header_len);
	/* 79-character lines, so no line is near the 998 limit */
	for (size_t i = header_len; i < size; i++)
		buf[i] = i % 80 == 79 ? '\n' : (char)('a' + i % 26);
	for (size_t i = 0; i < 4; i++) {
		/* "\r" exactly at the mark; LF right after it for two of them, a
		 * bare CR followed by text for the others. */
		buf[marks[i] - 1] = '\r';
		if (i % 2 == 0)
			buf[marks[i]] = '\n';
	}
	buf[size - 1] = '\n';
	*len = size;
	return buf;
}

static void test_boundaries(void)
{
	struct snapshot want, got;
	size_t len;
	char *in = boundary_body(&len, 14);
	/* A write that ends right before each CR, a pause, the CR alone, a pause. */
	const struct piece sched_cr[] = {
		{ 64 * 1024 - 1, 20000 }, { 1, 20000 }, { 64 * 1024 - 1, 20000 }, { 1, 20000 },
		{ 128 * 1024 - 2, 20000 }, { 1, 20000 }, { 128 * 1024, 20000 }, { 1, 20000 }, { 0, 0 },
	};
	const struct piece sched_all[] = { { 0, 0 } };
	const size_t sizes[] = { 7, 4093, 65536, 131071, 131072, 131073 };
	char name[128];

	read_buffer_snap(in, len, false, &want);
	tap_ok(want.ok && want.n_headers == 1, "boundaries: buffer read ok");
	read_pipe_snap(in, len, false, sched_cr, sizeof sched_cr / sizeof sched_cr[0], &got);
	tap_ok(snap_equal(&got, &want), "boundaries: pipe with the CR in its own write matches");
	if (!snap_equal(&got, &want))
		snap_diag(&got, &want);
	snap_free(&got);
	read_pipe_snap(in, len, false, sched_all, 1, &got);
	tap_ok(snap_equal(&got, &want), "boundaries: pipe with one big write matches");
	snap_free(&got);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		read_pieces_snap(in, len, false, sizes[i], 0, &got);
		snprintf(name, sizeof name, "boundaries: feeding %zu-byte pieces matches", sizes[i]);
		tap_ok(snap_equal(&got, &want), name);
		if (!snap_equal(&got, &want))
			snap_diag(&got, &want);
		snap_free(&got);
	}
	/* Only CRLF line ends in the spool, and the text itself unchanged. */
	{
		size_t text_in = 0, text_out = 0;
		bool crlf_only = want.body != NULL;

		for (size_t i = 14; i < len; i++)
			text_in += in[i] != '\r' && in[i] != '\n';
		for (size_t i = 0; want.body && i < want.body_len; i++) {
			char c = want.body[i];

			if (c == '\r' && (i + 1 == want.body_len || want.body[i + 1] != '\n'))
				crlf_only = false;
			if (c == '\n' && (i == 0 || want.body[i - 1] != '\r'))
				crlf_only = false;
			text_out += c != '\r' && c != '\n';
		}
		tap_ok(crlf_only && text_in == text_out, "boundaries: spool has CRLF lines only, text intact");
	}
	snap_free(&want);
	free(in);
}

static char *repeat_headers(size_t count, size_t value_len, const char *tail, size_t *len)
{
	size_t line = 7 + value_len + 1, tlen = strlen(tail), n = 0;
	char *buf = malloc(count * line + tlen + 1);

	if (buf == NULL)
		abort();
	for (size_t i = 0; i < count; i++) {
		memcpy(buf + n, "X-Pad: ", 7);
		memset(buf + n + 7, 'v', value_len);
		buf[n + line - 1] = '\n';
		n += line;
	}
	memcpy(buf + n, tail, tlen);
	n += tlen;
	*len = n;
	return buf;
}

static void expect_read(const char *in, size_t len, enum result_class cls, long n_headers,
			const char *name)
{
	struct message_read_opts opts = { false, "/tmp" };
	struct message msg;
	struct result r;
	bool ok;

	result_clear(&r);
	ok = message_read_buffer(in, len, &opts, &msg, &r);
	tap_is_int(ok ? RESULT_OK : (long)r.cls, cls, name);
	if (!ok && cls == RESULT_OK)
		printf("# message: %s\n", r.msg);
	if (ok && n_headers >= 0)
		tap_is_int((long)msg.n_headers, n_headers, name);
	message_free(&msg);
}

static void test_limits(void)
{
	struct snapshot want, got;
	size_t len;
	char *in;

	in = repeat_headers(MESSAGE_MAX_HEADERS, 4, "\nbody\n", &len);
	expect_read(in, len, RESULT_OK, MESSAGE_MAX_HEADERS, "limits: exactly MESSAGE_MAX_HEADERS fields");
	free(in);
	in = repeat_headers(MESSAGE_MAX_HEADERS + 1, 4, "\nbody\n", &len);
	expect_read(in, len, RESULT_DATAERR, -1, "limits: MESSAGE_MAX_HEADERS + 1 fields");
	free(in);
	in = repeat_headers(MESSAGE_MAX_HEADERS + 1, 4, "", &len);
	expect_read(in, len, RESULT_DATAERR, -1, "limits: too many fields, no body");
	free(in);

	in = repeat_headers(250, 992, "\nbody\n", &len);        /* 250 000 bytes */
	expect_read(in, len, RESULT_OK, 250, "limits: header block just under the byte limit");
	free(in);
	in = repeat_headers(300, 992, "\nbody\n", &len);        /* 300 000 bytes */
	expect_read(in, len, RESULT_DATAERR, -1, "limits: header block over MESSAGE_MAX_HEADER_BYTES");
	free(in);
	in = repeat_headers(300, 992, "", &len);
	expect_read(in, len, RESULT_DATAERR, -1, "limits: header block over the limit, unterminated");
	free(in);

	/* One folded header larger than the limit. */
	{
		size_t n = 0, size = MESSAGE_MAX_HEADER_BYTES + 4096;
		char *buf = malloc(size + 1024);

		if (buf == NULL)
			abort();
		n += (size_t)sprintf(buf, "Subject: x\n");
		while (n < size) {      /* 1000-byte continuation lines */
			buf[n] = ' ';
			memset(buf + n + 1, 'f', 998);
			buf[n + 999] = '\n';
			n += 1000;
		}
		memcpy(buf + n, "\nbody\n", 6);
		expect_read(buf, n + 6, RESULT_DATAERR, -1, "limits: one folded header over the limit");
		free(buf);
	}

	/* A single header line larger than the limit is still a header block
	 * that is too large, however the input is cut. */
	{
		size_t size = MESSAGE_MAX_HEADER_BYTES + 40000, n;
		char *buf = malloc(size + 32);

		if (buf == NULL)
			abort();
		n = (size_t)sprintf(buf, "Subject: ");
		memset(buf + n, 'x', size - n);
		memcpy(buf + size, "\n\nbody\n", 7);
		expect_read(buf, size + 7, RESULT_DATAERR, -1, "limits: one huge header line (buffer)");
		read_pieces_snap(buf, size + 7, false, 1, 0, &got);
		tap_is_int(got.ok ? RESULT_OK : (long)got.cls, RESULT_DATAERR,
			   "limits: one huge header line (byte by byte)");
		snap_free(&got);
		free(buf);
	}

	/* A huge first line that is no header is body text. */
	{
		size_t size = 300 * 1024, n;
		char *buf = malloc(size + 64);
		const char *tail = "\nSubject: not a header\n";

		if (buf == NULL)
			abort();
		for (n = 0; n < size; n++)
			buf[n] = n % 10 == 9 ? ' ' : 'w';
		memcpy(buf + size, tail, strlen(tail));
		read_buffer_snap(buf, size + strlen(tail), false, &want);
		/* Compare with long-line folding ("\r\n ") undone, if any. */
		{
			char *unfolded = malloc(want.body_len + 1);
			size_t u = 0;

			if (unfolded == NULL)
				abort();
			for (size_t i = 0; want.body && i < want.body_len; i++) {
				if (i + 2 < want.body_len && memcmp(want.body + i, "\r\n ", 3) == 0) {
					i += 2;
					continue;
				}
				unfolded[u++] = want.body[i];
			}
			tap_ok(want.ok && want.n_headers == 0 && u == size + 2 + 23 &&
			       memcmp(unfolded, buf, size) == 0 && unfolded[size] == '\r' &&
			       memcmp(unfolded + size + 2, "Subject: not a header\r\n", 23) == 0,
			       "limits: huge non-header first line becomes body");
			free(unfolded);
		}
		read_pieces_snap(buf, size + strlen(tail), false, 4096, 0, &got);
		tap_ok(snap_equal(&got, &want), "limits: huge first line, 4 KiB pieces match");
		snap_free(&got);
		read_pieces_snap(buf, size + strlen(tail), false, 1, 0, &got);
		tap_ok(snap_equal(&got, &want), "limits: huge first line, byte by byte matches");
		if (!snap_equal(&got, &want))
			snap_diag(&got, &want);
		snap_free(&got);
		snap_free(&want);
		free(buf);
	}
}

static void test_header_api(void)
{
	static const char in[] = "Subject: hi\nTO: a@b\nCc: c@d\nto: e@f\nX-Folded: one\n two\n"
				 "Subject :obs\nEmpty:\n\nbody line\n";
	struct message_read_opts opts = { false, "/tmp" };
	struct message msg;
	struct result r;
	const char *v;
	size_t len = 99;
	off_t wire;

	result_clear(&r);
	if (!message_read_buffer(in, sizeof in - 1, &opts, &msg, &r)) {
		tap_ok(0, "header api: read");
		return;
	}
	tap_is_int((long)msg.n_headers, 7, "header api: 7 fields");
	tap_is_int(message_find(&msg, "to", 0), 1, "find: case-insensitive, first match");
	tap_is_int(message_find(&msg, "To", 2), 3, "find: from a start index");
	tap_is_int(message_find(&msg, "TO", 4), -1, "find: none after the last");
	tap_is_int(message_find(&msg, "Bcc", 0), -1, "find: absent field");
	tap_is_int(message_find(&msg, "T", 0), -1, "find: a prefix does not match");
	tap_is_int(message_find(&msg, "subject", 1), 5, "find: obsolete 'Name :' form");
	tap_is_int(message_find(&msg, "cc", 100), -1, "find: start past the end");
	tap_ok(message_header_is(&msg.headers[0], "SUBJECT"), "header_is: case-insensitive");
	tap_ok(!message_header_is(&msg.headers[0], "Subj"), "header_is: prefix is not a match");
	tap_ok(!message_header_is(&msg.headers[0], "Subject:"), "header_is: name with colon is not a match");
	tap_ok(!message_header_is(&msg.headers[0], "Subjects"), "header_is: longer name is not a match");
	tap_ok(message_header_is(&msg.headers[5], "Subject"), "header_is: 'Subject :' is Subject");
	tap_is_int((long)msg.headers[5].name_len, 7, "header_is: name_len excludes blanks");

	v = message_header_value(&msg.headers[0], &len);
	tap_ok(len == 3 && memcmp(v, " hi", 3) == 0, "value: after the colon, CRLF excluded");
	v = message_header_value(&msg.headers[4], &len);
	tap_ok(len == 10 && memcmp(v, " one\r\n two", 10) == 0, "value: folded lines included");
	v = message_header_value(&msg.headers[5], &len);
	tap_ok(len == 3 && memcmp(v, "obs", 3) == 0, "value: obsolete form");
	v = message_header_value(&msg.headers[6], &len);
	tap_ok(v != NULL && len == 0, "value: empty field body");

	wire = message_wire_size(&msg);
	/* 8 header lines, the blank line and 1 body line each gain a CR */
	tap_is_int((long)wire, (long)(sizeof in - 1 + 10), "wire size: headers + CRLF + body");
	tap_ok(message_add_header(&msg, "X-Mailer", "relaymail 1.0", &r), "add_header: ok");
	tap_is_int((long)msg.n_headers, 8, "add_header: appended");
	tap_is_str(msg.headers[7].text, "X-Mailer: relaymail 1.0\r\n", "add_header: text");
	tap_is_int((long)msg.headers[7].len, 25, "add_header: len");
	tap_is_int(message_find(&msg, "x-mailer", 0), 7, "add_header: findable");
	v = message_header_value(&msg.headers[7], &len);
	tap_ok(len == 14 && memcmp(v, " relaymail 1.0", 14) == 0, "add_header: value");
	tap_is_int((long)message_wire_size(&msg), (long)wire + 25, "add_header: wire size grows");
	msg.headers[1].omit = true;
	tap_is_int((long)message_wire_size(&msg), (long)wire + 25 - (long)msg.headers[1].len,
		   "wire size: omitted field not counted");
	message_free(&msg);
	tap_ok(msg.spool_fd == -1 && msg.headers == NULL && msg.n_headers == 0, "message_free resets");
	message_free(&msg);     /* twice is harmless */

	/* add_header on an empty message, up to the limit and past it */
	{
		struct message m;
		bool all = true;

		memset(&m, 0, sizeof m);
		m.spool_fd = -1;
		for (int i = 0; i < MESSAGE_MAX_HEADERS; i++)
			all = all && message_add_header(&m, "X-N", "v", &r);
		tap_ok(all && m.n_headers == MESSAGE_MAX_HEADERS, "add_header: up to the limit");
		tap_is_int((long)message_wire_size(&m), (long)(MESSAGE_MAX_HEADERS * 8 + 2),
			   "wire size: headers only");
		message_free(&m);
	}
}

#ifdef MESSAGE_MAX_LINE
/* Body lines longer than MESSAGE_MAX_LINE are folded with CRLF SP; every
 * spool line stays within the limit and unfolding gives the text back. */
static void test_long_lines(void)
{
	static const size_t lengths[] = { MESSAGE_MAX_LINE - 1, MESSAGE_MAX_LINE, MESSAGE_MAX_LINE + 1,
					  2 * MESSAGE_MAX_LINE, 5000 };
	char name[128];

	for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
		size_t n = lengths[k], len = 0, longest = 0, col = 0, u = 0;
		char *in = malloc(n + 32), *unfolded;
		struct snapshot want, got;

		if (in == NULL)
			abort();
		len = (size_t)sprintf(in, "a: b\n\n");
		for (size_t i = 0; i < n; i++)
			in[len++] = (char)('A' + i % 26);
		memcpy(in + len, "\r\nshort\n", 8);
		len += 8;
		read_buffer_snap(in, len, false, &want);
		unfolded = malloc(want.body_len + 1);
		if (unfolded == NULL)
			abort();
		for (size_t i = 0; i < want.body_len; i++) {
			if (want.body[i] == '\r' && i + 1 < want.body_len && want.body[i + 1] == '\n') {
				longest = col > longest ? col : longest;
				col = 0;
			} else if (want.body[i] != '\n') {
				col++;
			}
			if (i + 2 < want.body_len && memcmp(want.body + i, "\r\n ", 3) == 0) {
				i += 2;
				col = 1;
				continue;
			}
			unfolded[u++] = want.body[i];
		}
		snprintf(name, sizeof name, "long line of %zu: spool lines at most %d characters", n,
			 MESSAGE_MAX_LINE);
		tap_ok(want.ok && longest <= MESSAGE_MAX_LINE, name);
		snprintf(name, sizeof name, "long line of %zu: unfolds to the input", n);
		tap_ok(u == n + 9 && memcmp(unfolded, in + 6, n) == 0 &&
		       memcmp(unfolded + n, "\r\nshort\r\n", 9) == 0, name);
		snprintf(name, sizeof name, "long line of %zu: %s", n,
			 n <= MESSAGE_MAX_LINE ? "not folded" : "folded");
		tap_ok(n <= MESSAGE_MAX_LINE ? want.body_len == n + 9 : want.body_len > n + 9, name);
		read_pieces_snap(in, len, false, 7, 0, &got);
		snprintf(name, sizeof name, "long line of %zu: 7-byte pieces match", n);
		tap_ok(snap_equal(&got, &want), name);
		snap_free(&got);
		free(unfolded);
		snap_free(&want);
		free(in);
	}
}
#endif

/* message_write_content() writes exactly message_wire_size() bytes:
 * the headers not omitted, CRLF, the body. */
static void test_write_content(void)
{
	static const char in[] = "From: a@b\nBcc: hidden@x\nSubject: s\n folded\n\nline 1\n..dots\nlast";
	static const char want[] = "From: a@b\r\nSubject: s\r\n folded\r\n\r\nline 1\r\n..dots\r\nlast\r\n";
	struct message_read_opts opts = { false, "/tmp" };
	struct message msg;
	struct result r;
	char path[] = "/tmp/relaymail-wire.XXXXXX", got[256];
	int fd = mkstemp(path);
	ssize_t n;

	if (fd < 0)
		abort();
	unlink(path);
	result_clear(&r);
	if (!message_read_buffer(in, sizeof in - 1, &opts, &msg, &r)) {
		tap_ok(0, "write_content: read");
		close(fd);
		return;
	}
	msg.headers[message_find(&msg, "bcc", 0)].omit = true;
	tap_ok(message_write_content(&msg, fd, &r), "write_content: ok");
	n = pread(fd, got, sizeof got - 1, 0);
	got[n > 0 ? n : 0] = '\0';
	tap_is_str(got, want, "write_content: headers, blank line, body");
	tap_is_int((long)message_wire_size(&msg), (long)n, "write_content: wire size matches");
	message_free(&msg);
	close(fd);
}

static void test_errors(void)
{
	struct message_read_opts opts = { false, "/nonexistent/relaymail-test" };
	struct message msg;
	struct result r;
	int fds[2];

	result_clear(&r);
	tap_ok(!message_read_buffer(S("a: b\n\nx\n"), &opts, &msg, &r) && r.cls == RESULT_CANTCREAT,
	       "missing spool directory is RESULT_CANTCREAT");
	tap_ok(msg.spool_fd == -1, "missing spool directory: no descriptor");
	message_free(&msg);

	opts.spool_dir = "/tmp";
	result_clear(&r);
	tap_ok(!message_read(-1, &opts, &msg, &r) && r.cls == RESULT_NOINPUT, "unreadable input is RESULT_NOINPUT");
	message_free(&msg);

	/* Closed pipe: empty message. */
	if (pipe(fds) == 0) {
		close(fds[1]);
		result_clear(&r);
		tap_ok(message_read(fds[0], &opts, &msg, &r) && msg.n_headers == 0 && msg.body_size == 0,
		       "empty stdin is an empty message");
		message_free(&msg);
		close(fds[0]);
	}
}

/* ---- header folding (header_fix_fold) ------------------------------------ */

/* The longest line of text, CRLF not counted; -1 when a CR or LF is not
 * part of a CRLF or a line does not end with one; -2 when a line is empty
 * (it would end the header block). */
static long longest_header_line(const char *t, size_t n)
{
	long longest = 0, col = 0;

	if (n < 2 || memcmp(t + n - 2, "\r\n", 2) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (t[i] == '\r') {
			if (i + 1 >= n || t[i + 1] != '\n')
				return -1;
			if (col == 0)
				return -2;
			longest = col > longest ? col : longest;
			col = 0;
			i++;
		} else if (t[i] == '\n') {
			return -1;
		} else {
			col++;
		}
	}
	return longest;
}

/* Read "Name: value" (value_len bytes of fill, optionally a blank at
 * blank_at) as a message and fold it.  Returns the header text in *out
 * (malloc'd), or NULL with r set. */
static char *fold_one(const char *name, size_t value_len, char fill, long blank_at,
		      struct result *r)
{
	size_t nlen = strlen(name), len = nlen + 2 + value_len + 4;
	char *in = malloc(len + 1), *out = NULL;
	struct message_read_opts opts = { false, "/tmp" };
	struct message msg;

	if (in == NULL)
		abort();
	memcpy(in, name, nlen);
	memcpy(in + nlen, ": ", 2);
	memset(in + nlen + 2, fill, value_len);
	if (blank_at >= 0)
		in[blank_at] = ' ';
	memcpy(in + nlen + 2 + value_len, "\n\nb\n", 4);
	result_clear(r);
	if (message_read_buffer(in, len, &opts, &msg, r)) {
		if (msg.n_headers == 1 && header_fix_fold(&msg, r))
			out = strndup(msg.headers[0].text, msg.headers[0].len);
		message_free(&msg);
	}
	free(in);
	return out;
}

/* Folding adds CRLF before a blank, or CRLF and a blank: without CR, LF
 * and blanks the text is "Name:" and the fill. */
static bool unfolds_to(const char *folded, const char *name, size_t value_len, char fill)
{
	size_t nlen = strlen(name), o = 0;
	char *flat = malloc(strlen(folded) + 1);
	bool same;

	if (flat == NULL)
		abort();
	for (const char *p = folded; *p; p++) {
		if (*p != '\r' && *p != '\n' && *p != ' ')
			flat[o++] = *p;
	}
	same = o == nlen + 1 + value_len && memcmp(flat, name, nlen) == 0 && flat[nlen] == ':';
	for (size_t i = nlen + 1; same && i < o; i++)
		same = flat[i] == fill;
	free(flat);
	return same;
}

static void test_header_fold(void)
{
	static const size_t runs[] = { 993, 994, 995, 996, 997, 1990, 1991, 1992, 1993, 1994, 2000, 5000 };
	struct result r;
	char label[128], name[1000];
	char *t;

	/* One unbreakable run in a structured header: hard breaks, each
	 * continuation (with its inserted blank) within the limit too. */
	for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
		size_t n = runs[k];
		long longest;

		t = fold_one("Message-ID", n, 'x', -1, &r);
		longest = t ? longest_header_line(t, strlen(t)) : -3;
		snprintf(label, sizeof label, "fold: Message-ID run of %zu: lines %ld <= %d", n, longest,
			 HEADER_LINE_MAX);
		tap_ok(longest > 0 && longest <= HEADER_LINE_MAX, label);
		snprintf(label, sizeof label, "fold: Message-ID run of %zu: %s", n,
			 n + 12 <= HEADER_LINE_MAX ? "unchanged" : "unfolds to the value");
		tap_ok(t != NULL && unfolds_to(t, "Message-ID", n, 'x') &&
		       (n + 12 > HEADER_LINE_MAX || strstr(t, "\r\n ") == NULL), label);
		free(t);
	}
	/* The exact boundary: 998 characters stay, 999 are folded. */
	t = fold_one("X-A", HEADER_LINE_MAX - 5, 'y', 400, &r);
	tap_ok(t != NULL && strlen(t) == HEADER_LINE_MAX + 2, "fold: a line of exactly 998 stays as it is");
	free(t);
	t = fold_one("X-A", HEADER_LINE_MAX - 4, 'y', 400, &r);
	tap_ok(t != NULL && longest_header_line(t, strlen(t)) == HEADER_LINE_MAX + 1 - 400 && unfolds_to(t, "X-A", 993, 'y'),
	       "fold: a line of 999 folds at its blank");
	free(t);
	/* A blank right at the limit: the first line is 998 characters. */
	t = fold_one("X-A", 1500, 'y', HEADER_LINE_MAX, &r);
	tap_ok(t != NULL && longest_header_line(t, strlen(t)) == HEADER_LINE_MAX &&
	       strncmp(t + HEADER_LINE_MAX, "\r\n ", 3) == 0, "fold: a blank at column 998 is used");
	free(t);
	t = fold_one("X-A", 1500, 'y', HEADER_LINE_MAX + 1, &r);
	tap_ok(t != NULL && longest_header_line(t, strlen(t)) > 0 &&
	       longest_header_line(t, strlen(t)) <= HEADER_LINE_MAX, "fold: a blank at column 999 is not");
	free(t);
	/* Unstructured text is not changed by an inserted blank: encoded words. */
	t = fold_one("Subject", 2000, 'z', -1, &r);
	tap_ok(t != NULL && strncmp(t, "Subject: =?UTF-8?B?", 19) == 0 &&
	       longest_header_line(t, strlen(t)) <= 76, "fold: an unbreakable Subject becomes encoded words");
	free(t);
	/* UTF-8 in a structured header: a hard break never splits a character. */
	{
		size_t n = 3001;
		char *in = malloc(n + 16), *p;
		struct message_read_opts opts = { false, "/tmp" };
		struct message msg;
		bool whole = true;

		if (in == NULL)
			abort();
		memcpy(in, "Keywords: a", 11);
		for (size_t i = 0; i < 1500; i++)
			memcpy(in + 11 + 2 * i, "\xc3\xa9", 2);
		memcpy(in + 3011, "\n\n", 2);
		result_clear(&r);
		tap_ok(message_read_buffer(in, 3013, &opts, &msg, &r) && header_fix_fold(&msg, &r) &&
		       longest_header_line(msg.headers[0].text, msg.headers[0].len) <= HEADER_LINE_MAX,
		       "fold: UTF-8 run folded within the limit");
		for (p = strstr(msg.headers[0].text, "\r\n "); whole && p; p = strstr(p + 3, "\r\n "))
			whole = ((unsigned char)p[3] & 0xC0) != 0x80 && ((unsigned char)p[-1] & 0xE0) != 0xC0;
		tap_ok(whole, "fold: UTF-8 run broken between characters");
		message_free(&msg);
		free(in);
	}
	/* A field name cannot be folded: up to 996 characters, "Name: " fits. */
	memset(name, 'n', sizeof name);
	memcpy(name, "X-", 2);
	name[HEADER_LINE_MAX - 2] = '\0';
	t = fold_one(name, 10, 'v', -1, &r);
	tap_ok(t != NULL, "fold: a field name of 996 characters is kept");
	free(t);
	name[HEADER_LINE_MAX - 2] = 'n';
	name[HEADER_LINE_MAX - 1] = '\0';
	t = fold_one(name, 10, 'v', -1, &r);
	tap_ok(t == NULL && r.cls == RESULT_DATAERR, "fold: a field name of 997 characters is refused");
	free(t);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i]);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_chunking(&cases[i]);
	test_pipe_byte_by_byte();
	test_boundaries();
	test_limits();
	test_header_api();
	test_write_content();
#ifdef MESSAGE_MAX_LINE
	test_long_lines();
#endif
	test_errors();
	test_header_fold();
	return tap_done();
}
