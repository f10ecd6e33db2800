#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "service_proto.h"

static const char *const class_tokens[] = {
	[RESULT_OK] = "OK", [RESULT_TEMPFAIL] = "TEMPFAIL", [RESULT_PERMFAIL] = "PERMFAIL",
	[RESULT_NOUSER] = "NOUSER", [RESULT_NOHOST] = "NOHOST", [RESULT_PROTOCOL] = "PROTOCOL",
	[RESULT_NOPERM] = "NOPERM", [RESULT_CONFIG] = "CONFIG", [RESULT_USAGE] = "USAGE",
	[RESULT_DATAERR] = "DATAERR", [RESULT_NOINPUT] = "NOINPUT", [RESULT_CANTCREAT] = "CANTCREAT",
	[RESULT_OSERR] = "OSERR", [RESULT_SOFTWARE] = "SOFTWARE",
};

#define N_CLASSES (sizeof class_tokens / sizeof class_tokens[0])

bool service_xtext_encode(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;

		if (c < 33 || c > 126 || c == '+' || c == '=') {
			if (o + 3 >= size)
				return false;
			snprintf(out + o, size - o, "+%02X", c);
			o += 3;
		} else {
			if (o + 1 >= size)
				return false;
			out[o++] = (char)c;
		}
	}
	if (o >= size)
		return false;
	out[o] = '\0';
	return true;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool service_xtext_decode(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == '+') {
			int hi = hex_value(in[1]), lo = hi < 0 ? -1 : hex_value(in[2]);

			if (lo < 0 || (hi == 0 && lo == 0))
				return false;
			c = (unsigned char)(hi * 16 + lo);
			in += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return false;
		}
		if (o + 1 >= size)
			return false;
		out[o++] = (char)c;
	}
	if (size == 0)
		return false;
	out[o] = '\0';
	return true;
}

const char *service_class_token(enum result_class cls)
{
	return (size_t)cls < N_CLASSES && class_tokens[cls] ? class_tokens[cls] : "SOFTWARE";
}

bool service_class_parse(const char *token, enum result_class *cls)
{
	for (size_t i = 0; i < N_CLASSES; i++) {
		if (class_tokens[i] != NULL && strcmp(class_tokens[i], token) == 0) {
			*cls = (enum result_class)i;
			return true;
		}
	}
	return false;
}

int service_class_code(enum result_class cls)
{
	switch (cls) {
	case RESULT_OK: return 250;
	case RESULT_TEMPFAIL: case RESULT_CANTCREAT: case RESULT_OSERR: return 451;
	case RESULT_NOUSER: return 550;
	default: return 554;
	}
}

void proto_reader_init(struct proto_reader *rd, int fd, unsigned timeout_s)
{
	rd->fd = fd;
	rd->deadline = time(NULL) + (time_t)timeout_s;
	rd->start = rd->end = 0;
}

/* Read more into the buffer, waiting at most until the deadline. */
static enum proto_status fill(struct proto_reader *rd)
{
	for (;;) {
		struct pollfd pfd = { .fd = rd->fd, .events = POLLIN };
		long left = (long)(rd->deadline - time(NULL));
		ssize_t n;
		int ready;

		if (left <= 0)
			return PROTO_TIMEOUT;
		ready = poll(&pfd, 1, (int)(left > 60 ? 60000 : left * 1000));
		if (ready < 0 && errno != EINTR)
			return PROTO_ERROR;
		if (ready <= 0)
			continue;
		n = read(rd->fd, rd->buf + rd->end, sizeof rd->buf - 1 - rd->end);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return PROTO_ERROR;
		if (n == 0)
			return PROTO_EOF;
		rd->end += (size_t)n;
		return PROTO_OK;
	}
}

enum proto_status proto_read_line(struct proto_reader *rd, char *line)
{
	for (;;) {
		char *lf = memchr(rd->buf + rd->start, '\n', rd->end - rd->start);
		enum proto_status st;

		if (lf != NULL) {
			size_t len = (size_t)(lf - (rd->buf + rd->start));

			if (len > 0 && rd->buf[rd->start + len - 1] == '\r')
				len--;
			if (len > SERVICE_LINE_MAX)
				return PROTO_TOO_LONG;
			memcpy(line, rd->buf + rd->start, len);
			line[len] = '\0';
			rd->start = (size_t)(lf - rd->buf) + 1;
			return PROTO_OK;
		}
		if (rd->start > 0) {
			memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
			rd->end -= rd->start;
			rd->start = 0;
		}
		if (rd->end >= sizeof rd->buf - 1)
			return PROTO_TOO_LONG;
		if ((st = fill(rd)) != PROTO_OK)
			return st;
	}
}

enum proto_status proto_read_some(struct proto_reader *rd, char *out, size_t size, size_t *got)
{
	enum proto_status st;

	*got = 0;
	if (rd->start == rd->end) {
		rd->start = rd->end = 0;
		if ((st = fill(rd)) != PROTO_OK)
			return st;
	}
	*got = rd->end - rd->start < size ? rd->end - rd->start : size;
	memcpy(out, rd->buf + rd->start, *got);
	rd->start += *got;
	return PROTO_OK;
}
