/* Internal to the configuration reader: what config.c (sections, files,
 * layering) and config_keys.c (the account keys and their values) share.
 * Not a public contract: only these two files include it.
 */
#ifndef RELAYMAIL_CONFIG_INTERNAL_H
#define RELAYMAIL_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

/* inih hands values over without line numbers; our reader counts lines so
 * every message can say file:line. */
struct parse_ctx {
	struct config *cfg;
	FILE *file;
	const char *path;
	int line;
	int section_line;
	bool line_too_long;
	int fail_line;
	char current_section[128];
	struct account *current;        /* NULL until a known section */
	bool in_aliases;                /* [aliases] */
	bool in_service;                /* [service] */
	struct result *r;
	bool failed;
};

typedef bool (*value_parser)(const char *value, void *field, struct parse_ctx *ctx);

struct key_spec {
	const char *name;
	enum account_key key;
	value_parser parse;
	size_t offset;
	size_t size;
};

/* The account keys, in the order --check lists them. */
extern const struct key_spec config_key_table[];
extern const size_t config_key_table_size;

/* The key called name, or NULL. */
const struct key_spec *config_key_find(const char *name);

/* RESULT_CONFIG "file:line: text" in ctx->r; returns false. */
bool config_fail_at(struct parse_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A non-empty string value, replacing what *field held. */
bool config_parse_string(const char *value, void *field, struct parse_ctx *ctx);

#endif
