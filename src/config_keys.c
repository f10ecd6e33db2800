/* The account keys: their names, value syntax and how --check prints
 * them (config_key_value).  Sections, files and layering are config.c's.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "i18n.h"
#include "proxy_url.h"

bool config_fail_at(struct parse_ctx *ctx, const char *fmt, ...)
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

bool config_parse_string(const char *value, void *field, struct parse_ctx *ctx)
{
	char **dst = field;

	if (*value == '\0')
		return config_fail_at(ctx, _("empty value"));
	free(*dst);
	*dst = strdup(value);
	if (*dst == NULL)
		return config_fail_at(ctx, _("out of memory"));
	return true;
}

static bool parse_hostname(const char *value, void *field, struct parse_ctx *ctx)
{
	for (const char *p = value; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr(".-_:[]", *p))
			return config_fail_at(ctx, _("invalid host name '%s'"), value);
	}
	return config_parse_string(value, field, ctx);
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
		return config_fail_at(ctx, _("invalid port '%s' (expected 1-65535)"), value);
	return true;
}

static bool parse_timeout(const char *value, void *field, struct parse_ctx *ctx)
{
	if (!parse_number(value, field, 1, 3600))
		return config_fail_at(ctx, _("invalid timeout '%s' (expected 1-3600 seconds)"), value);
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
	return config_fail_at(ctx, _("invalid value '%s' (expected yes or no)"), value);
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
		return config_fail_at(ctx, _("invalid tls '%s' (expected starttls, implicit or off)"), value);
	return true;
}

static const char *const auth_names[] = {
	"auto", "plain", "login", "xoauth2", "oauthbearer", "scram-sha-256", "scram-sha-256-plus",
	"cram-md5"
};

static bool parse_auth(const char *value, void *field, struct parse_ctx *ctx)
{
	enum auth_choice *dst = field;

	for (size_t i = 0; i < sizeof auth_names / sizeof auth_names[0]; i++) {
		if (strcasecmp(value, auth_names[i]) == 0) {
			*dst = (enum auth_choice)i;
			return true;
		}
	}
	return config_fail_at(ctx, _("invalid auth '%s' (expected auto, plain, login, xoauth2, oauthbearer, "
				     "scram-sha-256, scram-sha-256-plus or cram-md5)"), value);
}

static bool parse_envelope_from(const char *value, void *field, struct parse_ctx *ctx)
{
	enum envelope_from *dst = field;

	if (strcasecmp(value, "account") == 0)
		*dst = ENVELOPE_FROM_ACCOUNT;
	else if (strcasecmp(value, "header") == 0)
		*dst = ENVELOPE_FROM_HEADER;
	else
		return config_fail_at(ctx, _("invalid envelope_from '%s' (expected account or header)"), value);
	return true;
}

static const char *const family_names[] = { "any", "ipv4", "ipv6" };

static bool parse_ip_family(const char *value, void *field, struct parse_ctx *ctx)
{
	for (size_t i = 0; i < sizeof family_names / sizeof family_names[0]; i++) {
		if (strcasecmp(value, family_names[i]) == 0) {
			*(enum ip_family *)field = (enum ip_family)i;
			return true;
		}
	}
	return config_fail_at(ctx, _("invalid ip_family '%s' (expected any, ipv4 or ipv6)"), value);
}

static bool parse_ip_address(const char *value, void *field, struct parse_ctx *ctx)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, value, addr) != 1 && inet_pton(AF_INET6, value, addr) != 1)
		return config_fail_at(ctx, _("invalid source_ip '%s' (an IPv4 or IPv6 address)"), value);
	return config_parse_string(value, field, ctx);
}

static bool parse_proxy(const char *value, void *field, struct parse_ctx *ctx)
{
	struct proxy_url url;
	char why[256];

	if ((strncasecmp(value, "socks5h://", 10) != 0 && strncasecmp(value, "http://", 7) != 0) ||
	    strpbrk(value, " \t\"<>\\^`{|}") != NULL)
		return config_fail_at(ctx, _("invalid proxy '%s' (expected socks5h://[user@]host:port or http://[user@]host:port)"),
				      value);
	if (!proxy_parse(value, &url, why, sizeof why))
		return config_fail_at(ctx, _("invalid proxy '%s': %s"), value, why);
	return config_parse_string(value, field, ctx);
}

static const char *const grant_names[] = { "device_code", "authorization_code", "client_credentials" };

static bool parse_oauth_grant(const char *value, void *field, struct parse_ctx *ctx)
{
	enum oauth_grant *dst = field;

	for (size_t i = 0; i < sizeof grant_names / sizeof grant_names[0]; i++) {
		if (strcasecmp(value, grant_names[i]) == 0) {
			*dst = (enum oauth_grant)(i + 1);
			return true;
		}
	}
	return config_fail_at(ctx, _("invalid oauth_grant '%s' (expected device_code, authorization_code or client_credentials)"),
			      value);
}

/* Endpoints carry tokens and client secrets: https only. */
static bool parse_https_url(const char *value, void *field, struct parse_ctx *ctx)
{
	if (strncasecmp(value, "https://", 8) != 0 || value[8] == '\0' || strpbrk(value, " \t\"<>\\^`{|}"))
		return config_fail_at(ctx, _("'%s' is not an https:// address"), value);
	return config_parse_string(value, field, ctx);
}

