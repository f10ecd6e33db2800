/* libFuzzer target: the notice of undelivered mail about a hostile
 * message (notice.c reads its header block: Auto-Submitted, Subject, the
 * quoted headers).  The first byte chooses an indexed message (stdin) or a
 * preformatted one (a queue entry's .msg, read back from a memfd).  The
 * notice must be a message whose header block is ours: a hostile Subject
 * or header must not add a header line of its own. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "notice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool load(const uint8_t *data, size_t size, bool preformatted, struct message *msg)
{
	struct message_read_opts opts = { .ignore_dots = true, .spool_dir = "/tmp" };
	struct result r;
	int fd;

	if (!preformatted)
		return message_read_buffer((const char *)data, size, &opts, msg, &r);
	fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	return message_adopt(fd, false, msg, &r);
}

/* Our own header fields, each exactly once, and nothing else before the
 * empty line (continuation lines of an encoded Subject aside). */
static void check_headers(const struct message *msg)
{
	static const char *const ours[] = {
		"From", "To", "Date", "Message-ID", "Auto-Submitted", "MIME-Version",
		"Content-Type", "Content-Transfer-Encoding", "Subject",
	};

	if (msg->n_headers != sizeof ours / sizeof ours[0])
		__builtin_trap();
	for (size_t i = 0; i < msg->n_headers; i++) {
		if (!message_header_is(&msg->headers[i], ours[i]))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct message msg = { .spool_fd = -1 };
	struct address_list rcpts = { 0 };
	struct envelope env = { .sender = (char *)"alice@example.com", .domain = (char *)"example.com" };
	struct notice_failure failed = { "bob@example.org", NULL };
	struct notice_about about = { .env = &env, .msg = &msg, .failed = &failed, .n_failed = 1,
				      .reason = "550 5.1.1 unknown", .kept = "/x/y.eml" };
	struct notice n;
	struct result r;
	const char *to;

	if (size == 0)
		return 0;
	if (!load(data + 1, size - 1, data[0] & 1, &msg))
		return 0;
	env.recipients = rcpts;
	to = notice_recipient(NULL, &env, &msg);
	if (to != NULL && notice_build(&about, to, "/tmp", &n, &r)) {
		check_headers(&n.msg);
		if (strcmp(n.env.sender, "") != 0 || n.env.recipients.n != 1)
			__builtin_trap();
		notice_free(&n);
	}
	message_free(&msg);
	return 0;
}
