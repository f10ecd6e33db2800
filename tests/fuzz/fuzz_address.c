/* libFuzzer target: the RFC 5322 address-list parser. */
#include <stddef.h>
#include <stdint.h>

#include "rfc5322.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	return 0;
}
