/* The .env file of a queue entry: its fields, their bounds, the writer
 * (queue_entry_format) and the strict reader (queue_entry_parse).
 *
 * Format: UTF-8 text, one "key value" per line, each line ending in LF:
 *   version 1
 *   account NAME          domain DOMAIN (for EHLO)
 *   message-id <ID>       (for the logs)
 *   sender ADDR           (empty value: the null sender <>)
 *   rcpt ADDR             (one line per recipient)
 *   body-8bit 0|1         needs-smtputf8 0|1     smtputf8 -1|0|1
 *   dsn-notify X          dsn-ret X              dsn-envid X  (optional)
 *   created UNIX-TIME     attempts N             next-attempt UNIX-TIME
 *   last-error TEXT       (one line, control characters removed)
 *
 * A .env is untrusted text (another user may have planted it): only the
 * keys above, each once (rcpt repeated), values validated and bounded.
 * The writer's output always passes the reader (tests/fuzz/fuzz_queue_entry).
 * No file system access here: see queue_dir.c and queue.c.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "i18n.h"
#include "queue_entry.h"

/* ---- entries ------------------------------------------------------------ */

void queue_entry_free(struct entry *e)
{
	free(e->account);
	free(e->last_error);
	free(e->message_id);
	free(e->user);
	for (size_t i = 0; i < 3; i++)
		free(e->dsn[i]);
	free(e->env.sender);
	free(e->env.domain);
	address_list_free(&e->env.recipients);
	memset(e, 0, sizeof *e);
}

/* One line, printable: error texts come from servers. */
void queue_put_line(FILE *f, const char *key, const char *value)
{
	fprintf(f, "%s ", key);
	for (const char *p = value ? value : ""; *p; p++)
		fputc((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p, f);
	fputc('\n', f);
}

char *queue_entry_format(const struct entry *e)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	fprintf(f, "version 1\n");
	queue_put_line(f, "account", e->account);
	if (e->user)
		queue_put_line(f, "user", e->user);
	if (e->message_id)
		queue_put_line(f, "message-id", e->message_id);
	queue_put_line(f, "domain", e->env.domain);
	queue_put_line(f, "sender", e->env.sender);
	for (size_t i = 0; i < e->env.recipients.n; i++)
		queue_put_line(f, "rcpt", e->env.recipients.items[i]);
	fprintf(f, "body-8bit %d\nneeds-smtputf8 %d\nsmtputf8 %d\n", e->env.body_8bit,
		e->env.needs_smtputf8, e->env.smtputf8);
	if (e->env.dsn_notify)
		queue_put_line(f, "dsn-notify", e->env.dsn_notify);
	if (e->env.dsn_ret)
		queue_put_line(f, "dsn-ret", e->env.dsn_ret);
	if (e->env.dsn_envid)
		queue_put_line(f, "dsn-envid", e->env.dsn_envid);
	fprintf(f, "created %lld\nattempts %u\nnext-attempt %lld\n", e->created, e->attempts, e->next);
	queue_put_line(f, "last-error", e->last_error);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

bool queue_entry_set_error(struct entry *e, const char *reason)
{
	size_t n = strlen(reason);
	char *copy;

	if (n > QUEUE_LAST_ERROR_MAX) {
		n = QUEUE_LAST_ERROR_MAX;       /* not in the middle of a UTF-8 character */
		while (n > 0 && ((unsigned char)reason[n] & 0xc0) == 0x80)
			n--;
	}
	copy = strndup(reason, n);
	if (copy == NULL)
		return false;
	free(e->last_error);
	e->last_error = copy;
	return true;
}

/* ---- parsing an entry (untrusted) ----------------------------------------- */

enum meta_key {
	M_VERSION, M_ACCOUNT, M_DOMAIN, M_MESSAGE_ID, M_SENDER, M_RCPT, M_BODY_8BIT,
	M_NEEDS_SMTPUTF8, M_SMTPUTF8, M_DSN_NOTIFY, M_DSN_RET, M_DSN_ENVID, M_CREATED,
	M_ATTEMPTS, M_NEXT, M_LAST_ERROR, M_USER, M_COUNT
};

static const struct meta_key_spec {
	const char *name;
	size_t max;             /* bytes of the value */
	bool required;
} meta_keys[M_COUNT] = {
	[M_VERSION] = { "version", 8, true },
	[M_ACCOUNT] = { "account", QUEUE_ACCOUNT_MAX, true },
	[M_DOMAIN] = { "domain", QUEUE_DOMAIN_MAX, true },
	[M_MESSAGE_ID] = { "message-id", QUEUE_MESSAGE_ID_MAX, false },
	[M_SENDER] = { "sender", ADDRESS_MAX, true },
	[M_RCPT] = { "rcpt", ADDRESS_MAX, true },
	[M_BODY_8BIT] = { "body-8bit", 8, false },
	[M_NEEDS_SMTPUTF8] = { "needs-smtputf8", 8, false },
	[M_SMTPUTF8] = { "smtputf8", 8, false },
	[M_DSN_NOTIFY] = { "dsn-notify", DSN_NOTIFY_MAX, false },
	[M_DSN_RET] = { "dsn-ret", 8, false },
	[M_DSN_ENVID] = { "dsn-envid", DSN_ENVID_MAX, false },
	[M_CREATED] = { "created", 24, true },
	[M_ATTEMPTS] = { "attempts", 24, true },
	[M_NEXT] = { "next-attempt", 24, true },
	[M_LAST_ERROR] = { "last-error", QUEUE_LAST_ERROR_MAX, false },
	[M_USER] = { "user", QUEUE_USER_MAX, false },
};

/* Times beyond the year 9999 are damage; they would also overflow sums. */
#define META_TIME_MAX 253402300799LL
#define META_ATTEMPTS_MAX 1000000LL

/* The whole value is a decimal number in [min, max]: no sign unless
 * negative, no spaces, no trailing text (strtoll alone allows them). */
static bool meta_number(const char *v, long long min, long long max, long long *out)
{
	const char *digits = v[0] == '-' ? v + 1 : v;
	char *end;
	long long n;

	if (digits[0] < '0' || digits[0] > '9')
		return false;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return false;
	*out = n;
	return true;
}

struct one_address {
	const char *want;
	size_t n;
	bool same;
};

static bool note_address(const char *addr, size_t start, size_t len, void *data,
			 struct result *r)
{
	struct one_address *o = data;

	(void)r;
	o->n++;
	o->same = o->n == 1 && start == 0 && len == strlen(o->want) && strcmp(addr, o->want) == 0;
	return true;
}

/* An envelope address as envelope_build() makes them: one addr-spec with a
 * domain, nothing around it, safe inside an SMTP command. */
static bool meta_addr_spec(const char *a)
{
	struct one_address o = { a, 0, false };
	struct result ignored;

	return rfc5322_address_is_safe(a) && strchr(a, '@') != NULL &&
	       rfc5322_scan_address_list(a, strlen(a), note_address, &o, &ignored) && o.n == 1 &&
	       o.same;
}

/* The null sender, an addr-spec, or what -f accepts with a domain. */
static bool meta_sender(const char *a)
{
	return *a == '\0' ||
	       (rfc5322_address_is_safe(a) && strchr(a, '@') != NULL && strpbrk(a, " <>") == NULL) ||
	       meta_addr_spec(a);
}

/* A host name as the domain key of the configuration allows it. */
static bool meta_domain(const char *d)
{
	if (*d == '\0')
		return false;
	for (; *d; d++) {
		char c = *d;

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    strchr(".-_:[]", c) == NULL)
			return false;
	}
	return true;
}

