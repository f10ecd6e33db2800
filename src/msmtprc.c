#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "i18n.h"
#include "log.h"
#include "msmtprc.h"
#include "rfc5322.h"

enum mkey {
	MK_HOST, MK_PORT, MK_TLS, MK_STARTTLS, MK_TRUST, MK_CERTCHECK, MK_AUTH, MK_USER, MK_PASSWORD,
	MK_PASSWORDEVAL, MK_FROM, MK_ALIASES, MK_LOGFILE, MK_TIMEOUT, MK_FROM_OVERRIDE, MK_COUNT
};

static const char *const mkey_names[MK_COUNT] = {
	"host", "port", "tls", "tls_starttls", "tls_trust_file", "tls_certcheck", "auth", "user",
	"password", "passwordeval", "from", "aliases", "logfile", "timeout", "allow_from_override",
};

/* msmtp commands that relaymail has no equivalent for (msmtp 1.8). */
static const char *const untranslatable[] = {
	"tls_key_file", "tls_cert_file", "tls_crl_file", "tls_fingerprint", "tls_priorities",
	"tls_host_override", "tls_min_dh_prime_bits", "domain", "dsn_notify", "dsn_return",
	"protocol", "ntlmdomain", "keepbcc", "logfile_time_format", "syslog", "auto_from",
	"maildomain", "set_from_header", "set_date_header", "remove_bcc_headers",
	"undisclosed_recipients", "source_ip", "proxy_host", "proxy_port", "socket",
	"add_missing_from_header", "add_missing_date_header", "eval", "set_msgid_header",
};

struct setting {
	char *value;                    /* NULL: not set */
	int line;
};

struct macct {
	char *name;
	int line;
	struct setting own[MK_COUNT];   /* set in the account, or inherited */
	struct setting dflt[MK_COUNT];  /* the defaults as they were where it began */
	const char *alias_of;           /* "account default : NAME" and nothing else */
	unsigned directives;
};

struct conv {
	const char *path, *home;
	msmtprc_note_fn note;
	void *arg;
	struct result *r;
	struct setting defaults[MK_COUNT];
	struct macct *accts;
	size_t n;
	struct setting *cur;            /* where the next setting goes; NULL before a section */
	struct macct *cur_acct;
	bool defaults_late;             /* defaults after an account: each account gets its own */
	bool auth_off;
};

