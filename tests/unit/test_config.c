/* Table-driven tests for the layered INI configuration (config.h). */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

#define MAX_FILES 2
#define NO_CHECK (-1)

/* In expected messages "@1" and "@2" stand for the paths of the files. */
struct cfg_case {
	const char *name;
	const char *files[MAX_FILES];
	const char *load_err;           /* NULL: loading succeeds; else a substring */
	const char *account;            /* --account, or NULL */
	const char *resolve_err;        /* NULL: resolving succeeds; else a substring */
	/* expectations on the resolved account (NULL / NO_CHECK: not checked) */
	const char *acct_name;
	const char *host;
	long port;
	long tls;
	long tls_verify;
	long timeout;
	const char *user;
	long auth;
};

#define OK_ACCOUNT(nm, h, p, t, v, to, u, a) NULL, nm, h, p, t, v, to, u, a
#define NOTHING_CHECKED NULL, NULL, NO_CHECK, NO_CHECK, NO_CHECK, NO_CHECK, NULL, NO_CHECK
#define LOAD_ERR(msg) msg, NULL, NULL, NOTHING_CHECKED
#define RESOLVE_ERR(acct, msg) NULL, acct, msg, NOTHING_CHECKED

static const struct cfg_case cases[] = {
	/* defaults, inheritance, layering */
	{ "minimal account: built-in defaults",
	  { "[account a]\nhost = smtp.example.com\n" },
	  NULL, NULL, OK_ACCOUNT("a", "smtp.example.com", 587, TLS_MODE_STARTTLS, 1, 30, NULL,
				 AUTH_CHOICE_AUTO) },
	{ "port 465 means implicit TLS",
	  { "[account a]\nhost = h\nport = 465\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h", 465, TLS_MODE_IMPLICIT, 1, 30, NULL, NO_CHECK) },
	{ "tls = implicit means port 465",
	  { "[account a]\nhost = h\ntls = implicit\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h", 465, TLS_MODE_IMPLICIT, 1, 30, NULL, NO_CHECK) },
	{ "explicit tls wins over port 465",
	  { "[account a]\nhost = h\nport = 465\ntls = starttls\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h", 465, TLS_MODE_STARTTLS, 1, 30, NULL, NO_CHECK) },
	{ "port 25 keeps starttls",
	  { "[account a]\nhost = h\nport = 25\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h", 25, TLS_MODE_STARTTLS, 1, 30, NULL, NO_CHECK) },
	{ "tls = off without user",
	  { "[account a]\nhost = h\ntls = off\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h", 587, TLS_MODE_OFF, 1, 30, NULL, NO_CHECK) },
	{ "values are case-insensitive",
	  { "[account a]\nhost = h\ntls = IMPLICIT\ntls_verify = Off\nauth = PLAIN\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h", 465, TLS_MODE_IMPLICIT, 0, 30, NULL, AUTH_CHOICE_PLAIN) },
	{ "bool spellings: true / 0",
	  { "[defaults]\ntls_verify = 0\n[account a]\nhost = h\ntls_verify = true\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h", 587, TLS_MODE_STARTTLS, 1, 30, NULL, NO_CHECK) },
	{ "[defaults] inherited",
	  { "[defaults]\nport = 2525\nuser = u@example.com\ntls_verify = no\ntimeout = 90\nauth = login\n"
	    "\n[account a]\nhost = h\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h", 2525, TLS_MODE_STARTTLS, 0, 90, "u@example.com",
				 AUTH_CHOICE_LOGIN) },
	{ "[defaults] overridden by the account",
	  { "[defaults]\nport = 2525\nuser = u\ntimeout = 90\n[account a]\nhost = h\nport = 25\n"
	    "user = me\ntimeout = 5\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h", 25, TLS_MODE_STARTTLS, 1, 5, "me", NO_CHECK) },
	{ "[defaults] port 465 gives implicit TLS",
	  { "[defaults]\nport = 465\n[account a]\nhost = h\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h", 465, TLS_MODE_IMPLICIT, 1, 30, NULL, NO_CHECK) },
	{ "[defaults] after the account section still applies",
	  { "[account a]\nhost = h\n[defaults]\nport = 2525\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h", 2525, TLS_MODE_STARTTLS, 1, 30, NULL, NO_CHECK) },
	{ "later file overrides key by key",
	  { "[account a]\nhost = h1\nport = 2525\nuser = u1\n",
	    "[account a]\nhost = h2\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h2", 2525, TLS_MODE_STARTTLS, 1, 30, "u1", NO_CHECK) },
	{ "later file overrides [defaults]",
	  { "[defaults]\ntimeout = 10\nport = 2525\n[account a]\nhost = h\n",
	    "[defaults]\ntimeout = 20\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h", 2525, TLS_MODE_STARTTLS, 1, 20, NULL, NO_CHECK) },
	{ "later file adds an account",
	  { "[account a]\nhost = ha\n", "[account b]\nhost = hb\n" },
	  NULL, "b", OK_ACCOUNT("b", "hb", 587, TLS_MODE_STARTTLS, 1, 30, NULL, NO_CHECK) },
	{ "same key in two files is no duplicate",
	  { "[account a]\nhost = h1\n", "[account a]\nhost = h2\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h2", NO_CHECK, NO_CHECK, NO_CHECK, NO_CHECK, NULL, NO_CHECK) },
	{ "comments and blank lines",
	  { "# comment\n; another\n\n[account a]\n  # indented comment\nhost = h ; inline\n" },
	  NULL, NULL, OK_ACCOUNT("a", "h", 587, NO_CHECK, NO_CHECK, NO_CHECK, NULL, NO_CHECK) },
	{ "host forms: IPv4, IPv6 literal, underscore",
	  { "[account a]\nhost = 192.0.2.1\n[account b]\nhost = [2001:db8::1]\n"
	    "[account c]\nhost = my_relay-1.example\n" },
	  NULL, "b", OK_ACCOUNT("b", "[2001:db8::1]", NO_CHECK, NO_CHECK, NO_CHECK, NO_CHECK, NULL,
				 NO_CHECK) },

	/* choosing the account */
	{ "single account auto-chosen",
	  { "[account only]\nhost = h\n" },
	  NULL, NULL, OK_ACCOUNT("only", "h", NO_CHECK, NO_CHECK, NO_CHECK, NO_CHECK, NULL, NO_CHECK) },
	{ "--account selects",
	  { "[account a]\nhost = ha\n[account b]\nhost = hb\n" },
	  NULL, "b", OK_ACCOUNT("b", "hb", NO_CHECK, NO_CHECK, NO_CHECK, NO_CHECK, NULL, NO_CHECK) },
	{ "default_account chooses",
	  { "[defaults]\ndefault_account = b\n[account a]\nhost = ha\n[account b]\nhost = hb\n" },
	  NULL, NULL, OK_ACCOUNT("b", "hb", NO_CHECK, NO_CHECK, NO_CHECK, NO_CHECK, NULL, NO_CHECK) },
	{ "--account beats default_account",
	  { "[defaults]\ndefault_account = b\n[account a]\nhost = ha\n[account b]\nhost = hb\n" },
	  NULL, "a", OK_ACCOUNT("a", "ha", NO_CHECK, NO_CHECK, NO_CHECK, NO_CHECK, NULL, NO_CHECK) },
	{ "several accounts and no default",
	  { "[account a]\nhost = ha\n[account b]\nhost = hb\n" },
	  RESOLVE_ERR(NULL, "several accounts") },
	{ "no account at all",
	  { "[defaults]\nport = 25\n" },
	  RESOLVE_ERR(NULL, "no account") },
	{ "default_account names a missing account",
	  { "[defaults]\ndefault_account = nope\n[account a]\nhost = h\n" },
	  RESOLVE_ERR(NULL, "@1:2: default_account 'nope'") },
	{ "--account names a missing account",
	  { "[account a]\nhost = h\n" },
	  RESOLVE_ERR("zzz", "'zzz'") },
	{ "account names are case-sensitive",
	  { "[account Work]\nhost = h\n" },
	  RESOLVE_ERR("work", "'work'") },

	/* validation when resolving */
	{ "missing host points at the section",
	  { "# header\n\n[account a]\nport = 25\n" },
	  RESOLVE_ERR(NULL, "@1:3: account 'a' has no host") },
	{ "missing host in the second section",
	  { "[account a]\nhost = h\n\n[account b]\nuser = x\n" },
	  RESOLVE_ERR("b", "@1:4:") },
	{ "user with tls = off",
	  { "[account a]\nhost = h\ntls = off\nuser = me\n" },
	  RESOLVE_ERR(NULL, "@1:3:") },
	{ "user with tls = off inherited from [defaults]",
	  { "[defaults]\ntls = off\n[account a]\nhost = h\nuser = me\n" },
	  RESOLVE_ERR(NULL, "tls = off") },
	{ "password_command and password_file",
	  { "[account a]\nhost = h\nuser = u\npassword_command = pass x\npassword_file = /p\n" },
	  RESOLVE_ERR(NULL, "password_command and password_file") },
	{ "password_command and password_file from different layers",
	  { "[defaults]\npassword_file = /p\n[account a]\nhost = h\nuser = u\npassword_command = pass x\n" },
	  RESOLVE_ERR(NULL, "password_command and password_file") },

	/* errors while loading, each with file:line */
	{ "unknown key",
	  { "[account a]\nhost = h\n\nhots = typo\n" },
	  LOAD_ERR("@1:4: unknown key 'hots'") },
	{ "unknown key in [defaults]",
	  { "; c\n[defaults]\nport = 25\nbogus = 1\n" },
	  LOAD_ERR("@1:4: unknown key 'bogus'") },
	{ "default_account only in [defaults]",
	  { "[account a]\nhost = h\ndefault_account = a\n" },
	  LOAD_ERR("@1:3: unknown key 'default_account'") },
	{ "unknown key in the second file",
	  { "[account a]\nhost = h\n", "[account a]\n\n\nfrm = x\n" },
	  LOAD_ERR("@2:4: unknown key 'frm'") },
	{ "port too large", { "[account a]\nhost = h\nport = 65536\n" },
	  LOAD_ERR("@1:3: invalid port") },
	{ "port zero", { "[account a]\nhost = h\nport = 0\n" }, LOAD_ERR("@1:3: invalid port") },
	{ "port negative", { "[account a]\nhost = h\nport = -25\n" }, LOAD_ERR("@1:3: invalid port") },
	{ "port with junk", { "[account a]\nhost = h\nport = 25x\n" }, LOAD_ERR("@1:3: invalid port") },
	{ "port not a number", { "[account a]\nport = smtp\n" }, LOAD_ERR("@1:2: invalid port") },
	{ "port huge", { "[account a]\nport = 99999999999999999999\n" },
	  LOAD_ERR("@1:2: invalid port") },
	{ "bad tls", { "[account a]\nhost = h\ntls = ssl\n" }, LOAD_ERR("@1:3: invalid tls 'ssl'") },
	{ "bad bool", { "[account a]\ntls_verify = maybe\n" },
	  LOAD_ERR("@1:2: invalid value 'maybe'") },
	{ "bad timeout zero", { "[account a]\ntimeout = 0\n" }, LOAD_ERR("@1:2: invalid timeout") },
	{ "bad timeout huge", { "[account a]\ntimeout = 86400\n" }, LOAD_ERR("@1:2: invalid timeout") },
	{ "bad timeout fraction", { "[account a]\ntimeout = 1.5\n" },
	  LOAD_ERR("@1:2: invalid timeout") },
	{ "bad auth", { "[account a]\nauth = digest-md5\n" }, LOAD_ERR("@1:2: invalid auth 'digest-md5'") },
	{ "bad password_source", { "[account a]\npassword_source = vault\n" },
	  LOAD_ERR("@1:2: invalid password_source") },
	{ "bad from_policy", { "[account a]\nfrom_policy = never\n" },
	  LOAD_ERR("@1:2: invalid from_policy") },
	{ "host with a space", { "[account a]\nhost = smtp example.com\n" },
	  LOAD_ERR("@1:2: invalid host name") },
	{ "host with a slash", { "[account a]\nhost = smtp/x\n" },
	  LOAD_ERR("@1:2: invalid host name") },
	{ "host with a shell character", { "[account a]\nhost = h$(id)\n" },
	  LOAD_ERR("@1:2: invalid host name") },
	{ "domain with invalid characters", { "[account a]\ndomain = a b\n" },
	  LOAD_ERR("@1:2: invalid host name") },
	{ "unknown section", { "# x\n[acount a]\nhost = h\n" }, LOAD_ERR("@1:") },
	{ "key before any section", { "host = h\n" }, LOAD_ERR("@1:1:") },
	{ "invalid account name", { "[account bad name!]\nhost = h\n" },
	  LOAD_ERR("invalid account name") },
	{ "duplicate key in a section", { "[account a]\nhost = h\nport = 25\nhost = h2\n" },
	  LOAD_ERR("@1:4: key 'host' is set twice") },
	{ "duplicate key in [defaults]", { "[defaults]\nport = 25\nport = 26\n" },
	  LOAD_ERR("@1:3: key 'port' is set twice") },
	{ "empty host", { "[account a]\nhost =\n" }, LOAD_ERR("@1:2:") },
	{ "empty user", { "[account a]\nhost = h\nuser = \n" }, LOAD_ERR("@1:3: empty value") },
	{ "empty port", { "[account a]\nport =\n" }, LOAD_ERR("@1:2:") },
	{ "syntax error", { "[account a]\nhost = h\nthis line has no equals sign\n" },
	  LOAD_ERR("@1:3:") },
	{ "bad queue_lifetime unit", { "[account a]\nqueue_lifetime = 5w\n" },
	  LOAD_ERR("@1:2: invalid duration") },
	{ "queue_lifetime zero", { "[account a]\nqueue_lifetime = 0\n" }, LOAD_ERR("@1:2: invalid duration") },
	{ "queue_lifetime over a year", { "[account a]\nqueue_lifetime = 366d\n" },
	  LOAD_ERR("@1:2: invalid duration") },
	{ "queue_lifetime unit alone", { "[account a]\nqueue_lifetime = h\n" },
	  LOAD_ERR("@1:2: invalid duration") },
	{ "relative queue_dir", { "[account a]\nqueue_dir = var/q\n" }, LOAD_ERR("@1:2:") },
	/* OAuth (issue 12): the keys' syntax and what an OAuth account needs. */
	{ "oauth endpoint not https", { "[account a]\noauth_token_endpoint = http://x/token\n" },
	  LOAD_ERR("@1:2: 'http://x/token' is not an https:// address") },
	{ "oauth endpoint with a space", { "[account a]\noauth_device_endpoint = https://x/a b\n" },
	  LOAD_ERR("@1:2: 'https://x/a b' is not an https:// address") },
	{ "bad oauth_grant", { "[account a]\noauth_grant = password\n" }, LOAD_ERR("@1:2: invalid oauth_grant 'password'") },
	{ "oauth_tenant with a slash", { "[account a]\noauth_tenant = a/../b\n" }, LOAD_ERR("@1:2: invalid oauth_tenant") },
	{ "relative oauth_token_file", { "[account a]\noauth_token_file = tok\n" }, LOAD_ERR("@1:2: 'tok' is not an absolute path") },
	{ "oauth without token endpoint",
	  { "[account a]\nhost = h\nuser = u@x\noauth_client_id = c\noauth_scope = s\noauth_device_endpoint = https://x/d\n" },
	  RESOLVE_ERR("a", "account 'a' uses OAuth (device_code) but has no oauth_token_endpoint") },
	{ "oauth without user",
	  { "[account a]\nhost = h\noauth_client_id = c\noauth_scope = s\noauth_token_endpoint = https://x/t\noauth_device_endpoint = https://x/d\n" },
	  RESOLVE_ERR("a", "has no user") },
	{ "authorization_code without authorize endpoint",
	  { "[account a]\nhost = h\nuser = u\noauth_client_id = c\noauth_scope = s\noauth_token_endpoint = https://x/t\noauth_grant = authorization_code\n" },
	  RESOLVE_ERR("a", "uses OAuth (authorization_code) but has no oauth_authorize_endpoint") },
	{ "two client secret sources",
	  { "[account a]\nhost = h\nuser = u\noauth_client_id = c\noauth_scope = s\noauth_token_endpoint = https://x/t\noauth_grant = client_credentials\noauth_client_secret = x\noauth_client_secret_file = /x\n" },
	  RESOLVE_ERR("a", "more than one of oauth_client_secret") },
	{ "OAuth account with auth = plain",
	  { "[account a]\nhost = h\nuser = u\nauth = plain\noauth_client_id = c\noauth_scope = s\noauth_token_endpoint = https://x/t\noauth_device_endpoint = https://x/d\n" },
	  RESOLVE_ERR("a", "auth must be auto, xoauth2 or oauthbearer") },
	{ "client_credentials with office365 needs a tenant",
	  { "[account a]\nprovider = office365\nuser = u\noauth_client_id = c\noauth_grant = client_credentials\noauth_client_secret = x\n" },
	  RESOLVE_ERR("a", "uses client_credentials: set oauth_tenant") },
	{ "bad envelope_from", { "[account a]\nenvelope_from = body\n" }, LOAD_ERR("@1:2: invalid envelope_from 'body'") },
	{ "account_by_sender only yes or no", { "[defaults]\naccount_by_sender = maybe\n" }, LOAD_ERR("@1:2: invalid value 'maybe'") },

	{ "relative failed_dir", { "[account a]\nfailed_dir = ~/failed\n" }, LOAD_ERR("@1:2:") },
	{ "bad queue bool", { "[account a]\nqueue = sometimes\n" }, LOAD_ERR("@1:2:") },
	{ "unterminated section", { "[account a]\nhost = h\n[account b\nhost = x\n" },
	  LOAD_ERR("@1:3:") },
};