/* A login name as the service records it (or "uid-N"). */
static bool meta_user(const char *v)
{
	if (*v == '\0' || *v == '-')
		return false;
	for (; *v; v++) {
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
		      *v == '_' || *v == '-' || *v == '.' || *v == '$'))
			return false;
	}
	return true;
}

/* Store a string value (taking v) after checking it. */
static bool meta_string(struct entry *e, enum meta_key k, char *v)
{
	char **slot = NULL;

	switch (k) {
	case M_ACCOUNT: slot = *v ? &e->account : NULL; break;
	case M_DOMAIN: slot = meta_domain(v) ? &e->env.domain : NULL; break;
	case M_MESSAGE_ID: slot = &e->message_id; break;
	case M_SENDER: slot = meta_sender(v) ? &e->env.sender : NULL; break;
	case M_LAST_ERROR: slot = &e->last_error; break;
	case M_USER: slot = meta_user(v) ? &e->user : NULL; break;
	case M_DSN_NOTIFY: slot = dsn_notify_valid(v) ? &e->dsn[0] : NULL; break;
	case M_DSN_RET: slot = strcmp(v, "FULL") == 0 || strcmp(v, "HDRS") == 0 ? &e->dsn[1] : NULL; break;
	case M_DSN_ENVID: slot = dsn_envid_valid(v) ? &e->dsn[2] : NULL; break;
	default: break;
	}
	if (slot == NULL) {
		free(v);
		return false;
	}
	*slot = v;
	e->env.dsn_notify = e->dsn[0];
	e->env.dsn_ret = e->dsn[1];
	e->env.dsn_envid = e->dsn[2];
	return true;
}

static bool meta_numeric(struct entry *e, enum meta_key k, const char *v)
{
	long long n;

	switch (k) {
	case M_VERSION: return strcmp(v, "1") == 0;
	case M_BODY_8BIT: return meta_number(v, 0, 1, &n) && ((e->env.body_8bit = n), true);
	case M_NEEDS_SMTPUTF8: return meta_number(v, 0, 1, &n) && ((e->env.needs_smtputf8 = n), true);
	case M_SMTPUTF8: return meta_number(v, -1, 1, &n) && ((e->env.smtputf8 = (int)n), true);
	case M_CREATED: return meta_number(v, 0, META_TIME_MAX, &e->created);
	case M_NEXT: return meta_number(v, 0, META_TIME_MAX, &e->next);
	case M_ATTEMPTS:
		return meta_number(v, 0, META_ATTEMPTS_MAX, &n) && ((e->attempts = (unsigned)n), true);
	default: return false;
	}
}