static void note(struct conv *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void note(struct conv *c, int line, const char *fmt, ...)
{
	char text[1024], shown[sizeof text * 4], where[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(where, sizeof where, "%s:%d: %s", c->path, line, text);
	else
		snprintf(where, sizeof where, "%s: %s", c->path, text);
	if (c->note != NULL)
		c->note(c->arg, log_escape(shown, sizeof shown, where));
}

static bool fail(struct conv *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool fail(struct conv *c, int line, const char *fmt, ...)
{
	char text[512], shown[sizeof text * 4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	return result_fail(c->r, RESULT_CONFIG, "%s:%d: %s", c->path, line, log_escape(shown, sizeof shown, text));
}

static void clear_settings(struct setting *s)
{
	for (int k = 0; k < MK_COUNT; k++) {
		/* one of them may be a password */
		if (s[k].value != NULL)
			explicit_bzero(s[k].value, strlen(s[k].value));
		free(s[k].value);
		s[k].value = NULL;
	}
}

static bool copy_setting(struct setting *to, const struct setting *from)
{
	free(to->value);
	to->value = from->value ? strdup(from->value) : NULL;
	to->line = from->line;
	return from->value == NULL || to->value != NULL;
}

static struct macct *find_account(struct conv *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->accts[i].name, name) == 0)
			return &c->accts[i];
	}
	return NULL;
}

static bool same_value(const struct setting *a, const struct setting *b)
{
	return a->value == NULL ? b->value == NULL : b->value != NULL && strcmp(a->value, b->value) == 0;
}

/* Inherit the complete settings of each account listed after ':'. */
static bool inherit(struct conv *c, struct macct *a, char *list, int line)
{
	unsigned count = 0;
	char *save = NULL;

	for (char *w = strtok_r(list, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
		const struct macct *from = find_account(c, rfc5322_trim_wsp(w));

		if (from == NULL)
			return fail(c, line, _("account '%s' is not defined before this line"), rfc5322_trim_wsp(w));
		for (int k = 0; k < MK_COUNT; k++) {
			const struct setting *s = from->own[k].value ? &from->own[k] : &from->dflt[k];

			/* What the defaults give this account anyway need not be copied. */
			if (s == &from->dflt[k] && same_value(s, &c->defaults[k]))
				continue;
			if (s->value != NULL && !copy_setting(&a->own[k], s))
				return fail(c, line, _("out of memory"));
		}
		a->alias_of = count++ == 0 ? from->name : NULL;
	}
	if (count == 0)
		return fail(c, line, _("no account named after ':'"));
	return true;
}

static bool start_account(struct conv *c, char *arg, int line)
{
	char *colon = strchr(arg, ':'), *name;
	struct macct *a, *grown;

	if (colon != NULL)
		*colon = '\0';
	name = rfc5322_trim_wsp(arg);
	if (*name == '\0')
		return fail(c, line, _("'account' needs a name"));
	if (find_account(c, name) != NULL)
		return fail(c, line, _("account '%s' is defined twice"), name);
	if (c->n >= MSMTPRC_MAX_ACCOUNTS)
		return fail(c, line, _("more than %d accounts"), MSMTPRC_MAX_ACCOUNTS);
	grown = realloc(c->accts, (c->n + 1) * sizeof *grown);
	if (grown == NULL)
		return fail(c, line, _("out of memory"));
	c->accts = grown;
	a = &c->accts[c->n];
	memset(a, 0, sizeof *a);
	a->line = line;
	a->name = strdup(name);
	c->n++;
	if (a->name == NULL)
		return fail(c, line, _("out of memory"));
	for (int k = 0; k < MK_COUNT; k++) {
		if (!copy_setting(&a->dflt[k], &c->defaults[k]))
			return fail(c, line, _("out of memory"));
	}
	c->cur = a->own;
	c->cur_acct = a;
	return colon == NULL || inherit(c, a, colon + 1, line);
}

static bool is_on_off_key(int k)
{
	return k == MK_TLS || k == MK_STARTTLS || k == MK_CERTCHECK || k == MK_FROM_OVERRIDE;
}

/* Values relaymail.conf cannot carry unchanged: control characters, and
 * " ;" which inih reads as the start of a comment. */
static bool storable(const char *value)
{
	for (const char *p = value; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
		if (*p == ';' && p > value && (p[-1] == ' ' || p[-1] == '\t'))
			return false;
	}
	return true;
}

static bool check_value(struct conv *c, int k, const char *value, int line)
{
	if (is_on_off_key(k) && strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
		return fail(c, line, _("'%s' takes on or off, not '%s'"), mkey_names[k], value);
	if (k == MK_PORT) {
		char *end;
		long port = strtol(value, &end, 10);

		if (!isdigit((unsigned char)value[0]) || *end != '\0' || port < 1 || port > 65535)
			return fail(c, line, _("invalid port '%s'"), value);
	}
	return true;
}

static bool set_value(struct conv *c, int k, const char *value, int line)
{
	struct setting *s = &c->cur[k];

	/* "tls" alone means "tls on"; another command alone unsets. */
	if (*value == '\0' && (is_on_off_key(k) || k == MK_AUTH))
		value = "on";
	if (!check_value(c, k, value, line))
		return false;
	if (c->cur_acct != NULL)
		c->cur_acct->directives++;
	if (k == MK_AUTH && strcmp(value, "off") == 0)
		c->auth_off = true;
	if (*value != '\0' && !storable(value)) {
		note(c, line, _("the value of '%s' cannot be written to relaymail.conf as it is; left out"),
		     mkey_names[k]);
		value = "";
	}
	free(s->value);
	s->value = *value ? strdup(value) : NULL;
	s->line = line;
	if (*value && s->value == NULL)
		return fail(c, line, _("out of memory"));
	return true;
}

static bool command(struct conv *c, const char *cmd, char *arg, int line)
{
	if (strcmp(cmd, "defaults") == 0) {
		c->cur = c->defaults;
		c->cur_acct = NULL;
		c->defaults_late |= c->n > 0;
		return true;
	}
	if (strcmp(cmd, "account") == 0)
		return start_account(c, arg, line);
	if (c->cur == NULL)
		return fail(c, line, _("'%s' before the first 'account' or 'defaults'"), cmd);
	for (int k = 0; k < MK_COUNT; k++) {
		if (strcmp(cmd, mkey_names[k]) == 0)
			return set_value(c, k, arg, line);
	}
	if (c->cur_acct != NULL)
		c->cur_acct->directives++;
	for (size_t i = 0; i < sizeof untranslatable / sizeof untranslatable[0]; i++) {
		if (strcmp(cmd, untranslatable[i]) == 0) {
			note(c, line, _("'%s' has no relaymail equivalent; left out"), cmd);
			return true;
		}
	}
	note(c, line, _("unknown msmtp command '%s'; left out"), cmd);
	return true;
}

/* "command argument" or "command \"quoted argument\"" (\" and \\ inside). */
static bool parse_line(struct conv *c, char *s, int line)
{
	char *cmd = s, *arg;

	while (*s && *s != ' ' && *s != '\t')
		s++;
	if (*s)
		*s++ = '\0';
	arg = rfc5322_trim_wsp(s);
	if (*arg == '"') {
		char *in = arg + 1, *out = arg;

		for (; *in && *in != '"'; in++) {
			if (*in == '\\' && (in[1] == '"' || in[1] == '\\'))
				in++;
			*out++ = *in;
		}
		if (*in != '"')
			return fail(c, line, _("unterminated quoted string"));
		if (*rfc5322_trim_wsp(in + 1) != '\0')
			return fail(c, line, _("text after the closing quote"));
		*out = '\0';
	}
	return command(c, cmd, arg, line);
}

static bool parse_text(struct conv *c, const char *text, size_t len)
{
	char buf[MSMTPRC_LINE_MAX + 1];
	const char *p = text, *end = text + len;
	int line = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		char *s;

		line++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > MSMTPRC_LINE_MAX)
			return fail(c, line, _("line too long (at most %d characters)"), MSMTPRC_LINE_MAX);
		if (memchr(p, '\0', n) != NULL)
			return fail(c, line, _("NUL byte in the line"));
		memcpy(buf, p, n);
		buf[n] = '\0';
		p = nl ? nl + 1 : end;
		s = rfc5322_trim_wsp(buf);
		if (*s == '\0' || *s == '#')
			continue;
		if (!parse_line(c, s, line)) {
			explicit_bzero(buf, sizeof buf);
			return false;
		}
	}
	explicit_bzero(buf, sizeof buf);
	return true;
}

/* ---- output --------------------------------------------------------------- */

static const struct setting *get(const struct conv *c, const struct macct *a, int k, bool with_defaults)
{
	(void)c;
	if (a->own[k].value != NULL)
		return &a->own[k];
	return with_defaults && a->dflt[k].value != NULL ? &a->dflt[k] : NULL;
}

/* A path as relaymail wants it: absolute, "~/" expanded. */
static void put_path(struct conv *c, FILE *out, const char *key, const struct setting *s)
{
	if (s->value[0] == '~' && s->value[1] == '/' && c->home != NULL && c->home[0] == '/')
		fprintf(out, "%s = %s/%s\n", key, c->home, s->value + 2);
	else if (s->value[0] == '/')
		fprintf(out, "%s = %s\n", key, s->value);
	else
		note(c, s->line, _("'%s' is not an absolute path; %s left out"), s->value, key);
}

static void put_auth(struct conv *c, FILE *out, const struct setting *s)
{
	static const char *const same[] = { "plain", "login", "xoauth2", "oauthbearer", "scram-sha-256", "cram-md5" };

	if (strcmp(s->value, "on") == 0 || strcmp(s->value, "off") == 0)
		return;         /* on: relaymail chooses; off: no user is written */
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		if (strcmp(s->value, same[i]) == 0) {
			fprintf(out, "auth = %s\n", same[i]);
			return;
		}
	}
	note(c, s->line, _("auth method '%s' is not available in relaymail; left out (relaymail chooses)"), s->value);
}