static char tmpdir[64];
static int file_counter;

static char *write_file(const char *content, mode_t mode)
{
	char *path = malloc(strlen(tmpdir) + 32);
	int fd;
	size_t len = strlen(content);

	if (path == NULL)
		abort();
	sprintf(path, "%s/cfg%02d.XXXXXX", tmpdir, file_counter++);
	fd = mkstemp(path);
	if (fd < 0 || write(fd, content, len) != (ssize_t)len || fchmod(fd, mode) != 0)
		abort();
	close(fd);
	return path;
}

/* pattern with "@1"/"@2" replaced by the paths */
static char *expand(const char *pattern, char *const *paths)
{
	size_t size = strlen(pattern) + 1;
	char *out, *o;

	for (int i = 0; i < MAX_FILES; i++)
		size += paths[i] ? strlen(paths[i]) : 0;
	out = malloc(size * 2);
	if (out == NULL)
		abort();
	for (o = out; *pattern; pattern++) {
		if (pattern[0] == '@' && (pattern[1] == '1' || pattern[1] == '2') &&
		    paths[pattern[1] - '1'] != NULL) {
			o += sprintf(o, "%s", paths[pattern[1] - '1']);
			pattern++;
		} else {
			*o++ = *pattern;
		}
	}
	*o = '\0';
	return out;
}

