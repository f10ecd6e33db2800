/* libFuzzer target: the RFC 5322 address-list parser, and the RFC 2047
 * encoding of the display names in a list (for a relay without SMTPUTF8). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rfc5322.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)p[i] & 0x80)
			return true;
	}
	return false;
}

/* Encoded text is ASCII; text without 8-bit bytes is copied unchanged. */
static void check_encode(const char *text, size_t size)
{
	size_t cap = size * 32 + 256, len = 0;
	char *buf = malloc(cap);
	struct result r;

	if (buf == NULL)
		return;
	if (rfc5322_encode_phrases(text, size, 4, buf, cap, &len, &r)) {
		if (len >= cap || has_8bit(buf, len))
			__builtin_trap();
		if (!has_8bit(text, size) && (len != size || memcmp(buf, text, size) != 0))
			__builtin_trap();
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct address_list list = { 0 };
	struct result r;

	rfc5322_parse_address_list((const char *)data, size, &list, &r);
	for (size_t i = 0; i < list.n; i++) {
		if (!rfc5322_address_is_safe(list.items[i]))
			__builtin_trap();
	}
	address_list_free(&list);
	check_encode((const char *)data, size);
	return 0;
}
