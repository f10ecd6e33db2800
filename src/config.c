#include "autoconfig.h"

#include <ctype.h>
#include <dirent.h>
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

#include "aliases_file.h"
#include "config.h"
#include "config_trust.h"
#include "i18n.h"
#include "config_internal.h"
#include "providers.h"
#include "sender.h"

const char *config_alias(const struct account *acct, const char *name)
{
	for (size_t i = 0; i < acct->n_aliases; i++) {
		if (strcasecmp(acct->aliases[i].name, name) == 0)
			return acct->aliases[i].targets;
	}
	return NULL;
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
			return config_fail_at(ctx, _("[service] is only honoured in the system file"));
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
			return config_fail_at(ctx, _("invalid account name '%s'"), name);
		ctx->current = find_account(ctx->cfg, name);
		if (ctx->current == NULL)
			ctx->current = add_account(ctx, name);
		if (ctx->current == NULL)
			return config_fail_at(ctx, _("out of memory"));
		return true;
	}
	return config_fail_at(ctx, _("unknown section [%s]"), section);
}

static bool set_default_account(struct parse_ctx *ctx, const char *value)
{
	char *origin = origin_string(ctx, ctx->line);

	if (origin == NULL || !config_parse_string(value, &ctx->cfg->default_account, ctx)) {
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
		return config_fail_at(ctx, _("'alternate_config_directories' is only honoured in the system file"));
	if (!config_trust_valid_dirs(value))
		return config_fail_at(ctx, _("'alternate_config_directories' takes absolute directory names separated by spaces or commas"));
	origin = origin_string(ctx, ctx->line);
	if (origin == NULL || !config_parse_string(value, &ctx->cfg->alternate_dirs, ctx)) {
		free(origin);
		return false;
	}
	free(ctx->cfg->alternate_dirs_origin);
	ctx->cfg->alternate_dirs_origin = origin;
	return true;
}

static bool set_account_by_sender(struct parse_ctx *ctx, const char *value)
{
	const struct key_spec *as_bool = config_key_find("queue");      /* a yes/no key */
	char *origin = origin_string(ctx, ctx->line);

	if (origin == NULL)
		return config_fail_at(ctx, _("out of memory"));
	if (!as_bool->parse(value, &ctx->cfg->account_by_sender, ctx)) {
		free(origin);
		return false;
	}
	free(ctx->cfg->account_by_sender_origin);
	ctx->cfg->account_by_sender_origin = origin;
	return true;
}

static bool set_key(struct parse_ctx *ctx, const char *name, const char *value)
{
	struct account *acct = ctx->current;
	const struct key_spec *spec = NULL;

	spec = config_key_find(name);
	if (spec == NULL) {
		if (acct == &ctx->cfg->defaults && strcmp(name, "default_account") == 0)
			return set_default_account(ctx, value);
		if (acct == &ctx->cfg->defaults && strcmp(name, "alternate_config_directories") == 0)
			return set_alternate_dirs(ctx, value);
		if (acct == &ctx->cfg->defaults && strcmp(name, "account_by_sender") == 0)
			return set_account_by_sender(ctx, value);
		return config_fail_at(ctx, _("unknown key '%s'"), name);
	}
	if (acct->file_mask & KEY_BIT(spec->key))
		return config_fail_at(ctx, _("key '%s' is set twice in this section"), name);
	if (!spec->parse(value, (char *)acct + spec->offset, ctx))
		return false;
	free(acct->origin[spec->key]);
	acct->origin[spec->key] = origin_string(ctx, ctx->line);
	acct->set_mask |= KEY_BIT(spec->key);
	acct->file_mask |= KEY_BIT(spec->key);
	return true;
}

/* Later files override an alias; the same file may not define it twice. */
static bool set_alias(struct parse_ctx *ctx, const char *name, const char *value)
{
	struct config *cfg = ctx->cfg;
	struct alias *a = NULL, *grown;

	if (!valid_account_name(name) || strchr(name, '@') != NULL)
		return config_fail_at(ctx, _("invalid alias name '%s' (a local name such as root)"), name);
	if (*value == '\0')
		return config_fail_at(ctx, _("empty value"));
	for (size_t i = 0; i < cfg->n_aliases; i++) {
		if (strcasecmp(cfg->aliases[i].name, name) == 0)
			a = &cfg->aliases[i];
	}
	if (a != NULL && a->origin && strncmp(a->origin, ctx->path, strlen(ctx->path)) == 0 &&
	    a->origin[strlen(ctx->path)] == ':')
		return config_fail_at(ctx, _("alias '%s' is defined twice"), name);
	if (a == NULL) {
		grown = realloc(cfg->aliases, (cfg->n_aliases + 1) * sizeof *grown);
		if (grown == NULL)
			return config_fail_at(ctx, _("out of memory"));
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
		return config_fail_at(ctx, _("out of memory"));
	return true;
}

static bool set_service_key(struct parse_ctx *ctx, const char *name, const char *value)
{
	char err[RESULT_MSG_MAX / 4];

	return config_service_set(&ctx->cfg->service, name, value, err, sizeof err) ||
	       config_fail_at(ctx, "%s", err);
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
		config_fail_at(&ctx, _("syntax error"));
	} else if (ctx.line_too_long && !ctx.failed) {
		config_fail_at(&ctx, _("line too long (at most %d characters)"), INI_MAX_LINE - 2);
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

#define CONFIG_MAX_DROP_INS 256

/* "x.conf" and not hidden: what a drop-in directory holds. */
static int conf_name(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return d->d_name[0] != '.' && len > 5 && strcmp(d->d_name + len - 5, ".conf") == 0;
}

/* strcmp, not strcoll: the order must not depend on the locale. */
static int by_c_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* <system file without .conf>.d/NAME.conf (/etc/relaymail.d), in name order,
 * each a system file; the directory as safe as the files in it. */
static bool load_drop_ins(struct config *cfg, const char *system_file, struct result *r)
{
	char dir[PATH_MAX], path[PATH_MAX];
	size_t len = strlen(system_file);
	struct dirent **names = NULL;
	struct stat st;
	bool ok = true;
	int n;

	if (len > 5 && strcmp(system_file + len - 5, ".conf") == 0)
		len -= 5;
	if (snprintf(dir, sizeof dir, "%.*s.d", (int)len, system_file) >= (int)sizeof dir)
		return result_fail(r, RESULT_CONFIG, _("%s: name too long"), system_file);
	if (stat(dir, &st) != 0 && errno == ENOENT)
		return true;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return result_fail(r, RESULT_CONFIG, _("%s: not a directory"), dir);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) || (st.st_uid != 0 && st.st_uid != geteuid()))
		return result_fail(r, RESULT_CONFIG,
				   _("%s: refusing a directory that others can write or that another user owns"), dir);
	n = scandir(dir, &names, conf_name, by_c_name);
	if (n < 0)
		return result_fail(r, RESULT_CONFIG, _("%s: cannot open: %s"), dir, strerror(errno));
	if (n > CONFIG_MAX_DROP_INS)
		ok = result_fail(r, RESULT_CONFIG, _("%s: more than %d files"), dir, CONFIG_MAX_DROP_INS);
	for (int i = 0; i < n; i++) {
		/* Only regular files (or links to them): a directory x.conf is not one. */
		if (ok && snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) < (int)sizeof path &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode))
			ok = config_load_file(cfg, path, false, r);
		free(names[i]);
	}
	free(names);
	return ok;
}