static void expect_msg(const struct result *r, const char *pattern, char *const *paths,
		       const char *name)
{
	char *want = expand(pattern, paths);
	int found = strstr(r->msg, want) != NULL;

	tap_ok(r->cls == RESULT_CONFIG && found, name);
	if (!found || r->cls != RESULT_CONFIG) {
		printf("# class %d, message: %s\n", (int)r->cls, r->msg);
		printf("# wanted a substring: %s\n", want);
	}
	free(want);
}

static void run_case(const struct cfg_case *c)
{
	char *paths[MAX_FILES] = { NULL, NULL };
	struct config cfg;
	struct account acct;
	struct result r;
	char name[300];
	bool ok = true;

	config_init(&cfg);
	result_clear(&r);
	for (int i = 0; i < MAX_FILES; i++) {
		if (c->files[i] != NULL)
			paths[i] = write_file(c->files[i], 0600);
	}
	for (int i = 0; i < MAX_FILES && ok; i++) {
		if (paths[i] != NULL)
			ok = config_load_file(&cfg, paths[i], true, &r);
	}
	if (c->load_err != NULL) {
		snprintf(name, sizeof name, "%s: load fails", c->name);
		tap_ok(!ok, name);
		snprintf(name, sizeof name, "%s: message", c->name);
		expect_msg(&r, c->load_err, paths, name);
		goto out;
	}
	snprintf(name, sizeof name, "%s: load", c->name);
	tap_ok(ok, name);
	if (!ok) {
		printf("# %s\n", r.msg);
		goto out;
	}
	ok = config_account_resolve(&cfg, c->account, &acct, &r);
	if (c->resolve_err != NULL) {
		snprintf(name, sizeof name, "%s: resolve fails", c->name);
		tap_ok(!ok, name);
		snprintf(name, sizeof name, "%s: message", c->name);
		expect_msg(&r, c->resolve_err, paths, name);
		goto out;
	}
	snprintf(name, sizeof name, "%s: resolve", c->name);
	tap_ok(ok, name);
	if (!ok) {
		printf("# %s\n", r.msg);
		goto out;
	}
	if (c->acct_name) {
		snprintf(name, sizeof name, "%s: account", c->name);
		tap_is_str(acct.name, c->acct_name, name);
	}
	if (c->host) {
		snprintf(name, sizeof name, "%s: host", c->name);
		tap_is_str(acct.host, c->host, name);
	}
	if (c->port != NO_CHECK) {
		snprintf(name, sizeof name, "%s: port", c->name);
		tap_is_int(acct.port, c->port, name);
	}
	if (c->tls != NO_CHECK) {
		snprintf(name, sizeof name, "%s: tls", c->name);
		tap_is_int(acct.tls, c->tls, name);
	}
	if (c->tls_verify != NO_CHECK) {
		snprintf(name, sizeof name, "%s: tls_verify", c->name);
		tap_is_int(acct.tls_verify, c->tls_verify, name);
	}
	if (c->timeout != NO_CHECK) {
		snprintf(name, sizeof name, "%s: timeout", c->name);
		tap_is_int(acct.timeout, c->timeout, name);
	}
	if (c->user || c->host) {
		snprintf(name, sizeof name, "%s: user", c->name);
		tap_is_str(acct.user, c->user, name);
	}
	if (c->auth != NO_CHECK) {
		snprintf(name, sizeof name, "%s: auth", c->name);
		tap_is_int(acct.auth, c->auth, name);
	}
out:
	config_free(&cfg);
	for (int i = 0; i < MAX_FILES; i++) {
		if (paths[i]) {
			unlink(paths[i]);
			free(paths[i]);
		}
	}
}

