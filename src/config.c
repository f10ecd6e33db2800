#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_trust.h"
#include "i18n.h"
#include "providers.h"

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

static bool fail_at(struct parse_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool fail_at(struct parse_ctx *ctx, const char *fmt, ...)
{
	char text[RESULT_MSG_MAX / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	ctx->failed = true;
	ctx->fail_line = ctx->line;
	return result_fail(ctx->r, RESULT_CONFIG, "%s:%d: %s", ctx->path, ctx->line, text);
}

static bool parse_string(const char *value, void *field, struct parse_ctx *ctx)
{
	char **dst = field;

	if (*value == '\0')
		return fail_at(ctx, _("empty value"));
	free(*dst);
	*dst = strdup(value);
	if (*dst == NULL)
		return fail_at(ctx, _("out of memory"));
	return true;
}

static bool parse_hostname(const char *value, void *field, struct parse_ctx *ctx)
{
	for (const char *p = value; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr(".-_:[]", *p))
			return fail_at(ctx, _("invalid host name '%s'"), value);
	}
	return parse_string(value, field, ctx);
}

static bool parse_number(const char *value, unsigned *out, unsigned min, unsigned max)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*value))
		return false;
	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

static bool parse_port(const char *value, void *field, struct parse_ctx *ctx)
{
	if (!parse_number(value, field, 1, 65535))
		return fail_at(ctx, _("invalid port '%s' (expected 1-65535)"), value);
	return true;
}

static bool parse_timeout(const char *value, void *field, struct parse_ctx *ctx)
{
	if (!parse_number(value, field, 1, 3600))
		return fail_at(ctx, _("invalid timeout '%s' (expected 1-3600 seconds)"), value);
	return true;
}

static bool parse_bool(const char *value, void *field, struct parse_ctx *ctx)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	bool *dst = field;

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0)
			return *dst = true, true;
		if (strcasecmp(value, no[i]) == 0)
			return *dst = false, true;
	}
	return fail_at(ctx, _("invalid value '%s' (expected yes or no)"), value);
}

static bool parse_tls(const char *value, void *field, struct parse_ctx *ctx)
{
	enum tls_mode *dst = field;

	if (strcasecmp(value, "starttls") == 0)
		*dst = TLS_MODE_STARTTLS;
	else if (strcasecmp(value, "implicit") == 0)
		*dst = TLS_MODE_IMPLICIT;
	else if (strcasecmp(value, "off") == 0)
		*dst = TLS_MODE_OFF;
	else
		return fail_at(ctx, _("invalid tls '%s' (expected starttls, implicit or off)"), value);
	return true;
}

static bool parse_auth(const char *value, void *field, struct parse_ctx *ctx)
{
	enum auth_choice *dst = field;

	if (strcasecmp(value, "auto") == 0)
		*dst = AUTH_CHOICE_AUTO;
	else if (strcasecmp(value, "plain") == 0)
		*dst = AUTH_CHOICE_PLAIN;
	else if (strcasecmp(value, "login") == 0)
		*dst = AUTH_CHOICE_LOGIN;
	else
		return fail_at(ctx, _("invalid auth '%s' (expected auto, plain or login)"), value);
	return true;
}

static bool parse_password_source(const char *value, void *field, struct parse_ctx *ctx)
{
	static const char *const names[] = { "auto", "keyring", "command", "file", "systemd", "prompt" };
	enum password_source *dst = field;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcasecmp(value, names[i]) == 0) {
			*dst = (enum password_source)i;
			return true;
		}
	}
	return fail_at(ctx, _("invalid password_source '%s' (expected auto, keyring, command, file, systemd or prompt)"),
		       value);
}

static bool parse_from_policy(const char *value, void *field, struct parse_ctx *ctx)
{
	enum from_policy *dst = field;

	if (strcasecmp(value, "keep") == 0)
		*dst = FROM_POLICY_KEEP;
	else if (strcasecmp(value, "rewrite_unqualified") == 0)
		*dst = FROM_POLICY_REWRITE_UNQUALIFIED;
	else if (strcasecmp(value, "always") == 0)
		*dst = FROM_POLICY_ALWAYS;
	else
		return fail_at(ctx, _("invalid from_policy '%s' (expected keep, rewrite_unqualified or always)"),
			       value);
	return true;
}

