/* Internal to the aliases file: what aliases_file.c (reading and lookup)
 * and aliases_check.c (newaliases: loops and depth across [aliases] and
 * the file) share.  Only these two files include it.
 */
#ifndef RELAYMAIL_ALIASES_INTERNAL_H
#define RELAYMAIL_ALIASES_INTERNAL_H

#include "aliases_file.h"

struct parser {
	struct aliases_file *af;
	aliases_report_fn report;
	void *arg;
	unsigned errors;
	size_t cap;
};

/* Report one problem of af's file at line (0: the file as a whole);
 * is_error counts it.  text is printf-style, made printable. */
void aliases_problem(struct parser *p, bool is_error, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The entry for name (case-insensitive), or NULL. */
const struct aliases_entry *aliases_find(const struct aliases_file *af, const char *name);

#endif