/* Every key, with its origin. */
static void test_all_keys(void)
{
	static const char text[] =
		"# relaymail test\n"                            /* 1 */
		"[defaults]\n"                                   /* 2 */
		"timeout = 60\n"                                 /* 3 */
		"\n"                                             /* 4 */
		"[account work]\n"                               /* 5 */
		"host = smtp.example.com\n"                      /* 6 */
		"port = 2525\n"                                  /* 7 */
		"tls = starttls\n"                               /* 8 */
		"tls_ca_file = /etc/ssl/ca.pem\n"                /* 9 */
		"tls_verify = no\n"                              /* 10 */
		"auth = login\n"                                 /* 11 */
		"user = me@example.com\n"                        /* 12 */
		"password_command = pass show work\n"            /* 13 */
		"password_source = command\n"                    /* 14 */
		"credential = work-cred\n"                       /* 15 */
		"from_policy = always\n"                         /* 16 */
		"from = me@example.com\n"                        /* 17 */
		"domain = example.com\n"                         /* 18 */
		"[aliases]\n"                                    /* 19 */
		"root = admin@example.com, ops@example.com\n"    /* 20 */
		"postmaster = admin@example.com\n";              /* 21 */
	char *path = write_file(text, 0600);
	char *paths[MAX_FILES] = { path, NULL };
	struct config cfg;
	struct account a;
	struct result r;
	char *want;

	config_init(&cfg);
	result_clear(&r);
	tap_ok(config_load_file(&cfg, path, true, &r), "all keys: load");
	tap_ok(config_account_resolve(&cfg, NULL, &a, &r), "all keys: resolve");
	if (r.cls != RESULT_OK)
		printf("# %s\n", r.msg);
	tap_is_str(a.name, "work", "all keys: name");
	tap_is_str(a.host, "smtp.example.com", "all keys: host");
	tap_is_int(a.port, 2525, "all keys: port");
	tap_is_int(a.tls, TLS_MODE_STARTTLS, "all keys: tls");
	tap_is_str(a.tls_ca_file, "/etc/ssl/ca.pem", "all keys: tls_ca_file");
	tap_is_int(a.tls_verify, 0, "all keys: tls_verify");
	tap_is_int(a.auth, AUTH_CHOICE_LOGIN, "all keys: auth");
	tap_is_str(a.user, "me@example.com", "all keys: user");
	tap_is_str(a.password_command, "pass show work", "all keys: password_command");
	tap_is_str(a.password_file, NULL, "all keys: password_file unset");
	tap_is_int(a.password_source, PASSWORD_SOURCE_COMMAND, "all keys: password_source");
	tap_is_str(a.credential, "work-cred", "all keys: credential");
	tap_is_int(a.from_policy, FROM_POLICY_ALWAYS, "all keys: from_policy");
	tap_is_str(a.from, "me@example.com", "all keys: from");
	tap_is_str(a.domain, "example.com", "all keys: domain");
	tap_is_int(a.timeout, 60, "all keys: timeout from [defaults]");
	want = expand("@1:6", paths);
	tap_is_str(a.origin[KEY_HOST], want, "all keys: origin of host");
	free(want);
	want = expand("@1:18", paths);
	tap_is_str(a.origin[KEY_DOMAIN], want, "all keys: origin of domain");
	free(want);
	want = expand("@1:3", paths);
	tap_is_str(a.origin[KEY_TIMEOUT], want, "all keys: origin of an inherited key");
	free(want);
	want = expand("@1:5", paths);
	tap_is_str(a.section_origin, want, "all keys: section origin");
	free(want);
	tap_is_str(config_alias(&a, "root"), "admin@example.com, ops@example.com", "aliases: root");
	tap_is_str(config_alias(&a, "POSTMASTER"), "admin@example.com", "aliases: case-insensitive");
	tap_is_str(config_alias(&a, "nobody"), NULL, "aliases: unknown name");
	tap_is_str(config_key_name(KEY_PASSWORD_COMMAND), "password_command", "config_key_name");
	tap_is_str(config_key_name(KEY_TIMEOUT), "timeout", "config_key_name: timeout");
	config_free(&cfg);
	unlink(path);
	free(path);
}