/* One value: r gets the reason (the caller adds the line). */
static bool meta_value(struct entry *e, enum meta_key k, const char *p, size_t n,
		       struct result *r)
{
	char *v;

	if (n > meta_keys[k].max)
		return result_fail(r, RESULT_DATAERR, _("%s longer than %zu bytes"), meta_keys[k].name,
				   meta_keys[k].max);
	v = strndup(p, n);
	if (v == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	if (k == M_RCPT) {
		bool ok = meta_addr_spec(v);

		ok = ok ? address_list_add(&e->env.recipients, v, r)
			: result_fail(r, RESULT_DATAERR, _("invalid %s"), meta_keys[k].name);
		free(v);
		return ok;
	}
	if (k == M_VERSION || (k >= M_BODY_8BIT && k <= M_SMTPUTF8) || k == M_CREATED ||
	    k == M_ATTEMPTS || k == M_NEXT) {
		bool ok = meta_numeric(e, k, v);

		free(v);
		if (!ok && k == M_VERSION)
			return result_fail(r, RESULT_DATAERR,
					   _("unknown version (this relaymail reads version 1)"));
		return ok || result_fail(r, RESULT_DATAERR, _("invalid %s"), meta_keys[k].name);
	}
	return meta_string(e, k, v) || result_fail(r, RESULT_DATAERR, _("invalid %s"),
						       meta_keys[k].name);
}

static bool meta_key_lookup(const char *p, size_t n, enum meta_key *k)
{
	for (size_t i = 0; i < M_COUNT; i++) {
		if (strlen(meta_keys[i].name) == n && memcmp(meta_keys[i].name, p, n) == 0) {
			*k = (enum meta_key)i;
			return true;
		}
	}
	return false;
}

/* Is the key worth quoting in a message (short, [a-z0-9-])? */
static bool meta_key_printable(const char *p, size_t n)
{
	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!(p[i] >= 'a' && p[i] <= 'z') && !(p[i] >= '0' && p[i] <= '9') && p[i] != '-')
			return false;
	}
	return true;
}

/* One line "key value" (without its LF). */
static bool meta_line(struct entry *e, unsigned *seen, unsigned line, const char *p, size_t n,
		      struct result *r)
{
	const char *space = memchr(p, ' ', n);
	size_t klen = space ? (size_t)(space - p) : n;
	enum meta_key k;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return result_fail(r, RESULT_DATAERR, _("control character"));
	}
	if (!meta_key_lookup(p, klen, &k))
		return meta_key_printable(p, klen)
			       ? result_fail(r, RESULT_DATAERR, _("unknown key '%.*s'"), (int)klen, p)
			       : result_fail(r, RESULT_DATAERR, _("unknown key"));
	if (line == 1 && k != M_VERSION)
		return result_fail(r, RESULT_DATAERR, _("not a queue entry (no \"version 1\" line)"));
	if (space == NULL)
		return result_fail(r, RESULT_DATAERR, _("%s without a value"), meta_keys[k].name);
	if (k != M_RCPT && seen[k] > 0)
		return result_fail(r, RESULT_DATAERR, _("%s given twice"), meta_keys[k].name);
	if (k == M_RCPT && seen[k] >= ENVELOPE_MAX_RECIPIENTS)
		return result_fail(r, RESULT_DATAERR, _("more than %d recipients"),
				   ENVELOPE_MAX_RECIPIENTS);
	seen[k]++;
	return meta_value(e, k, space + 1, n - klen - 1, r);
}

bool queue_entry_parse(const char *text, size_t len, struct entry *e, struct result *r)
{
	unsigned seen[M_COUNT] = { 0 }, line = 0;
	const char *p = text, *end = text + len;
	char where[64];

	memset(e, 0, sizeof *e);
	e->env.smtputf8 = -1;
	e->env.allow_partial = true;
	if (len == 0 || len > QUEUE_META_MAX || memchr(text, '\0', len) != NULL ||
	    text[len - 1] != '\n')
		return result_fail(r, RESULT_DATAERR,
				   len == 0 ? _("empty") : len > QUEUE_META_MAX ? _("too large")
				   : text[len - 1] != '\n' ? _("truncated (no newline at the end)")
				   : _("NUL byte"));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		line++;
		if (!meta_line(e, seen, line, p, (size_t)(nl - p), r)) {
			snprintf(where, sizeof where, _("line %u"), line);
			result_prefix(r, where);
			goto fail;
		}
		p = nl + 1;
	}
	for (size_t k = 0; k < M_COUNT; k++) {
		if (meta_keys[k].required && seen[k] == 0) {
			result_fail(r, RESULT_DATAERR, _("no %s line"), meta_keys[k].name);
			goto fail;
		}
	}
	return true;
fail:
	queue_entry_free(e);
	return false;
}
