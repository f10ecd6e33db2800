#include "autoconfig.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "envelope.h"
#include "header_fix.h"
#include "i18n.h"

static char *choose_domain(const struct account *acct)
{
	char host[256];

	if (acct->domain != NULL)
		return strdup(acct->domain);
	if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
		return strdup("localhost");
	host[sizeof host - 1] = '\0';
	return strdup(host);
}

static const struct passwd *current_user(void)
{
	return getpwuid(getuid());
}

#define ALIAS_DEPTH 8

static bool add_from_text_depth(const struct account *acct, struct address_list *list,
				const char *domain, const char *text, size_t len, int depth,
				struct result *r);

/* "root" becomes the [aliases] entry for root, or "root@domain"; anything
 * with '@' stays as it is. */
static bool add_qualified(const struct account *acct, struct address_list *list,
			  const char *addr, const char *domain, int depth, struct result *r);

bool envelope_expand_address(const struct account *acct, const char *addr, const char *domain,
			     struct address_list *list, struct result *r)
{
	return add_qualified(acct, list, addr, domain, 0, r);
}

static bool add_qualified(const struct account *acct, struct address_list *list,
			  const char *addr, const char *domain, int depth, struct result *r)
{
	char buf[ADDRESS_MAX + 1];
	const char *alias;
	int n;

	if (strchr(addr, '@') != NULL)
		return address_list_add(list, addr, r);
	alias = config_alias(acct, addr);
	if (alias != NULL) {
		if (depth >= ALIAS_DEPTH)
			return result_fail(r, RESULT_CONFIG, _("alias '%s' loops"), addr);
		return add_from_text_depth(acct, list, domain, alias, strlen(alias), depth + 1, r);
	}
	n = snprintf(buf, sizeof buf, "%s@%s", addr, domain);
	if (n < 0 || (size_t)n >= sizeof buf)
		return result_fail(r, RESULT_DATAERR, _("address longer than %d characters"), ADDRESS_MAX);
	return address_list_add(list, buf, r);
}

struct expansion {
	const struct account *acct;
	struct address_list *list;
	const char *domain;
	int depth;
};

/* Each address as the parser finds it, so that a list over the limit is
 * refused as soon as it passes it, not after it has been built whole. */
static bool expand_one(const char *addr, size_t start, size_t len, void *data, struct result *r)
{
	struct expansion *x = data;

	(void)start;
	(void)len;
	if (!add_qualified(x->acct, x->list, addr, x->domain, x->depth, r))
		return false;
	if (x->list->n > ENVELOPE_MAX_RECIPIENTS)
		return result_fail(r, RESULT_USAGE, _("too many recipients (limit %d)"),
				   ENVELOPE_MAX_RECIPIENTS);
	return true;
}

static bool add_from_text_depth(const struct account *acct, struct address_list *list,
				const char *domain, const char *text, size_t len, int depth,
				struct result *r)
{
	struct expansion x = { acct, list, domain, depth };

	return rfc5322_scan_address_list(text, len, expand_one, &x, r);
}

static bool add_from_text(const struct account *acct, struct envelope *env, const char *text,
			  size_t len, struct result *r)
{
	return add_from_text_depth(acct, &env->recipients, env->domain, text, len, 0, r);
}

/* -t: To/Cc/Bcc, or only the Resent- forms when the message was resent. */
static bool add_header_recipients(const struct account *acct, struct envelope *env,
				  const struct message *msg, struct result *r)
{
	static const char *const plain[] = { "To", "Cc", "Bcc" };
	static const char *const resent[] = { "Resent-To", "Resent-Cc", "Resent-Bcc" };
	const char *const *names = plain;

	for (size_t i = 0; i < 3; i++) {
		if (message_find(msg, resent[i], 0) >= 0)
			names = resent;
	}
	for (size_t i = 0; i < msg->n_headers; i++) {
		const struct header *h = &msg->headers[i];

		for (size_t k = 0; k < 3; k++) {
			size_t len;
			const char *value;

			if (!message_header_is(h, names[k]))
				continue;
			value = message_header_value(h, &len);
			if (!add_from_text(acct, env, value, len, r)) {
				if (r->cls != RESULT_USAGE)     /* too many recipients */
					r->cls = RESULT_DATAERR;
				return result_prefix(r, names[k]);
			}
		}
	}
	return true;
}

/* A bare sender ("root", "fail2ban") goes through [aliases] too; an alias
 * to several addresses gives its first. */
static bool qualify_sender(const struct account *acct, struct envelope *env, const char *name,
			   struct result *r)
{
	struct address_list one = { 0 };

	if (!add_qualified(acct, &one, name, env->domain, 0, r))
		return false;
	env->sender = one.n > 0 ? strdup(one.items[0]) : NULL;
	address_list_free(&one);
	if (env->sender == NULL) {
		result_fail(r, RESULT_USAGE, _("invalid sender address '%s'"), name);
		return false;   /* spelled out: the analyzer cannot see result_fail() */
	}
	return true;
}

static bool build_sender(const struct options *opts, const struct account *acct,
			 struct envelope *env, struct result *r)
{
	const struct passwd *pw;
	const char *given = opts->sender ? opts->sender : acct->from;

