/* libFuzzer target: the SCRAM client's reading of the relay's messages
 * (server-first, then server-final), which a hostile relay controls.  The
 * input is split at the first NUL byte into the two messages.  Whatever is
 * accepted must give a client-final message that is one line of printable
 * ASCII.  Iteration counts over 10000 are left out: they are only slow
 * (PBKDF2), and the bound itself is tested in tests/unit/test_scram.c. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool slow(const char *text, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++) {
		if (text[i] == 'i' && text[i + 1] == '=') {
			size_t digits = 0;

			while (i + 2 + digits < len && text[i + 2 + digits] >= '0' && text[i + 2 + digits] <= '9')
				digits++;
			if (digits > 4)
				return true;
		}
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char binding[32] = { 1, 2, 3 };
	const char *text = (const char *)data;
	const char *nul = memchr(text, '\0', size);
	size_t first_len = nul ? (size_t)(nul - text) : size;
	struct scram *s = NULL;
	const char *final = NULL;
	struct result r;

	if (slow(text, size))
		return 0;
	if (!scram_new_with_nonce("user", "pencil", (size & 1) ? binding : NULL, (size & 1) ? sizeof binding : 0,
				  false, "rOprNGfwEbeRWgbNEkqO", &s, &r))
		return 0;
	if (scram_client_final(s, text, first_len, &final, &r)) {
		for (const char *p = final; *p; p++) {
			if (*p < 0x21 || *p > 0x7e)
				__builtin_trap();
		}
		if (nul != NULL)
			scram_verify_server(s, nul + 1, size - first_len - 1, &r);
	}
	scram_free(s);
	return 0;
}