/* The keys whose msmtp default is relaymail's too (not port and tls). */
static void put_common(struct conv *c, FILE *out, const struct setting *s, bool auth_off)
{
	const struct setting *v;

	if ((v = &s[MK_TRUST])->value && strcmp(v->value, "system") != 0)
		put_path(c, out, "tls_ca_file", v);
	if ((v = &s[MK_CERTCHECK])->value && strcmp(v->value, "off") == 0)
		fprintf(out, "tls_verify = no\n");
	if ((v = &s[MK_AUTH])->value)
		put_auth(c, out, v);
	if ((v = &s[MK_USER])->value && !auth_off)
		fprintf(out, "user = %s\n", v->value);
	if ((v = &s[MK_PASSWORDEVAL])->value && !auth_off)
		fprintf(out, "password_command = %s\n", v->value);
	if ((v = &s[MK_FROM])->value) {
		if (strchr(v->value, '%') != NULL)
			note(c, v->line, _("from '%s' uses msmtp's %% substitutions; left out"), v->value);
		else
			fprintf(out, "from = %s\n", v->value);
	}
	if ((v = &s[MK_ALIASES])->value)
		put_path(c, out, "aliases_file", v);
	if ((v = &s[MK_LOGFILE])->value) {
		if (strcmp(v->value, "-") == 0)
			note(c, v->line, _("logfile - (standard output) has no relaymail equivalent; left out"));
		else
			put_path(c, out, "log_file", v);
	}
	if ((v = &s[MK_TIMEOUT])->value && strcmp(v->value, "off") != 0)
		fprintf(out, "timeout = %s\n", v->value);
	if ((v = &s[MK_FROM_OVERRIDE])->value)
		fprintf(out, "allow_from_override = %s\n", strcmp(v->value, "on") == 0 ? "yes" : "no");
}