static void test_queue_keys(void)
{
	static const struct {
		const char *value;
		unsigned seconds;
	} durations[] = {
		{ "3600", 3600 }, { "90s", 90 }, { "90m", 5400 }, { "12h", 43200 }, { "5d", 432000 },
		{ "365d", 365u * 86400u },
	};
	char text[256], name[128];
	struct config cfg;
	struct account a;
	struct result r;
	char *p;

	p = write_file("[account a]\nhost = h\n", 0600);
	config_init(&cfg);
	result_clear(&r);
	tap_ok(config_load_file(&cfg, p, true, &r) && config_account_resolve(&cfg, NULL, &a, &r) &&
	       a.queue && a.queue_lifetime == CONFIG_DEFAULT_QUEUE_LIFETIME && a.queue_dir == NULL &&
	       a.failed_dir == NULL, "queue keys: defaults (queue on, 5 days)");
	config_free(&cfg);
	unlink(p);
	free(p);

	p = write_file("[defaults]\nqueue = no\nqueue_dir = /var/spool/rm\n[account a]\nhost = h\n"
		       "failed_dir = /var/failed\n", 0600);
	config_init(&cfg);
	tap_ok(config_load_file(&cfg, p, true, &r) && config_account_resolve(&cfg, NULL, &a, &r) &&
	       !a.queue && a.queue_dir && strcmp(a.queue_dir, "/var/spool/rm") == 0 && a.failed_dir &&
	       strcmp(a.failed_dir, "/var/failed") == 0, "queue keys: set and inherited");
	config_free(&cfg);
	unlink(p);
	free(p);

	for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
		snprintf(text, sizeof text, "[account a]\nhost = h\nqueue_lifetime = %s\n", durations[i].value);
		p = write_file(text, 0600);
		config_init(&cfg);
		snprintf(name, sizeof name, "queue_lifetime = %s", durations[i].value);
		tap_ok(config_load_file(&cfg, p, true, &r) && config_account_resolve(&cfg, NULL, &a, &r) &&
		       a.queue_lifetime == durations[i].seconds, name);
		config_free(&cfg);
		unlink(p);
		free(p);
	}
}