/* "3600", "90m", "12h", "5d" */
static bool parse_duration(const char *value, void *field, struct parse_ctx *ctx)
{
	unsigned n, mult = 1;
	char digits[16];
	size_t len = strlen(value);

	if (len == 0 || len >= sizeof digits)
		return fail_at(ctx, _("invalid duration '%s' (e.g. 3600, 90m, 12h, 5d)"), value);
	memcpy(digits, value, len + 1);
	switch (digits[len - 1]) {
	case 's': mult = 1; digits[len - 1] = '\0'; break;
	case 'm': mult = 60; digits[len - 1] = '\0'; break;
	case 'h': mult = 3600; digits[len - 1] = '\0'; break;
	case 'd': mult = 86400; digits[len - 1] = '\0'; break;
	default: break;
	}
	if (!parse_number(digits, &n, 1, 365u * 86400u / mult))
		return fail_at(ctx, _("invalid duration '%s' (e.g. 3600, 90m, 12h, 5d)"), value);
	*(unsigned *)field = n * mult;
	return true;
}

static bool parse_path(const char *value, void *field, struct parse_ctx *ctx)
{
	if (value[0] != '/')
		return fail_at(ctx, _("'%s' is not an absolute path"), value);
	return parse_string(value, field, ctx);
}

static bool parse_log_format(const char *value, void *field, struct parse_ctx *ctx)
{
	bool *json = field;

	if (strcasecmp(value, "text") == 0)
		*json = false;
	else if (strcasecmp(value, "json") == 0)
		*json = true;
	else
		return fail_at(ctx, _("invalid log_format '%s' (expected text or json)"), value);
	return true;
}

#define ACCOUNT_FIELD(f) offsetof(struct account, f), sizeof(((struct account *)0)->f)
static const struct key_spec key_table[] = {
	{ "host",             KEY_HOST,             parse_hostname, ACCOUNT_FIELD(host) },
	{ "port",             KEY_PORT,             parse_port,     ACCOUNT_FIELD(port) },
	{ "tls",              KEY_TLS,              parse_tls,      ACCOUNT_FIELD(tls) },
	{ "tls_ca_file",      KEY_TLS_CA_FILE,      parse_string,   ACCOUNT_FIELD(tls_ca_file) },
	{ "tls_verify",       KEY_TLS_VERIFY,       parse_bool,     ACCOUNT_FIELD(tls_verify) },
	{ "auth",             KEY_AUTH,             parse_auth,     ACCOUNT_FIELD(auth) },
	{ "user",             KEY_USER,             parse_string,   ACCOUNT_FIELD(user) },
	{ "password_command", KEY_PASSWORD_COMMAND, parse_string,   ACCOUNT_FIELD(password_command) },
	{ "password_file",    KEY_PASSWORD_FILE,    parse_string,   ACCOUNT_FIELD(password_file) },
	{ "password_source",  KEY_PASSWORD_SOURCE,  parse_password_source, ACCOUNT_FIELD(password_source) },
	{ "credential",       KEY_CREDENTIAL,       parse_string,   ACCOUNT_FIELD(credential) },
	{ "from_policy",      KEY_FROM_POLICY,      parse_from_policy, ACCOUNT_FIELD(from_policy) },
	{ "queue",            KEY_QUEUE,            parse_bool,     ACCOUNT_FIELD(queue) },
	{ "queue_dir",        KEY_QUEUE_DIR,        parse_path,     ACCOUNT_FIELD(queue_dir) },
	{ "queue_lifetime",   KEY_QUEUE_LIFETIME,   parse_duration, ACCOUNT_FIELD(queue_lifetime) },
	{ "failed_dir",       KEY_FAILED_DIR,       parse_path,     ACCOUNT_FIELD(failed_dir) },
	{ "fallback",         KEY_FALLBACK,         parse_string,   ACCOUNT_FIELD(fallback) },
	{ "provider",         KEY_PROVIDER,         parse_string,   ACCOUNT_FIELD(provider) },
	{ "region",           KEY_REGION,           parse_string,   ACCOUNT_FIELD(region) },
	{ "log_file",         KEY_LOG_FILE,         parse_path,     ACCOUNT_FIELD(log_file) },
	{ "log_format",       KEY_LOG_FORMAT,       parse_log_format, ACCOUNT_FIELD(log_json) },
	{ "tls_session_cache", KEY_TLS_SESSION_CACHE, parse_bool,   ACCOUNT_FIELD(tls_session_cache) },
	{ "dkim_selector",    KEY_DKIM_SELECTOR,    parse_string,   ACCOUNT_FIELD(dkim_selector) },
	{ "from",             KEY_FROM,             parse_string,   ACCOUNT_FIELD(from) },
	{ "domain",           KEY_DOMAIN,           parse_hostname, ACCOUNT_FIELD(domain) },
	{ "timeout",          KEY_TIMEOUT,          parse_timeout,  ACCOUNT_FIELD(timeout) },
};