/* The tables of aliases_file, one per account (and [defaults]) that sets
 * it, read at their first lookup. */
static bool attach_alias_tables(struct config *cfg, struct result *r)
{
	for (size_t i = 0; i <= cfg->n_accounts; i++) {
		struct account *a = i < cfg->n_accounts ? &cfg->accounts[i] : &cfg->defaults;

		if (a->aliases_file == NULL || a->alias_table != NULL)
			continue;
		a->alias_table = aliases_file_new(a->aliases_file);
		if (a->alias_table == NULL)
			return result_fail(r, RESULT_OSERR, _("out of memory"));
	}
	return true;
}

static bool load_layers(struct config *cfg, const char *system_file, const char *user_file,
			enum config_user_source source, struct result *r);

bool config_load(struct config *cfg, const char *system_file, const char *user_file,
		 enum config_user_source source, struct result *r)
{
	return load_layers(cfg, system_file, user_file, source, r) && attach_alias_tables(cfg, r);
}

static bool load_layers(struct config *cfg, const char *system_file, const char *user_file,
			enum config_user_source source, struct result *r)
{
	char trusted[PATH_MAX];
	struct stat a, b;
	bool ok;

	cfg->loading_system = true;
	ok = system_file == NULL ||
	     (config_load_file(cfg, system_file, false, r) && load_drop_ins(cfg, system_file, r));
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
	for (size_t i = 0; i < config_key_table_size; i++) {
		const struct key_spec *spec = &config_key_table[i];
		uint64_t bit = KEY_BIT(spec->key);

		if ((out->set_mask & bit) || !(defaults->set_mask & bit))
			continue;
		/* Fields are plain values or pointers the result borrows. */
		memcpy((char *)out + spec->offset, (const char *)defaults + spec->offset, spec->size);
		out->origin[spec->key] = defaults->origin[spec->key];
		out->set_mask |= bit;
	}
}