static void test_aliases(void)
{
	char *p1 = write_file("[aliases]\nroot = a@x\nwww = b@x\n", 0600);
	char *p2 = write_file("[aliases]\nroot = c@x\n[account a]\nhost = h\n", 0600);
	char *p3 = write_file("[aliases]\nroot = a@x\nRoot = b@x\n", 0600);
	char *p4 = write_file("[aliases]\nroot@x = a@x\n", 0600);
	char *paths[MAX_FILES] = { p3, NULL };
	struct config cfg;
	struct account a;
	struct result r;

	config_init(&cfg);
	result_clear(&r);
	tap_ok(config_load_file(&cfg, p1, true, &r) && config_load_file(&cfg, p2, true, &r) &&
	       config_account_resolve(&cfg, NULL, &a, &r), "aliases: two files");
	tap_is_str(config_alias(&a, "root"), "c@x", "aliases: later file overrides");
	tap_is_str(config_alias(&a, "www"), "b@x", "aliases: earlier alias kept");
	config_free(&cfg);

	config_init(&cfg);
	tap_ok(!config_load_file(&cfg, p3, true, &r), "aliases: same alias twice in a file");
	expect_msg(&r, "@1:3:", paths, "aliases: duplicate message");
	config_free(&cfg);

	config_init(&cfg);
	paths[0] = p4;
	tap_ok(!config_load_file(&cfg, p4, true, &r), "aliases: name with '@' refused");
	expect_msg(&r, "@1:2:", paths, "aliases: invalid name message");
	config_free(&cfg);
	unlink(p1);
	unlink(p2);
	unlink(p3);
	unlink(p4);
	free(p1);
	free(p2);
	free(p3);
	free(p4);
}