const char *config_alias(const struct account *acct, const char *name)
{
	for (size_t i = 0; i < acct->n_aliases; i++) {
		if (strcasecmp(acct->aliases[i].name, name) == 0)
			return acct->aliases[i].targets;
	}
	return NULL;
}

bool config_key_value(const struct account *a, enum account_key key, char *buf, size_t size)
{
	static const char *const tls_names[] = { "starttls", "implicit", "off" };
	static const char *const auth_names[] = { "auto", "plain", "login" };
	static const char *const source_names[] = { "auto", "keyring", "command", "file", "systemd", "prompt" };
	static const char *const policy_names[] = { "keep", "rewrite_unqualified", "always" };

	for (size_t i = 0; i < sizeof key_table / sizeof key_table[0]; i++) {
		const struct key_spec *k = &key_table[i];
		const void *field = (const char *)a + k->offset;

		if (k->key != key)
			continue;
		if (k->parse == parse_port || k->parse == parse_timeout || k->parse == parse_duration)
			snprintf(buf, size, "%u", *(const unsigned *)field);
		else if (k->parse == parse_bool)
			snprintf(buf, size, "%s", *(const bool *)field ? "yes" : "no");
		else if (k->parse == parse_log_format)
			snprintf(buf, size, "%s", *(const bool *)field ? "json" : "text");
		else if (k->parse == parse_tls)
			snprintf(buf, size, "%s", tls_names[*(const enum tls_mode *)field]);
		else if (k->parse == parse_auth)
			snprintf(buf, size, "%s", auth_names[*(const enum auth_choice *)field]);
		else if (k->parse == parse_password_source)
			snprintf(buf, size, "%s", source_names[*(const enum password_source *)field]);
		else if (k->parse == parse_from_policy)
			snprintf(buf, size, "%s", policy_names[*(const enum from_policy *)field]);
		else if (*(char *const *)field != NULL)
			snprintf(buf, size, "%s", *(char *const *)field);
		else
			return false;
		return true;
	}
	return false;
}

const char *config_key_name(enum account_key key)
{
	for (size_t i = 0; i < sizeof key_table / sizeof key_table[0]; i++) {
		if (key_table[i].key == key)
			return key_table[i].name;
	}
	return "?";
}

static char *origin_string(const struct parse_ctx *ctx, int line)
{
	char buf[PATH_MAX + 32];

	snprintf(buf, sizeof buf, "%s:%d", ctx->path, line);
	return strdup(buf);
}

static struct account *find_account(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_accounts; i++) {
		if (strcmp(cfg->accounts[i].name, name) == 0)
			return &cfg->accounts[i];
	}
	return NULL;
}

static bool valid_account_name(const char *name)
{
	if (*name == '\0')
		return false;
	for (const char *p = name; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("_.-@+", *p))
			return false;
	}
	return true;
}

static struct account *add_account(struct parse_ctx *ctx, const char *name)
{
	struct config *cfg = ctx->cfg;
	struct account *grown, *acct;

	grown = realloc(cfg->accounts, (cfg->n_accounts + 1) * sizeof *grown);
	if (grown == NULL)
		return NULL;
	cfg->accounts = grown;
	acct = &cfg->accounts[cfg->n_accounts];
	memset(acct, 0, sizeof *acct);
	acct->name = strdup(name);
	acct->section_origin = origin_string(ctx, ctx->section_line);
	if (acct->name == NULL || acct->section_origin == NULL) {
		free(acct->name);
		free(acct->section_origin);
		return NULL;
	}
	cfg->n_accounts++;
	return acct;
}