/* $XDG_CACHE_HOME/relaymail or ~/.cache/relaymail; false when neither
 * is usable. */
static bool cache_dir(char *dir, size_t size)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(dir, size, "%s/relaymail", xdg);
	else if (home != NULL && home[0] == '/' && strcmp(home, "/") != 0 &&
		 /* a web-served home (www-data: /var/www) must not hold session data */
		 strncmp(home, "/var/www", 8) != 0 && strncmp(home, "/srv", 4) != 0)
		n = snprintf(dir, size, "%s/.cache/relaymail", home);
	else
		return false;
	/* A cut path would name another directory: no cache. */
	return n > 0 && (size_t)n < size;
}

/* The first four bytes of SHA-256(text) as hex, to key a cache file. */
static bool short_digest(const char *text, char hex[9])
{
	unsigned char digest[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, text, strlen(text), digest) != 0)
		return false;
	snprintf(hex, 9, "%02x%02x%02x%02x", digest[0], digest[1], digest[2], digest[3]);
	return true;
}

/* <cache>/<account>@<host>:<port>-<trust>.tls: per user, per account and
 * per relay, so a ticket is only ever offered to the server that issued
 * it; the trust anchors are part of the key, as a session verified against
 * one CA file must not be resumed under another. */
static void tls_cache_path(struct account *a)
{
	char dir[256], hex[9];

	a->tls_cache_file[0] = '\0';
	if (!a->tls_session_cache || a->tls == TLS_MODE_OFF || a->host == NULL || !cache_dir(dir, sizeof dir) ||
	    !short_digest(a->tls_ca_file ? a->tls_ca_file : "system", hex))
		return;
	if (snprintf(a->tls_cache_file, sizeof a->tls_cache_file, "%s/%s@%s:%u-%s.tls",
		     dir, a->name, a->host, a->port, hex) >= (int)sizeof a->tls_cache_file)
		a->tls_cache_file[0] = '\0';
}

/* Where the access token is cached until it expires: beside
 * oauth_token_file (the service has no home), else in the cache
 * directory.  Keyed by user, client and scope: a token issued for one
 * must never be presented for another. */
