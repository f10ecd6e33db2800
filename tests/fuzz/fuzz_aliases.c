/* libFuzzer target: the aliases(5) reader (aliases_file_parse) and the
 * lookup over what it kept.  Asserts that every entry kept has a valid
 * name, that the table is sorted without duplicates, and that each name
 * is found again. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aliases_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore(void *arg, bool is_error, const char *path, int line, const char *text)
{
	(void)arg;
	(void)is_error;
	(void)path;
	assert(line >= 0);
	assert(strchr(text, '\n') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aliases_file *af = aliases_file_new("fuzz");
	struct result r;

	if (af == NULL)
		return 0;
	aliases_file_parse(af, (const char *)data, size, ignore, NULL);
	assert(af->loaded);
	for (size_t i = 0; i < af->n; i++) {
		const char *targets = NULL;

		assert(af->entries[i].name[0] != '\0');
		assert(strlen(af->entries[i].targets) <= 2 * ALIASES_ENTRY_MAX + 2);
		if (i > 0)
			assert(strcasecmp(af->entries[i - 1].name, af->entries[i].name) < 0);
		result_clear(&r);
		assert(aliases_file_lookup(af, af->entries[i].name, &targets, &r));
		assert(targets == NULL || targets == af->entries[i].targets);
	}
	aliases_file_free(af);
	return 0;
}