/* relaymail's name rules are stricter than msmtp's. */
static void safe_name(struct conv *c, const struct macct *a, char *buf, size_t size)
{
	bool changed = false;

	snprintf(buf, size, "%s", a->name);
	for (char *p = buf; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("_.-@+", *p)) {
			*p = '_';
			changed = true;
		}
	}
	if (changed || strlen(a->name) >= size)
		note(c, a->line, _("account '%s' is called '%s' in relaymail"), a->name, buf);
}

static void put_account(struct conv *c, FILE *out, const struct macct *a, bool with_defaults)
{
	struct setting eff[MK_COUNT];
	const struct setting *tls, *starttls, *port, *auth, *pw;
	char name[128];
	bool implicit, auth_off;

	for (int k = 0; k < MK_COUNT; k++) {
		const struct setting *s = get(c, a, k, with_defaults);

		eff[k] = s ? *s : (struct setting){ NULL, 0 };
	}
	tls = get(c, a, MK_TLS, true);
	starttls = get(c, a, MK_STARTTLS, true);
	port = get(c, a, MK_PORT, true);
	auth = get(c, a, MK_AUTH, true);
	pw = get(c, a, MK_PASSWORD, true);
	auth_off = auth && strcmp(auth->value, "off") == 0;
	implicit = tls && strcmp(tls->value, "on") == 0 && starttls && strcmp(starttls->value, "off") == 0;
	safe_name(c, a, name, sizeof name);
	fprintf(out, "\n[account %s]\n", name);
	if (eff[MK_HOST].value)
		fprintf(out, "host = %s\n", eff[MK_HOST].value);
	/* msmtp's defaults are port 25 (465 with TLS from the first byte) and no TLS. */
	fprintf(out, "port = %s\n", port ? port->value : implicit ? "465" : "25");
	fprintf(out, "tls = %s\n", !tls || strcmp(tls->value, "off") == 0 ? "off" : implicit ? "implicit" : "starttls");
	put_common(c, out, eff, auth_off);
	if (pw && !auth_off && !get(c, a, MK_PASSWORDEVAL, true))
		note(c, pw->line, _("the password of account '%s' is not copied: store it in the keyring with: relaymail --set-password %s"),
		     a->name, name);
	if ((!tls || strcmp(tls->value, "off") == 0) && get(c, a, MK_USER, true) && !auth_off)
		note(c, a->line, _("account '%s' authenticates without TLS in msmtp; relaymail never does: set tls"), a->name);
}

static void put_config(struct conv *c, FILE *out)
{
	/* Without defaults after an account (msmtp applies them only to the
	 * accounts that follow) nor "auth off" (relaymail cannot unset a user
	 * from [defaults]) the defaults stay one section. */
	bool one_defaults = !c->defaults_late && !c->auth_off;
	const char *default_account = NULL;
	bool any = false;

	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->accts[i].name, "default") == 0)
			default_account = c->accts[i].alias_of && c->accts[i].directives == 0 ? c->accts[i].alias_of : "default";
	}
	fprintf(out, "# relaymail configuration imported from %s (relaymail --import-msmtprc)\n", c->path);
	fprintf(out, "# See relaymail.conf(5).\n");
	for (int k = 0; k < MK_COUNT; k++)
		any |= one_defaults && c->defaults[k].value != NULL && k != MK_PORT && k != MK_TLS && k != MK_STARTTLS;
	if (default_account != NULL || any) {
		fprintf(out, "\n[defaults]\n");
		if (default_account != NULL)
			fprintf(out, "default_account = %s\n", default_account);
		if (one_defaults) {
			struct setting s[MK_COUNT];

			memcpy(s, c->defaults, sizeof s);
			put_common(c, out, s, false);
		}
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct macct *a = &c->accts[i];

		if (strcmp(a->name, "default") == 0 && a->alias_of != NULL && a->directives == 0)
			continue;       /* only names the default account */
		put_account(c, out, a, !one_defaults);
	}
	if (c->n == 0)
		note(c, 0, _("no account found"));
}

