/* libFuzzer target: OAuth answers and SASL error challenges (src/json.c).
 * Asserts that what is accepted is one object: '{' ... '}' with nothing
 * but white space around it, and that the members can be read. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* json.c opens and closes json-c per parse; one reference held here keeps
 * it loaded, so the run measures parsing rather than the dynamic loader. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	(void)dlopen("libjson-c.so.5", RTLD_NOW | RTLD_LOCAL);
	return 0;
}

static int blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"access_token", "refresh_token", "expires_in", "error", "error_description",
		"interval", "device_code", "status",
	};
	const char *text = (const char *)data;
	struct json *j = NULL;
	struct result r;
	size_t a = 0, b = size;
	long long v;

	if (!json_parse_object(text, size, &j, &r))
		return 0;
	while (a < b && blank(text[a]))
		a++;
	while (b > a && blank(text[b - 1]))
		b--;
	if (b - a < 2 || text[a] != '{' || text[b - 1] != '}')
		__builtin_trap();
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		const char *s = json_string(j, names[i]);

		if (s != NULL && strlen(s) > size)
			__builtin_trap();
		(void)json_integer(j, names[i], &v);
	}
	json_free(j);
	return 0;
}
