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
#include "message_internal.h"


bool message_looks_like_field(const char *line, size_t n, size_t *name_len)
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

bool message_grow_headers(struct message *msg, struct result *r)
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
bool message_store_header(struct message *msg, const char *line, size_t n, bool continuation,
			 size_t name_len, size_t limit, struct result *r)
{
	struct header *h;
	char *text;

	if (!continuation) {
		if (msg->n_headers >= limit)
			return result_fail(r, RESULT_DATAERR, _("too many header fields (limit %d)"),
					   MESSAGE_MAX_HEADERS);
		if (!message_grow_headers(msg, r))
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

	if (!message_grow_headers(msg, r))
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
	buf = malloc(MESSAGE_IO_CHUNK);
	if (buf == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	off = msg->body_offset;
	while (ok && off < msg->body_offset + msg->body_size) {
		ssize_t n = pread(msg->spool_fd, buf, MESSAGE_IO_CHUNK, off);

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
		    (!continuation && !message_looks_like_field(block + at, n, &name_len)))
			ok = result_fail(r, RESULT_DATAERR, _("a queued message has a malformed header line"));
		else
			ok = message_store_header(copy, block + at, n, continuation, name_len,
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

		if (!message_grow_headers(copy, r))
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