static void test_files(void)
{
	const char *good = "[account a]\nhost = h\n";
	static const mode_t bad_modes[] = { 0620, 0602, 0622, 0666, 0660 };
	struct config cfg;
	struct result r;
	char missing[128], name[128];
	char *p;

	for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
		p = write_file(good, bad_modes[i]);
		config_init(&cfg);
		result_clear(&r);
		snprintf(name, sizeof name, "permissions: mode %04o refused", (unsigned)bad_modes[i]);
		tap_ok(!config_load_file(&cfg, p, true, &r) && r.cls == RESULT_CONFIG &&
		       strstr(r.msg, p) != NULL, name);
		config_free(&cfg);
		unlink(p);
		free(p);
	}
	p = write_file(good, 0644);
	config_init(&cfg);
	tap_ok(config_load_file(&cfg, p, true, &r), "permissions: 0644 accepted (readable is fine)");
	config_free(&cfg);
	unlink(p);
	free(p);
	p = write_file(good, 0400);
	config_init(&cfg);
	tap_ok(config_load_file(&cfg, p, true, &r), "permissions: 0400 accepted");
	config_free(&cfg);
	unlink(p);
	free(p);

	snprintf(missing, sizeof missing, "%s/does-not-exist", tmpdir);
	config_init(&cfg);
	result_clear(&r);
	tap_ok(!config_load_file(&cfg, missing, true, &r) && r.cls == RESULT_CONFIG &&
	       strstr(r.msg, missing) != NULL, "missing required file is an error naming it");
	tap_ok(config_load_file(&cfg, missing, false, &r), "missing optional file is fine");
	config_free(&cfg);

	config_init(&cfg);
	tap_ok(!config_load_file(&cfg, tmpdir, true, &r) && r.cls == RESULT_CONFIG,
	       "a directory is not a configuration file");
	config_free(&cfg);

	/* config_load layering */
	p = write_file(good, 0600);
	config_init(&cfg);
	tap_ok(config_load(&cfg, missing, p, true, &r) && cfg.n_accounts == 1,
	       "config_load: missing system file, explicit user file");
	config_free(&cfg);
	config_init(&cfg);
	tap_ok(!config_load(&cfg, p, missing, true, &r) && r.cls == RESULT_CONFIG,
	       "config_load: missing explicit user file is an error");
	config_free(&cfg);
	config_init(&cfg);
	tap_ok(config_load(&cfg, p, missing, false, &r) && cfg.n_accounts == 1,
	       "config_load: missing implicit user file is fine");
	config_free(&cfg);
	config_init(&cfg);
	tap_ok(config_load(&cfg, NULL, NULL, false, &r) && cfg.n_accounts == 0,
	       "config_load: no files at all");
	config_free(&cfg);
	unlink(p);
	free(p);
}