/* Called by inih's handler when the section name changes. */
static bool enter_section(struct parse_ctx *ctx, const char *section)
{
	snprintf(ctx->current_section, sizeof ctx->current_section, "%s", section);
	ctx->current = NULL;
	ctx->in_aliases = strcmp(section, "aliases") == 0;
	ctx->in_service = strcmp(section, "service") == 0;
	if (ctx->in_aliases)
		return true;
	if (ctx->in_service) {
		/* Only root decides who the service serves and how. */
		if (!ctx->cfg->loading_system)
			return fail_at(ctx, _("[service] is only honoured in the system file"));
		ctx->cfg->service.present = true;
		return true;
	}
	if (strcmp(section, "defaults") == 0) {
		ctx->current = &ctx->cfg->defaults;
		return true;
	}
	if (strncmp(section, "account ", 8) == 0) {
		const char *name = section + 8;

		while (*name == ' ')
			name++;
		if (!valid_account_name(name))
			return fail_at(ctx, _("invalid account name '%s'"), name);
		ctx->current = find_account(ctx->cfg, name);
		if (ctx->current == NULL)
			ctx->current = add_account(ctx, name);
		if (ctx->current == NULL)
			return fail_at(ctx, _("out of memory"));
		return true;
	}
	return fail_at(ctx, _("unknown section [%s]"), section);
}

static bool set_default_account(struct parse_ctx *ctx, const char *value)
{
	char *origin = origin_string(ctx, ctx->line);

	if (origin == NULL || !parse_string(value, &ctx->cfg->default_account, ctx)) {
		free(origin);
		return false;
	}
	free(ctx->cfg->default_account_origin);
	ctx->cfg->default_account_origin = origin;
	return true;
}

/* Only the system file may say where --config files are trusted: a file
 * that could widen its own trust would make the rule pointless. */
static bool set_alternate_dirs(struct parse_ctx *ctx, const char *value)
{
	char *origin;

	if (!ctx->cfg->loading_system)
		return fail_at(ctx, _("'alternate_config_directories' is only honoured in the system file"));
	if (!config_trust_valid_dirs(value))
		return fail_at(ctx, _("'alternate_config_directories' takes absolute directory names separated by spaces or commas"));
	origin = origin_string(ctx, ctx->line);
	if (origin == NULL || !parse_string(value, &ctx->cfg->alternate_dirs, ctx)) {
		free(origin);
		return false;
	}
	free(ctx->cfg->alternate_dirs_origin);
	ctx->cfg->alternate_dirs_origin = origin;
	return true;
}

static bool set_key(struct parse_ctx *ctx, const char *name, const char *value)
{
	struct account *acct = ctx->current;
	const struct key_spec *spec = NULL;

	for (size_t i = 0; i < sizeof key_table / sizeof key_table[0]; i++) {
		if (strcmp(key_table[i].name, name) == 0)
			spec = &key_table[i];
	}
	if (spec == NULL) {
		if (acct == &ctx->cfg->defaults && strcmp(name, "default_account") == 0)
			return set_default_account(ctx, value);
		if (acct == &ctx->cfg->defaults && strcmp(name, "alternate_config_directories") == 0)
			return set_alternate_dirs(ctx, value);
		return fail_at(ctx, _("unknown key '%s'"), name);
	}
	if (acct->file_mask & (1u << spec->key))
		return fail_at(ctx, _("key '%s' is set twice in this section"), name);
	if (!spec->parse(value, (char *)acct + spec->offset, ctx))
		return false;
	free(acct->origin[spec->key]);
	acct->origin[spec->key] = origin_string(ctx, ctx->line);
	acct->set_mask |= 1u << spec->key;
	acct->file_mask |= 1u << spec->key;
	return true;
}

