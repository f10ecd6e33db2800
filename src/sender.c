#include "autoconfig.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "i18n.h"
#include "log.h"
#include "rfc5322.h"
#include "sender.h"

#define ENTRY_SEPARATORS ", \t"

static bool is_pattern(const char *entry)
{
	return strpbrk(entry, "*?[") != NULL;
}

/* The next entry of a `from` list into buf; false at the end.  An entry
 * longer than an address is cut and then fails the check. */
static bool next_entry(const char **cursor, char *buf, size_t size)
{
	const char *p = *cursor + strspn(*cursor, ENTRY_SEPARATORS);
	size_t len = strcspn(p, ENTRY_SEPARATORS);

	if (len == 0)
		return false;
	snprintf(buf, size, "%.*s", (int)len, p);
	*cursor = p + len;
	return true;
}

/* local@domain, both parts present, printable. */
static bool entry_is_valid(const char *entry)
{
	const char *at = strrchr(entry, '@');

	return at != NULL && at != entry && at[1] != '\0' && rfc5322_address_is_safe(entry) &&
	       strpbrk(entry, "<>()\"") == NULL;
}

bool sender_list_primary(const char *list, char *buf, size_t size, struct result *r)
{
	char entry[ADDRESS_MAX + 2];
	const char *cursor = list;

	buf[0] = '\0';
	if (list == NULL)
		return true;
	/* One plain address, the common case, is taken as it is: the
	 * sender checks of envelope.c judge it as they always did. */
	if (strpbrk(list, ENTRY_SEPARATORS) == NULL && !is_pattern(list)) {
		snprintf(buf, size, "%s", list);
		return true;
	}
	while (next_entry(&cursor, entry, sizeof entry)) {
		if (!entry_is_valid(entry))
			return result_fail(r, RESULT_CONFIG,
					   _("from: '%s' is neither an address nor a pattern such as *@example.org"),
					   entry);
		if (buf[0] == '\0' && !is_pattern(entry))
			snprintf(buf, size, "%s", entry);
	}
	return true;
}

/* "alice+git@example.com" -> "alice@example.com"; false when addr has no
 * +detail. */
static bool base_address(const char *addr, char *buf, size_t size)
{
	const char *at = strrchr(addr, '@');
	const char *plus = strchr(addr, '+');

	if (at == NULL || plus == NULL || plus > at || plus == addr)
		return false;
	snprintf(buf, size, "%.*s%s", (int)(plus - addr), addr, at);
	return true;
}

static bool entry_matches(const char *entry, const char *addr)
{
	if (is_pattern(entry))
		return fnmatch(entry, addr, FNM_CASEFOLD) == 0;
	return strcasecmp(entry, addr) == 0;
}

enum sender_match sender_list_match(const char *list, const char *addr, char *entry_out,
				    size_t entry_size)
{
	char entry[ADDRESS_MAX + 2], base[ADDRESS_MAX + 1];
	const char *cursor = list;
	bool has_base = base_address(addr, base, sizeof base);
	enum sender_match best = SENDER_MATCH_NONE;

	if (list == NULL || *addr == '\0')
		return SENDER_MATCH_NONE;
	while (best != SENDER_MATCH_ADDRESS && next_entry(&cursor, entry, sizeof entry)) {
		enum sender_match kind = is_pattern(entry) ? SENDER_MATCH_PATTERN : SENDER_MATCH_ADDRESS;

		if (kind <= best || !entry_is_valid(entry))
			continue;
		if (entry_matches(entry, addr) || (has_base && entry_matches(entry, base))) {
			best = kind;
			if (entry_out != NULL)
				snprintf(entry_out, entry_size, "%s", entry);
		}
	}
	return best;
}

struct one_address {
	char *buf;
	size_t size;
	size_t n;
};

static bool keep_address(const char *addr, size_t start, size_t len, void *data, struct result *r)
{
	struct one_address *one = data;

	(void)start;
	(void)len;
	(void)r;
	if (one->n++ == 0)
		snprintf(one->buf, one->size, "%s", addr);
	return true;
}

/* The single addr-spec of text; false when it holds none or several. */
static bool single_address(const char *text, size_t len, char *buf, size_t size)
{
	struct one_address one = { buf, size, 0 };
	struct result ignored;

	result_clear(&ignored);
	buf[0] = '\0';
	return rfc5322_scan_address_list(text, len, keep_address, &one, &ignored) && one.n == 1 &&
	       strlen(buf) + 1 < size;
}

bool sender_parse_given(const char *given, char *buf, size_t size, struct result *r)
{
	/* Plain values (and the null sender) are judged by envelope.c. */
	if (strpbrk(given, " \t<>()\",;:") == NULL) {
		if (strlen(given) >= size)
			return result_fail(r, RESULT_USAGE, _("sender address longer than %d characters"), ADDRESS_MAX);
		snprintf(buf, size, "%s", given);
		return true;
	}
	/* -f 'Bounce Handler <bounce@example.com>': the address, as Postfix
	 * takes it. */
	if (!single_address(given, strlen(given), buf, size))
		return result_fail(r, RESULT_USAGE, _("invalid sender address '%s'"), given);
	return true;
}

bool sender_header_address(const struct message *msg, const char *name, char *buf, size_t size)
{
	long idx = message_find(msg, name, 0);
	const char *value;
	size_t len;

	if (idx < 0)
		return false;
	value = message_header_value(&msg->headers[idx], &len);
	return single_address(value, len, buf, size);
}

bool sender_from_headers(const struct message *msg, char *buf, size_t size)
{
	return sender_header_address(msg, "From", buf, size) ||
	       sender_header_address(msg, "Sender", buf, size);
}

bool sender_needs_message(const struct config *cfg, const struct options *opts)
{
	return cfg->account_by_sender && opts->account == NULL && opts->sender == NULL &&
	       (opts->extract_recipients || cfg->defaults.envelope_from == ENVELOPE_FROM_HEADER);
}

bool sender_choosing_address(const struct config *cfg, const struct options *opts,
			     const struct message *msg, char *buf, size_t size, struct result *r)
{
	buf[0] = '\0';
	if (opts->sender != NULL)
		return sender_parse_given(opts->sender, buf, size, r);
	if (msg != NULL && msg->spool_fd >= 0 &&
	    (opts->extract_recipients || cfg->defaults.envelope_from == ENVELOPE_FROM_HEADER) &&
	    !sender_from_headers(msg, buf, size))
		buf[0] = '\0';
	return true;
}

const char *sender_choose_account(const struct config *cfg, const char *addr, char *why, size_t why_size)
{
	const struct account *best = NULL;
	enum sender_match best_kind = SENDER_MATCH_NONE;
	char entry[ADDRESS_MAX + 2], best_entry[ADDRESS_MAX + 2] = "";

	for (size_t i = 0; i < cfg->n_accounts && best_kind != SENDER_MATCH_ADDRESS; i++) {
		const struct account *a = &cfg->accounts[i];
		enum sender_match kind = sender_list_match(a->from, addr, entry, sizeof entry);

		if (kind > best_kind) {
			best = a;
			best_kind = kind;
			snprintf(best_entry, sizeof best_entry, "%s", entry);
		}
	}
	if (best == NULL) {
		snprintf(why, why_size, _("%s matches no account's from: the default account"), addr);
		return NULL;
	}
	snprintf(why, why_size, _("%s matches %s in the from of account '%s' (%s)"), addr, best_entry,
		 best->name, best->origin[KEY_FROM] ? best->origin[KEY_FROM] : "?");
	return best->name;
}