static void test_long_lines(void)
{
	static const size_t lengths[] = { 150, 300, 5000, 100000 };
	static const char *const kinds[] = { "value", "comment" };
	char name[128];

	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
			size_t n = lengths[i];
			char *text = malloc(n + 64), *path;
			char *paths[MAX_FILES] = { NULL, NULL };
			struct config cfg;
			struct result r;
			size_t off;
			bool ok;

			if (text == NULL)
				abort();
			off = (size_t)sprintf(text, "[account a]\nhost = h\n%s", k == 0 ? "user = " : "# ");
			memset(text + off, 'u', n);
			strcpy(text + off + n, "\nport = 25\n");
			path = write_file(text, 0600);
			paths[0] = path;
			config_init(&cfg);
			result_clear(&r);
			ok = config_load_file(&cfg, path, true, &r);
			if (n < 190) {
				snprintf(name, sizeof name, "long %s line of %zu bytes is fine", kinds[k], n);
				tap_ok(ok, name);
			} else {
				/* Either accepted in full or a clean error at line 3
				 * (the long line), not at a later line. */
				bool clean = ok ? (k == 1 || (cfg.n_accounts == 1 && cfg.accounts[0].user &&
							     strlen(cfg.accounts[0].user) == n))
						: r.cls == RESULT_CONFIG;

				snprintf(name, sizeof name, "long %s line of %zu bytes: full value or clean error", kinds[k], n);
				tap_ok(clean, name);
				if (!ok) {
					char *want = expand("@1:3:", paths);

					snprintf(name, sizeof name, "long %s line of %zu bytes: error at line 3", kinds[k], n);
					tap_ok(strstr(r.msg, want) != NULL, name);
					if (strstr(r.msg, want) == NULL)
						printf("# %s\n", r.msg);
					free(want);
				}
			}
			config_free(&cfg);
			unlink(path);
			free(path);
			free(text);
		}
	}
}

static void test_user_path(void)
{
	char buf[256];
	char *old_xdg = getenv("XDG_CONFIG_HOME") ? strdup(getenv("XDG_CONFIG_HOME")) : NULL;
	char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

	setenv("XDG_CONFIG_HOME", "/xdg/conf", 1);
	setenv("HOME", "/home/u", 1);
	tap_ok(config_user_path(buf, sizeof buf), "user path: XDG_CONFIG_HOME");
	tap_is_str(buf, "/xdg/conf/relaymail/config", "user path: XDG_CONFIG_HOME value");
	unsetenv("XDG_CONFIG_HOME");
	tap_ok(config_user_path(buf, sizeof buf), "user path: HOME");
	tap_is_str(buf, "/home/u/.config/relaymail/config", "user path: HOME value");
	setenv("XDG_CONFIG_HOME", "", 1);
	tap_ok(config_user_path(buf, sizeof buf) && strcmp(buf, "/home/u/.config/relaymail/config") == 0,
	       "user path: empty XDG_CONFIG_HOME ignored");
	setenv("XDG_CONFIG_HOME", "relative/dir", 1);
	tap_ok(config_user_path(buf, sizeof buf) && strcmp(buf, "/home/u/.config/relaymail/config") == 0,
	       "user path: relative XDG_CONFIG_HOME ignored");
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("HOME");
	tap_ok(!config_user_path(buf, sizeof buf), "user path: neither known");
	setenv("HOME", "/home/u", 1);
	tap_ok(!config_user_path(buf, 10), "user path: buffer too small");
	tap_ok(config_user_path(buf, strlen("/home/u/.config/relaymail/config") + 1), "user path: exact size");
	tap_ok(!config_user_path(buf, strlen("/home/u/.config/relaymail/config")), "user path: one byte short");

	if (old_xdg)
		setenv("XDG_CONFIG_HOME", old_xdg, 1);
	else
		unsetenv("XDG_CONFIG_HOME");
	if (old_home)
		setenv("HOME", old_home, 1);
	else
		unsetenv("HOME");
	free(old_xdg);
	free(old_home);
}

int main(void)
{
	strcpy(tmpdir, "/tmp/relaymail-cfg.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	umask(022);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i]);
	test_all_keys();
	test_queue_keys();
	test_aliases();
	test_files();
	test_long_lines();
	test_user_path();
	rmdir(tmpdir);
	return tap_done();
}