/* Later files override an alias; the same file may not define it twice. */
static bool set_alias(struct parse_ctx *ctx, const char *name, const char *value)
{
	struct config *cfg = ctx->cfg;
	struct alias *a = NULL, *grown;

	if (!valid_account_name(name) || strchr(name, '@') != NULL)
		return fail_at(ctx, _("invalid alias name '%s' (a local name such as root)"), name);
	if (*value == '\0')
		return fail_at(ctx, _("empty value"));
	for (size_t i = 0; i < cfg->n_aliases; i++) {
		if (strcasecmp(cfg->aliases[i].name, name) == 0)
			a = &cfg->aliases[i];
	}
	if (a != NULL && a->origin && strncmp(a->origin, ctx->path, strlen(ctx->path)) == 0 &&
	    a->origin[strlen(ctx->path)] == ':')
		return fail_at(ctx, _("alias '%s' is defined twice"), name);
	if (a == NULL) {
		grown = realloc(cfg->aliases, (cfg->n_aliases + 1) * sizeof *grown);
		if (grown == NULL)
			return fail_at(ctx, _("out of memory"));
		cfg->aliases = grown;
		a = &cfg->aliases[cfg->n_aliases++];
		memset(a, 0, sizeof *a);
		a->name = strdup(name);
	}
	free(a->targets);
	free(a->origin);
	a->targets = strdup(value);
	a->origin = origin_string(ctx, ctx->line);
	if (a->name == NULL || a->targets == NULL || a->origin == NULL)
		return fail_at(ctx, _("out of memory"));
	return true;
}

static bool set_service_key(struct parse_ctx *ctx, const char *name, const char *value)
{
	char err[RESULT_MSG_MAX / 4];

	return config_service_set(&ctx->cfg->service, name, value, err, sizeof err) ||
	       fail_at(ctx, "%s", err);
}

static int on_ini_value(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;

	if (ctx->failed)
		return 0;
	if (strcmp(section, ctx->current_section) != 0 ||
	    (ctx->current == NULL && !ctx->in_aliases && !ctx->in_service)) {
		if (!enter_section(ctx, section))
			return 0;
	}
	if (ctx->in_aliases)
		return set_alias(ctx, name, value) ? 1 : 0;
	if (ctx->in_service)
		return set_service_key(ctx, name, value) ? 1 : 0;
	return set_key(ctx, name, value) ? 1 : 0;
}

static char *read_ini_line(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	const char *p;
	size_t len;

	if (fgets(str, num, ctx->file) == NULL)
		return NULL;
	ctx->line++;
	len = strlen(str);
	if (len > 0 && str[len - 1] != '\n' && !feof(ctx->file)) {
		/* inih reads at most num bytes a line: stop here, say where. */
		ctx->line_too_long = true;
		return NULL;
	}
	for (p = str; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '[')
		ctx->section_line = ctx->line;
	/* inih calls no handler for a section without keys: an empty
	 * [service] (every default) must still turn the system mode on. */
	if (strncmp(p, "[service]", 9) == 0 && ctx->cfg->loading_system)
		ctx->cfg->service.present = true;
	return str;
}

static bool check_file_safety(const char *path, int fd, struct result *r)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return result_fail(r, RESULT_CONFIG, _("%s: cannot stat: %s"), path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return result_fail(r, RESULT_CONFIG, _("%s: not a regular file"), path);
	/* The file can name a password_command: whoever may write it may run
	 * commands as us. */
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return result_fail(r, RESULT_CONFIG,
				   _("%s: refusing a configuration file writable by group or others (chmod go-w)"), path);
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return result_fail(r, RESULT_CONFIG,
				   _("%s: refusing a configuration file owned by another user"), path);
	return true;
}

bool config_load_file(struct config *cfg, const char *path, bool required, struct result *r)
{
	struct parse_ctx ctx = { .cfg = cfg, .path = path, .r = r };
	bool ok = false;
	int rc;

	ctx.file = fopen(path, "re");
	if (ctx.file == NULL) {
		if (errno == ENOENT && !required)
			return true;
		return result_fail(r, RESULT_CONFIG, _("%s: cannot open: %s"), path, strerror(errno));
	}
	if (!check_file_safety(path, fileno(ctx.file), r))
		goto out;
	cfg->defaults.file_mask = 0;
	for (size_t i = 0; i < cfg->n_accounts; i++)
		cfg->accounts[i].file_mask = 0;
	rc = ini_parse_stream(read_ini_line, &ctx, on_ini_value, &ctx);
	/* inih goes on after a syntax error: report whichever came first. */
	if (rc > 0 && (!ctx.failed || rc < ctx.fail_line)) {
		ctx.line = rc;
		fail_at(&ctx, _("syntax error"));
	} else if (ctx.line_too_long && !ctx.failed) {
		fail_at(&ctx, _("line too long (at most %d characters)"), INI_MAX_LINE - 2);
	} else if (rc < 0 && !ctx.failed) {
		result_fail(r, RESULT_CONFIG, _("%s: cannot read"), path);
	}
	ok = rc == 0 && !ctx.failed;
out:
	fclose(ctx.file);
	return ok;
}