static void oauth_cache_path(struct account *a)
{
	char dir[256], hex[9], key[1024];
	int n;

	a->oauth_cache_file[0] = '\0';
	if (a->oauth_grant == OAUTH_GRANT_NONE)
		return;
	n = snprintf(key, sizeof key, "%s %s %s %s", a->user ? a->user : "", a->oauth_client_id ? a->oauth_client_id : "",
		     a->oauth_scope ? a->oauth_scope : "", a->oauth_token_endpoint ? a->oauth_token_endpoint : "");
	if (n < 0 || (size_t)n >= sizeof key || !short_digest(key, hex))
		return;
	if (a->oauth_token_file != NULL)
		n = snprintf(a->oauth_cache_file, sizeof a->oauth_cache_file, "%s.access-%s", a->oauth_token_file, hex);
	else if (cache_dir(dir, sizeof dir))
		n = snprintf(a->oauth_cache_file, sizeof a->oauth_cache_file, "%s/%s-%s.oauth", dir, a->name, hex);
	else
		return;
	if (n < 0 || (size_t)n >= sizeof a->oauth_cache_file)
		a->oauth_cache_file[0] = '\0';
}

static void apply_builtin_defaults(struct account *a)
{
	bool has_port = a->set_mask & KEY_BIT(KEY_PORT);
	bool has_tls = a->set_mask & KEY_BIT(KEY_TLS);

	/* 465 is the submissions port (RFC 8314): TLS from the first byte. */
	if (!has_tls)
		a->tls = (has_port && a->port == 465) ? TLS_MODE_IMPLICIT : TLS_MODE_STARTTLS;
	if (!has_port)
		a->port = a->tls == TLS_MODE_IMPLICIT ? 465 : 587;
	if (!(a->set_mask & KEY_BIT(KEY_TLS_VERIFY)))
		a->tls_verify = true;
	if (!(a->set_mask & KEY_BIT(KEY_AUTH)))
		a->auth = AUTH_CHOICE_AUTO;
	if (!(a->set_mask & KEY_BIT(KEY_TIMEOUT)))
		a->timeout = CONFIG_DEFAULT_TIMEOUT;
	if (!(a->set_mask & KEY_BIT(KEY_QUEUE)))
		a->queue = true;
	if (!(a->set_mask & KEY_BIT(KEY_QUEUE_LIFETIME)))
		a->queue_lifetime = CONFIG_DEFAULT_QUEUE_LIFETIME;
	if (!(a->set_mask & KEY_BIT(KEY_TLS_SESSION_CACHE)))
		a->tls_session_cache = true;
	if (!(a->set_mask & KEY_BIT(KEY_ALLOW_FROM_OVERRIDE)))
		a->allow_from_override = true;
	if (!(a->set_mask & KEY_BIT(KEY_CONNECT_TIMEOUT)))
		a->connect_timeout = CONFIG_DEFAULT_CONNECT_TIMEOUT;
	/* A client ID makes an OAuth account; the preset or the endpoints
	 * given say which grant fits when oauth_grant is not set. */
	if (!(a->set_mask & KEY_BIT(KEY_OAUTH_GRANT)) && a->oauth_client_id != NULL)
		a->oauth_grant = a->oauth_device_endpoint ? OAUTH_GRANT_DEVICE_CODE
				 : a->oauth_authorize_endpoint ? OAUTH_GRANT_AUTHORIZATION_CODE
				 : OAUTH_GRANT_CLIENT_CREDENTIALS;
	tls_cache_path(a);
	oauth_cache_path(a);
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

static bool oauth_needs(const struct account *a, const char *value, enum account_key key, struct result *r)
{
	if (value != NULL)
		return true;
	return result_fail(r, RESULT_CONFIG, _("%s: account '%s' uses OAuth (%s) but has no %s"),
			   a->origin[KEY_OAUTH_GRANT] ? a->origin[KEY_OAUTH_GRANT]
			   : a->origin[KEY_OAUTH_CLIENT_ID] ? a->origin[KEY_OAUTH_CLIENT_ID] : a->section_origin,
			   a->name, a->oauth_grant == OAUTH_GRANT_DEVICE_CODE ? "device_code"
			   : a->oauth_grant == OAUTH_GRANT_AUTHORIZATION_CODE ? "authorization_code"
			   : "client_credentials", config_key_name(key));
}

static bool validate_oauth(const struct account *a, struct result *r)
{
	bool oauth_auth = a->auth == AUTH_CHOICE_XOAUTH2 || a->auth == AUTH_CHOICE_OAUTHBEARER;
	int secrets = !!a->oauth_client_secret + !!a->oauth_client_secret_file + !!a->oauth_client_secret_command;

	/* auth = xoauth2 without OAuth settings: a password source gives a
	 * bearer token (a helper such as oama), which relaymail cannot renew. */
	if (a->oauth_grant == OAUTH_GRANT_NONE)
		return true;
	if (a->auth != AUTH_CHOICE_AUTO && !oauth_auth)
		return result_fail(r, RESULT_CONFIG, _("%s: account '%s' uses OAuth; auth must be auto, xoauth2 or oauthbearer"),
				   a->origin[KEY_AUTH], a->name);
	if (secrets > 1)
		return result_fail(r, RESULT_CONFIG,
				   _("%s: account '%s' sets more than one of oauth_client_secret, oauth_client_secret_file and oauth_client_secret_command"),
				   a->section_origin, a->name);
	if (!oauth_needs(a, a->oauth_client_id, KEY_OAUTH_CLIENT_ID, r) ||
	    !oauth_needs(a, a->user, KEY_USER, r) ||
	    !oauth_needs(a, a->oauth_token_endpoint, KEY_OAUTH_TOKEN_ENDPOINT, r) ||
	    !oauth_needs(a, a->oauth_scope, KEY_OAUTH_SCOPE, r))
		return false;
	switch (a->oauth_grant) {
	case OAUTH_GRANT_DEVICE_CODE:
		return oauth_needs(a, a->oauth_device_endpoint, KEY_OAUTH_DEVICE_ENDPOINT, r);
	case OAUTH_GRANT_AUTHORIZATION_CODE:
		return oauth_needs(a, a->oauth_authorize_endpoint, KEY_OAUTH_AUTHORIZE_ENDPOINT, r);
	case OAUTH_GRANT_CLIENT_CREDENTIALS:   /* without a key: the keyring */
		return true;
	case OAUTH_GRANT_NONE:
		break;
	}
	return true;
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
	if (!validate_oauth(a, r))
		return false;
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
	if (out->alias_table == NULL && out->aliases_file != NULL && out->aliases_file == cfg->defaults.aliases_file)
		out->alias_table = cfg->defaults.alias_table;
	if (!providers_apply(out, out->preset_host, sizeof out->preset_host, r))
		return false;
	apply_builtin_defaults(out);
	/* from may list addresses and patterns (sender.h); the rest of
	 * relaymail sees its first address.  A resolved account is not
	 * copied by value: from may point into it. */
	out->from_list = out->from;
	if (!sender_list_primary(out->from_list, out->from_primary, sizeof out->from_primary, r))
		return result_prefix(r, out->origin[KEY_FROM] ? out->origin[KEY_FROM] : out->name);
	if (out->from != NULL && strcmp(out->from, out->from_primary) != 0)
		out->from = out->from_primary[0] != '\0' ? out->from_primary : NULL;
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
	free(a->oauth_client_id);
	if (a->oauth_client_secret != NULL)
		explicit_bzero(a->oauth_client_secret, strlen(a->oauth_client_secret));
	free(a->oauth_client_secret);
	free(a->oauth_client_secret_file);
	free(a->oauth_client_secret_command);
	free(a->oauth_tenant);
	free(a->oauth_scope);
	free(a->oauth_token_endpoint);
	free(a->oauth_device_endpoint);
	free(a->oauth_authorize_endpoint);
	free(a->oauth_token_file);
	free(a->aliases_file);
	aliases_file_free(a->alias_table);
	free(a->admin_address);
	free(a->source_ip);
	free(a->proxy);
	free(a->proxy_password_file);
	free(a->proxy_password_command);
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
	free(cfg->account_by_sender_origin);
	config_service_free(&cfg->service);
	memset(cfg, 0, sizeof *cfg);
	config_service_defaults(&cfg->service);
}