bool msmtprc_convert(const char *text, size_t len, const char *path, const char *home, FILE *out,
		     msmtprc_note_fn note_fn, void *arg, struct result *r)
{
	struct conv c = { .path = path, .home = home, .note = note_fn, .arg = arg, .r = r };
	char *buf = NULL;
	size_t size = 0;
	FILE *mem = NULL;
	bool ok = false;

	if (len > MSMTPRC_MAX_SIZE) {
		result_fail(r, RESULT_CONFIG, _("%s: larger than %d bytes"), path, MSMTPRC_MAX_SIZE);
		goto out;
	}
	if (!parse_text(&c, text, len))
		goto out;
	/* Only a valid file gives output: build it aside first. */
	mem = open_memstream(&buf, &size);
	if (mem == NULL) {
		result_fail(r, RESULT_OSERR, _("out of memory"));
		goto out;
	}
	put_config(&c, mem);
	if (fclose(mem) != 0) {
		mem = NULL;
		result_fail(r, RESULT_OSERR, _("out of memory"));
		goto out;
	}
	mem = NULL;
	ok = fwrite(buf, 1, size, out) == size && fflush(out) == 0;
	if (!ok)
		result_fail(r, RESULT_OSERR, _("cannot write the configuration: %s"), strerror(errno));
out:
	if (mem != NULL)
		fclose(mem);
	free(buf);
	clear_settings(c.defaults);
	for (size_t i = 0; i < c.n; i++) {
		clear_settings(c.accts[i].own);
		clear_settings(c.accts[i].dflt);
		free(c.accts[i].name);
	}
	free(c.accts);
	return ok;
}

bool msmtprc_default_path(char *buf, size_t size)
{
	const char *home = getenv("HOME"), *xdg = getenv("XDG_CONFIG_HOME");
	int n;

	if (home != NULL && home[0] == '/') {
		n = snprintf(buf, size, "%s/.msmtprc", home);
		if (n > 0 && (size_t)n < size && access(buf, F_OK) == 0)
			return true;
	}
	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, size, "%s/msmtp/config", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(buf, size, "%s/.config/msmtp/config", home);
	else
		return false;
	return n > 0 && (size_t)n < size;
}

static void print_note(void *arg, const char *text)
{
	(void)arg;
	log_warn("%s", text);
}

static char *read_file(const char *path, size_t *len, struct result *r)
{
	char *buf = NULL;
	struct stat st;
	size_t got = 0;
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		result_fail(r, RESULT_CONFIG, _("%s: cannot open: %s"), path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		result_fail(r, RESULT_CONFIG, _("%s: not a regular file"), path);
	else if ((buf = malloc(MSMTPRC_MAX_SIZE + 1)) == NULL)
		result_fail(r, RESULT_OSERR, _("out of memory"));
	while (buf != NULL && got <= MSMTPRC_MAX_SIZE &&
	       ((n = read(fd, buf + got, MSMTPRC_MAX_SIZE + 1 - got)) > 0 || (n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	if (buf != NULL && n < 0) {
		result_fail(r, RESULT_CONFIG, _("%s: cannot read: %s"), path, strerror(errno));
		free(buf);
		buf = NULL;
	}
	close(fd);
	*len = got;
	return buf;
}

bool msmtprc_import(const char *path, struct result *r)
{
	char found[4096];
	char *text;
	size_t len = 0;
	bool ok;

	if (path == NULL) {
		if (!msmtprc_default_path(found, sizeof found))
			return result_fail(r, RESULT_CONFIG, _("no msmtp configuration: give its file name"));
		path = found;
	}
	text = read_file(path, &len, r);
	if (text == NULL)
		return false;
	/* A password in the file is not ours to keep in memory longer. */
	ok = msmtprc_convert(text, len, path, getenv("HOME"), stdout, print_note, NULL, r);
	explicit_bzero(text, len);
	free(text);
	return ok;
}