bool config_user_path(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, size, "%s/relaymail/config", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(buf, size, "%s/.config/relaymail/config", home);
	else
		return false;
	return n > 0 && (size_t)n < size;
}

bool config_load(struct config *cfg, const char *system_file, const char *user_file,
		 enum config_user_source source, struct result *r)
{
	char trusted[PATH_MAX];
	struct stat a, b;
	bool ok;

	cfg->loading_system = true;
	ok = system_file == NULL || config_load_file(cfg, system_file, false, r);
	cfg->loading_system = false;
	if (!ok)
		return false;
	if (user_file != NULL && source == CONFIG_USER_ARGV) {
		if (!config_trust_cmdline_file(cfg, user_file, trusted, r))
			return false;
		user_file = trusted;
	}
	/* --config /etc/relaymail.conf names the system file: read it once. */
	if (user_file != NULL && system_file != NULL && stat(system_file, &a) == 0 &&
	    stat(user_file, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return true;
	if (user_file != NULL && !config_load_file(cfg, user_file, source != CONFIG_USER_STANDARD, r))
		return false;
	return true;
}

void config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	config_service_defaults(&cfg->service);
}

/* Copy every key the account did not set from [defaults]. */
static void inherit_defaults(struct account *out, const struct account *defaults)
{
	for (size_t i = 0; i < sizeof key_table / sizeof key_table[0]; i++) {
		const struct key_spec *spec = &key_table[i];
		unsigned bit = 1u << spec->key;

		if ((out->set_mask & bit) || !(defaults->set_mask & bit))
			continue;
		/* Fields are plain values or pointers the result borrows. */
		memcpy((char *)out + spec->offset, (const char *)defaults + spec->offset, spec->size);
		out->origin[spec->key] = defaults->origin[spec->key];
		out->set_mask |= bit;
	}
}

/* $XDG_CACHE_HOME/relaymail/<account>@<host>:<port>.tls (or ~/.cache):
 * per user, per account and per relay, so a ticket is only ever offered
 * to the server that issued it. */
static void tls_cache_path(struct account *a)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME"), *trust;
	unsigned char digest[32];
	char dir[256];
	int n;

	a->tls_cache_file[0] = '\0';
	if (!a->tls_session_cache || a->tls == TLS_MODE_OFF || a->host == NULL)
		return;
	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(dir, sizeof dir, "%s/relaymail", xdg);
	else if (home != NULL && home[0] == '/' && strcmp(home, "/") != 0 &&
		 /* a web-served home (www-data: /var/www) must not hold session data */
		 strncmp(home, "/var/www", 8) != 0 && strncmp(home, "/srv", 4) != 0)
		n = snprintf(dir, sizeof dir, "%s/.cache/relaymail", home);
	else
		return;
	if (n < 0 || (size_t)n >= sizeof dir)
		return;         /* a cut path would name another directory: no cache */
	/* The trust anchors are part of the key: a session verified against
	 * one CA file must not be resumed under another. */
	trust = a->tls_ca_file ? a->tls_ca_file : "system";
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, trust, strlen(trust), digest) != 0)
		return;
	if (snprintf(a->tls_cache_file, sizeof a->tls_cache_file, "%s/%s@%s:%u-%02x%02x%02x%02x.tls",
		     dir, a->name, a->host, a->port, digest[0], digest[1], digest[2], digest[3]) >=
	    (int)sizeof a->tls_cache_file)
		a->tls_cache_file[0] = '\0';
}

static void apply_builtin_defaults(struct account *a)
{
	bool has_port = a->set_mask & (1u << KEY_PORT);
	bool has_tls = a->set_mask & (1u << KEY_TLS);

	/* 465 is the submissions port (RFC 8314): TLS from the first byte. */
	if (!has_tls)
		a->tls = (has_port && a->port == 465) ? TLS_MODE_IMPLICIT : TLS_MODE_STARTTLS;
	if (!has_port)
		a->port = a->tls == TLS_MODE_IMPLICIT ? 465 : 587;
	if (!(a->set_mask & (1u << KEY_TLS_VERIFY)))
		a->tls_verify = true;
	if (!(a->set_mask & (1u << KEY_AUTH)))
		a->auth = AUTH_CHOICE_AUTO;
	if (!(a->set_mask & (1u << KEY_TIMEOUT)))
		a->timeout = CONFIG_DEFAULT_TIMEOUT;
	if (!(a->set_mask & (1u << KEY_QUEUE)))
		a->queue = true;
	if (!(a->set_mask & (1u << KEY_QUEUE_LIFETIME)))
		a->queue_lifetime = CONFIG_DEFAULT_QUEUE_LIFETIME;
	if (!(a->set_mask & (1u << KEY_TLS_SESSION_CACHE)))
		a->tls_session_cache = true;
	tls_cache_path(a);
}