	if (given != NULL) {
		if (!rfc5322_address_is_safe(given) || strpbrk(given, " <>") != NULL)
			return result_fail(r, RESULT_USAGE, _("invalid sender address '%s'"), given);
		if (*given == '\0' || strchr(given, '@') != NULL)
			env->sender = strdup(given);
		else
			return qualify_sender(acct, env, given, r);
	} else if (opts->caller_user != NULL) {
		return qualify_sender(acct, env, opts->caller_user, r);
	} else {
		pw = current_user();
		return qualify_sender(acct, env, pw ? pw->pw_name : "nobody", r);
	}
	if (env->sender == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	return true;
}

static const char *sender_full_name(const struct options *opts)
{
	const struct passwd *pw;

	if (opts->fullname != NULL)
		return opts->fullname;
	/* The service's caller, not the service user (and no getpwuid() in
	 * its threads). */
	if (opts->caller_user != NULL)
		return opts->caller_gecos != NULL && *opts->caller_gecos ? opts->caller_gecos : NULL;
	pw = current_user();
	if (pw == NULL || pw->pw_gecos == NULL || pw->pw_gecos[0] == '\0')
		return NULL;
	return pw->pw_gecos;
}

/* Never transmitted (Postfix's message_drop_headers): blind copies, and
 * headers the relay or the receiver sets. */
static void drop_private_headers(struct message *msg)
{
	static const char *const dropped[] = { "Bcc", "Resent-Bcc", "Return-Path", "Content-Length" };

	for (size_t i = 0; i < msg->n_headers; i++) {
		for (size_t k = 0; k < sizeof dropped / sizeof dropped[0]; k++) {
			if (message_header_is(&msg->headers[i], dropped[k]))
				msg->headers[i].omit = true;
		}
	}
}

static bool add_missing_headers(const struct options *opts, struct envelope *env,
				struct message *msg, struct result *r)
{
	char buf[2048], gecos[256], daemon[300];
	unsigned char random[12];
	time_t now = time(NULL);
	const char *name;

	if (message_find(msg, "Date", 0) < 0) {
		if (!rfc5322_format_date(now, buf, sizeof buf) ||
		    !message_add_header(msg, "Date", buf, r))
			return result_fail(r, RESULT_SOFTWARE, _("cannot add a Date header"));
	}
	if (message_find(msg, "Message-ID", 0) < 0) {
		if (gnutls_rnd(GNUTLS_RND_NONCE, random, sizeof random) != 0 ||
		    !rfc5322_format_message_id(now, random, sizeof random, env->domain, buf, sizeof buf) ||
		    !message_add_header(msg, "Message-ID", buf, r))
			return result_fail(r, RESULT_SOFTWARE, _("cannot add a Message-ID header"));
	}
	if (message_find(msg, "From", 0) < 0) {
		name = sender_full_name(opts);
		/* gecos holds "Full Name,room,phone,...": only the name counts. */
		if (snprintf(gecos, sizeof gecos, "%s", name ? name : "") >= (int)sizeof gecos)
			rfc5322_utf8_trim_partial(gecos);
		if (opts->fullname == NULL)
			gecos[strcspn(gecos, ",")] = '\0';
		snprintf(daemon, sizeof daemon, "MAILER-DAEMON@%s", env->domain);
		if (!rfc5322_format_mailbox(gecos, *env->sender ? env->sender : daemon, buf, sizeof buf) ||
		    !message_add_header(msg, "From", buf, r))
			return result_fail(r, RESULT_SOFTWARE, _("cannot add a From header"));
	}
	return true;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s & 0x80)
			return false;
	}
	return true;
}

/* RFC 6531: a UTF-8 mailbox can only travel with SMTPUTF8. */
static bool note_utf8_addresses(struct envelope *env)
{
	if (!is_ascii(env->sender))
		env->needs_smtputf8 = true;
	for (size_t i = 0; i < env->recipients.n; i++) {
		if (!is_ascii(env->recipients.items[i]))
			env->needs_smtputf8 = true;
	}
	return true;
}

bool envelope_build(const struct options *opts, const struct account *acct,
		    struct message *msg, struct envelope *env, struct result *r)
{
	memset(env, 0, sizeof *env);
	env->domain = choose_domain(acct);
	if (env->domain == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	if (!build_sender(opts, acct, env, r))
		return false;
	for (size_t i = 0; i < opts->n_recipients; i++) {
		const char *arg = opts->recipients[i];

		if (!add_from_text(acct, env, arg, strlen(arg), r)) {
			if (r->cls != RESULT_DATAERR)
				return false;   /* alias loop, too many: not this argument's fault */
			return result_fail(r, RESULT_USAGE, _("invalid recipient '%s'"), arg);
		}
	}
	if (opts->extract_recipients && !add_header_recipients(acct, env, msg, r))
		return false;
	if (env->recipients.n == 0)
		return result_fail(r, RESULT_USAGE, _("no recipients: give them as arguments or use -t"));
	env->body_8bit = opts->body_8bit || msg->eight_bit;
	env->dsn_notify = opts->dsn_notify;
	env->dsn_ret = opts->dsn_ret;
	env->dsn_envid = opts->dsn_envid;
	env->allow_partial = true;
	drop_private_headers(msg);
	env->smtputf8 = opts->smtputf8;
	return header_fix_from_policy(acct, env->domain, msg, r) &&
	       header_fix_addresses(acct, env->domain, msg, r) &&
	       add_missing_headers(opts, env, msg, r) &&
	       header_fix_encode_8bit(msg, &env->needs_smtputf8, r) &&
	       header_fix_fold(msg, r) && note_utf8_addresses(env);
}

void envelope_free(struct envelope *env)
{
	free(env->sender);
	free(env->domain);
	address_list_free(&env->recipients);
	memset(env, 0, sizeof *env);
}