/* A tenant goes into the endpoint's path (login.microsoftonline.com/TENANT/...). */
static bool parse_tenant(const char *value, void *field, struct parse_ctx *ctx)
{
	for (const char *p = value; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr(".-_", *p))
			return config_fail_at(ctx, _("invalid oauth_tenant '%s' (a tenant ID, a domain, common, organizations or consumers)"),
					      value);
	}
	return config_parse_string(value, field, ctx);
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
	return config_fail_at(ctx, _("invalid password_source '%s' (expected auto, keyring, command, file, systemd or prompt)"),
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
		return config_fail_at(ctx, _("invalid from_policy '%s' (expected keep, rewrite_unqualified or always)"),
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
		return config_fail_at(ctx, _("invalid duration '%s' (e.g. 3600, 90m, 12h, 5d)"), value);
	memcpy(digits, value, len + 1);
	switch (digits[len - 1]) {
	case 's': mult = 1; digits[len - 1] = '\0'; break;
	case 'm': mult = 60; digits[len - 1] = '\0'; break;
	case 'h': mult = 3600; digits[len - 1] = '\0'; break;
	case 'd': mult = 86400; digits[len - 1] = '\0'; break;
	default: break;
	}
	if (!parse_number(digits, &n, 1, 365u * 86400u / mult))
		return config_fail_at(ctx, _("invalid duration '%s' (e.g. 3600, 90m, 12h, 5d)"), value);
	*(unsigned *)field = n * mult;
	return true;
}

static bool parse_path(const char *value, void *field, struct parse_ctx *ctx)
{
	if (value[0] != '/')
		return config_fail_at(ctx, _("'%s' is not an absolute path"), value);
	return config_parse_string(value, field, ctx);
}

static bool parse_log_format(const char *value, void *field, struct parse_ctx *ctx)
{
	bool *json = field;

	if (strcasecmp(value, "text") == 0)
		*json = false;
	else if (strcasecmp(value, "json") == 0)
		*json = true;
	else
		return config_fail_at(ctx, _("invalid log_format '%s' (expected text or json)"), value);
	return true;
}

#define ACCOUNT_FIELD(f) offsetof(struct account, f), sizeof(((struct account *)0)->f)
const struct key_spec config_key_table[] = {
	{ "host",             KEY_HOST,             parse_hostname, ACCOUNT_FIELD(host) },
	{ "port",             KEY_PORT,             parse_port,     ACCOUNT_FIELD(port) },
	{ "tls",              KEY_TLS,              parse_tls,      ACCOUNT_FIELD(tls) },
	{ "tls_ca_file",      KEY_TLS_CA_FILE,      config_parse_string,   ACCOUNT_FIELD(tls_ca_file) },
	{ "tls_verify",       KEY_TLS_VERIFY,       parse_bool,     ACCOUNT_FIELD(tls_verify) },
	{ "auth",             KEY_AUTH,             parse_auth,     ACCOUNT_FIELD(auth) },
	{ "user",             KEY_USER,             config_parse_string,   ACCOUNT_FIELD(user) },
	{ "password_command", KEY_PASSWORD_COMMAND, config_parse_string,   ACCOUNT_FIELD(password_command) },
	{ "password_file",    KEY_PASSWORD_FILE,    config_parse_string,   ACCOUNT_FIELD(password_file) },
	{ "password_source",  KEY_PASSWORD_SOURCE,  parse_password_source, ACCOUNT_FIELD(password_source) },
	{ "credential",       KEY_CREDENTIAL,       config_parse_string,   ACCOUNT_FIELD(credential) },
	{ "from_policy",      KEY_FROM_POLICY,      parse_from_policy, ACCOUNT_FIELD(from_policy) },
	{ "queue",            KEY_QUEUE,            parse_bool,     ACCOUNT_FIELD(queue) },
	{ "queue_dir",        KEY_QUEUE_DIR,        parse_path,     ACCOUNT_FIELD(queue_dir) },
	{ "queue_lifetime",   KEY_QUEUE_LIFETIME,   parse_duration, ACCOUNT_FIELD(queue_lifetime) },
	{ "failed_dir",       KEY_FAILED_DIR,       parse_path,     ACCOUNT_FIELD(failed_dir) },
	{ "fallback",         KEY_FALLBACK,         config_parse_string,   ACCOUNT_FIELD(fallback) },
	{ "provider",         KEY_PROVIDER,         config_parse_string,   ACCOUNT_FIELD(provider) },
	{ "region",           KEY_REGION,           config_parse_string,   ACCOUNT_FIELD(region) },
	{ "log_file",         KEY_LOG_FILE,         parse_path,     ACCOUNT_FIELD(log_file) },
	{ "log_format",       KEY_LOG_FORMAT,       parse_log_format, ACCOUNT_FIELD(log_json) },
	{ "tls_session_cache", KEY_TLS_SESSION_CACHE, parse_bool,   ACCOUNT_FIELD(tls_session_cache) },
	{ "dkim_selector",    KEY_DKIM_SELECTOR,    config_parse_string,   ACCOUNT_FIELD(dkim_selector) },
	{ "oauth_client_id",  KEY_OAUTH_CLIENT_ID,  config_parse_string, ACCOUNT_FIELD(oauth_client_id) },
	{ "oauth_client_secret", KEY_OAUTH_CLIENT_SECRET, config_parse_string, ACCOUNT_FIELD(oauth_client_secret) },
	{ "oauth_client_secret_file", KEY_OAUTH_CLIENT_SECRET_FILE, parse_path, ACCOUNT_FIELD(oauth_client_secret_file) },
	{ "oauth_client_secret_command", KEY_OAUTH_CLIENT_SECRET_COMMAND, config_parse_string,
	  ACCOUNT_FIELD(oauth_client_secret_command) },
	{ "oauth_tenant",     KEY_OAUTH_TENANT,     parse_tenant,   ACCOUNT_FIELD(oauth_tenant) },
	{ "oauth_scope",      KEY_OAUTH_SCOPE,      config_parse_string, ACCOUNT_FIELD(oauth_scope) },
	{ "oauth_token_endpoint", KEY_OAUTH_TOKEN_ENDPOINT, parse_https_url, ACCOUNT_FIELD(oauth_token_endpoint) },
	{ "oauth_device_endpoint", KEY_OAUTH_DEVICE_ENDPOINT, parse_https_url, ACCOUNT_FIELD(oauth_device_endpoint) },
	{ "oauth_authorize_endpoint", KEY_OAUTH_AUTHORIZE_ENDPOINT, parse_https_url,
	  ACCOUNT_FIELD(oauth_authorize_endpoint) },
	{ "oauth_grant",      KEY_OAUTH_GRANT,      parse_oauth_grant, ACCOUNT_FIELD(oauth_grant) },
	{ "oauth_token_file", KEY_OAUTH_TOKEN_FILE, parse_path,     ACCOUNT_FIELD(oauth_token_file) },
	{ "envelope_from",    KEY_ENVELOPE_FROM,    parse_envelope_from, ACCOUNT_FIELD(envelope_from) },
	{ "allow_from_override", KEY_ALLOW_FROM_OVERRIDE, parse_bool, ACCOUNT_FIELD(allow_from_override) },
	{ "aliases_file",     KEY_ALIASES_FILE,     parse_path,     ACCOUNT_FIELD(aliases_file) },
	{ "admin_address",    KEY_ADMIN_ADDRESS,    config_parse_string, ACCOUNT_FIELD(admin_address) },
	{ "ip_family",        KEY_IP_FAMILY,        parse_ip_family, ACCOUNT_FIELD(ip_family) },
	{ "source_ip",        KEY_SOURCE_IP,        parse_ip_address, ACCOUNT_FIELD(source_ip) },
	{ "connect_timeout",  KEY_CONNECT_TIMEOUT,  parse_timeout,  ACCOUNT_FIELD(connect_timeout) },
	{ "proxy",            KEY_PROXY,            parse_proxy,    ACCOUNT_FIELD(proxy) },
	{ "proxy_password_file", KEY_PROXY_PASSWORD_FILE, parse_path, ACCOUNT_FIELD(proxy_password_file) },
	{ "proxy_password_command", KEY_PROXY_PASSWORD_COMMAND, config_parse_string,
	  ACCOUNT_FIELD(proxy_password_command) },
	{ "from",             KEY_FROM,             config_parse_string,   ACCOUNT_FIELD(from) },
	{ "domain",           KEY_DOMAIN,           parse_hostname, ACCOUNT_FIELD(domain) },
	{ "timeout",          KEY_TIMEOUT,          parse_timeout,  ACCOUNT_FIELD(timeout) },
};

const size_t config_key_table_size = sizeof config_key_table / sizeof config_key_table[0];

const struct key_spec *config_key_find(const char *name)
{
	for (size_t i = 0; i < config_key_table_size; i++) {
		if (strcmp(config_key_table[i].name, name) == 0)
			return &config_key_table[i];
	}
	return NULL;
}

bool config_key_value(const struct account *a, enum account_key key, char *buf, size_t size)
{
	static const char *const tls_names[] = { "starttls", "implicit", "off" };
	static const char *const source_names[] = { "auto", "keyring", "command", "file", "systemd", "prompt" };
	static const char *const policy_names[] = { "keep", "rewrite_unqualified", "always" };

	for (size_t i = 0; i < config_key_table_size; i++) {
		const struct key_spec *k = &config_key_table[i];
		const void *field = (const char *)a + k->offset;

		if (k->key != key)
			continue;
		if (key == KEY_OAUTH_CLIENT_SECRET && a->oauth_client_secret != NULL) {
			snprintf(buf, size, "%s", _("(set; not shown)"));
			return true;
		}
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
		else if (k->parse == parse_ip_family)
			snprintf(buf, size, "%s", family_names[*(const enum ip_family *)field]);
		else if (k->parse == parse_envelope_from)
			snprintf(buf, size, "%s", *(const enum envelope_from *)field == ENVELOPE_FROM_HEADER ? "header" : "account");
		else if (k->parse == parse_oauth_grant)
			snprintf(buf, size, "%s", *(const enum oauth_grant *)field == OAUTH_GRANT_NONE ? "none" :
				 grant_names[*(const enum oauth_grant *)field - 1]);
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
	for (size_t i = 0; i < config_key_table_size; i++) {
		if (config_key_table[i].key == key)
			return config_key_table[i].name;
	}
	return "?";
}