static const struct account *choose_account(const struct config *cfg, const char *name,
					    struct result *r)
{
	const char *wanted = name != NULL ? name : cfg->default_account;

	if (wanted != NULL) {
		for (size_t i = 0; i < cfg->n_accounts; i++) {
			if (strcmp(cfg->accounts[i].name, wanted) == 0)
				return &cfg->accounts[i];
		}
		if (name == NULL)
			result_fail(r, RESULT_CONFIG, _("%s: default_account '%s' is not defined"),
				    cfg->default_account_origin, wanted);
		else
			result_fail(r, RESULT_CONFIG, _("account '%s' is not defined"), wanted);
		return NULL;
	}
	if (cfg->n_accounts == 1)
		return &cfg->accounts[0];
	if (cfg->n_accounts == 0)
		result_fail(r, RESULT_CONFIG,
			    _("no account configured; see relaymail.conf(5) (user file or --config)"));
	else
		result_fail(r, RESULT_CONFIG,
			    _("several accounts and no default_account in [defaults]; use --account"));
	return NULL;
}

static bool validate_account(const struct account *a, struct result *r)
{
	if (a->host == NULL)
		return result_fail(r, RESULT_CONFIG, _("%s: account '%s' has no host"),
				   a->section_origin, a->name);
	if (a->user != NULL && a->tls == TLS_MODE_OFF)
		return result_fail(r, RESULT_CONFIG,
				   _("%s: account '%s' sets user with tls = off; relaymail never authenticates without TLS"),
				   a->origin[KEY_TLS], a->name);
	if (a->password_command != NULL && a->password_file != NULL)
		return result_fail(r, RESULT_CONFIG,
				   _("%s: account '%s' sets both password_command and password_file"),
				   a->origin[KEY_PASSWORD_FILE], a->name);
	return true;
}

bool config_account_resolve(const struct config *cfg, const char *name,
			    struct account *out, struct result *r)
{
	const struct account *chosen = choose_account(cfg, name, r);

	if (chosen == NULL)
		return false;
	*out = *chosen;
	out->aliases = cfg->aliases;
	out->n_aliases = cfg->n_aliases;
	inherit_defaults(out, &cfg->defaults);
	if (!providers_apply(out, out->preset_host, sizeof out->preset_host, r))
		return false;
	apply_builtin_defaults(out);
	return validate_account(out, r);
}

static void account_free_fields(struct account *a)
{
	free(a->name);
	free(a->host);
	free(a->tls_ca_file);
	free(a->user);
	free(a->password_command);
	free(a->password_file);
	free(a->credential);
	free(a->queue_dir);
	free(a->failed_dir);
	free(a->fallback);
	free(a->provider);
	free(a->log_file);
	free(a->dkim_selector);
	free(a->region);
	free(a->from);
	free(a->domain);
	free(a->section_origin);
	for (size_t i = 0; i < KEY_COUNT; i++)
		free(a->origin[i]);
}

void config_free(struct config *cfg)
{
	account_free_fields(&cfg->defaults);
	for (size_t i = 0; i < cfg->n_accounts; i++)
		account_free_fields(&cfg->accounts[i]);
	free(cfg->accounts);
	for (size_t i = 0; i < cfg->n_aliases; i++) {
		free(cfg->aliases[i].name);
		free(cfg->aliases[i].targets);
		free(cfg->aliases[i].origin);
	}
	free(cfg->aliases);
	free(cfg->default_account);
	free(cfg->default_account_origin);
	free(cfg->alternate_dirs);
	free(cfg->alternate_dirs_origin);
	config_service_free(&cfg->service);
	memset(cfg, 0, sizeof *cfg);
	config_service_defaults(&cfg->service);
}
