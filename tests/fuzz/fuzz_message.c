/* libFuzzer target: stdin normalization and header indexing.  The first
 * byte chooses -i; the spool must hold only CRLF-terminated lines. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_spool(const struct message *msg)
{
	char *buf;

	if (msg->body_size == 0)
		return;
	buf = malloc((size_t)msg->body_size);
	if (buf == NULL || pread(msg->spool_fd, buf, (size_t)msg->body_size, 0) != msg->body_size)
		__builtin_trap();
	if (msg->body_size < 2 || memcmp(buf + msg->body_size - 2, "\r\n", 2) != 0)
		__builtin_trap();
	for (off_t i = 0; i < msg->body_size; i++) {
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			__builtin_trap();
		if (buf[i] == '\r' && (i + 1 == msg->body_size || buf[i + 1] != '\n'))
			__builtin_trap();       /* no bare CR reaches the wire */
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct message_read_opts opts = { .spool_dir = "/tmp" };
	struct message msg;
	struct result r;

	if (size == 0)
		return 0;
	opts.ignore_dots = data[0] & 1;
	if (message_read_buffer((const char *)data + 1, size - 1, &opts, &msg, &r)) {
		check_spool(&msg);
		for (size_t i = 0; i < msg.n_headers; i++) {
			const struct header *h = &msg.headers[i];

			if (h->len < 2 || memcmp(h->text + h->len - 2, "\r\n", 2) != 0)
				__builtin_trap();
		}
		message_free(&msg);
	}
	return 0;
}
