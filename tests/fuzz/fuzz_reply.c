/* libFuzzer target: the SMTP reply parser, fed line by line. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_reply reply;
	const char *p = (const char *)data, *end = p + size, *error = NULL;

	smtp_reply_init(&reply);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		size_t line_len;

		if (smtp_reply_feed(&reply, p, len, &error) != SMTP_REPLY_MORE) {
			for (unsigned i = 0; smtp_reply_line(&reply, i, &line_len) != NULL; i++)
				;
			smtp_reply_init(&reply);
		}
		p += len + 1;
	}
	return 0;
}
