/* libFuzzer target: the queue entry (.env) parser, which reads files that
 * another user or a crash may have written.  Whatever it accepts must be
 * safe to put in SMTP commands, within the bounds, and written back by
 * queue_entry_format() as text the parser accepts again, unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "queue_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_entry(const struct entry *e)
{
	if (e->account == NULL || e->env.domain == NULL || e->env.sender == NULL ||
	    e->env.recipients.n == 0 || e->env.recipients.n > ENVELOPE_MAX_RECIPIENTS)
		__builtin_trap();
	if (!rfc5322_address_is_safe(e->env.sender) || strlen(e->account) > QUEUE_ACCOUNT_MAX ||
	    strlen(e->env.domain) > QUEUE_DOMAIN_MAX)
		__builtin_trap();
	for (size_t i = 0; i < e->env.recipients.n; i++) {
		if (!rfc5322_address_is_safe(e->env.recipients.items[i]))
			__builtin_trap();
	}
	if (e->env.dsn_envid && strlen(e->env.dsn_envid) > DSN_ENVID_MAX)
		__builtin_trap();
	if (e->last_error && strlen(e->last_error) > QUEUE_LAST_ERROR_MAX)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct entry e, again;
	struct result r;
	char *text, *text2;

	if (!queue_entry_parse((const char *)data, size, &e, &r))
		return 0;
	check_entry(&e);
	text = queue_entry_format(&e);
	if (text == NULL)
		__builtin_trap();
	if (!queue_entry_parse(text, strlen(text), &again, &r))
		__builtin_trap();       /* we wrote what we refuse to read */
	text2 = queue_entry_format(&again);
	if (text2 == NULL || strcmp(text, text2) != 0)
		__builtin_trap();       /* a round trip changed the entry */
	free(text2);
	free(text);
	queue_entry_free(&again);
	queue_entry_free(&e);
	return 0;
}
