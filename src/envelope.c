#include "autoconfig.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "aliases_file.h"
#include "envelope.h"
#include "header_fix.h"
#include "i18n.h"
#include "log.h"
#include "rfc5322.h"
#include "sender.h"

/* A domain that may qualify addresses: a dot inside, host name characters
 * only.  "web1" is not one: root@web1 is refused by every relay. */
static bool is_mail_domain(const char *name)
{
	size_t len = strlen(name);

	return len > 2 && len < 254 && strchr(name, '.') != NULL && name[0] != '.' &&
	       name[len - 1] != '.' &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == len;
}

/* The first line of /etc/mailname, as Debian's MTAs read it. */
static bool read_mailname(char *buf, size_t size)
{
	FILE *f = fopen(MAILNAME_FILE, "re");
	bool ok;

	if (f == NULL)
		return false;
	ok = fgets(buf, (int)size, f) != NULL;
	fclose(f);
	if (!ok)
		return false;
	buf[strcspn(buf, " \t\r\n")] = '\0';
	return is_mail_domain(buf);
}

static void host_name(char *buf, size_t size)
{
	if (gethostname(buf, size) != 0)
		buf[0] = '\0';
	buf[size - 1] = '\0';
}

bool envelope_qualify_domain(const struct account *acct, char *buf, size_t size, const char **source)
{
	if (acct->domain != NULL) {
		snprintf(buf, size, "%s", acct->domain);
		*source = "domain";
		return true;
	}
	*source = MAILNAME_FILE;
	if (read_mailname(buf, size))
		return true;
	host_name(buf, size);
	*source = "host name";
	return is_mail_domain(buf);
}

/* The domain that qualifies bare names: domain, else /etc/mailname, else
 * the host name when it has a dot.  NULL when there is none. */
static char *qualify_domain(const struct account *acct)
{
	char name[256];
	const char *source;

	return envelope_qualify_domain(acct, name, sizeof name, &source) ? strdup(name) : NULL;
}

/* For EHLO and Message-ID: the qualifying domain, else the sender's, else
 * the host name. */
static char *plain_domain(const struct envelope *env)
{
	const char *at = env->sender != NULL ? strrchr(env->sender, '@') : NULL;
	char name[256];

	if (env->qualify_domain != NULL)
		return strdup(env->qualify_domain);
	if (at != NULL && at[1] != '\0')
		return strdup(at + 1);
	host_name(name, sizeof name);
	return strdup(name[0] != '\0' ? name : "localhost");
}

/* Qualifying needs a domain; say which setting gives one. */
static bool no_domain(const struct account *acct, const char *addr, struct result *r)
{
	char host[256];

	host_name(host, sizeof host);
	return result_fail(r, RESULT_CONFIG,
			   _("cannot qualify '%s': set domain in account '%s', write the mail domain to %s, or add '%s' to [aliases] (the host name '%s' has no dot)"),
			   addr, acct->name ? acct->name : "?", MAILNAME_FILE, addr, host);
}

static bool no_sender_domain(const struct account *acct, const char *name, struct result *r)
{
	char host[256];

	host_name(host, sizeof host);
	return result_fail(r, RESULT_CONFIG,
			   _("no sender address for '%s': set from or domain in account '%s', or write the mail domain to %s (the host name '%s' has no dot)"),
			   name, acct->name ? acct->name : "?", MAILNAME_FILE, host);
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
	/* [aliases] first, then aliases_file (aliases_file.h). */
	if (alias == NULL && !aliases_file_lookup(acct->alias_table, addr, &alias, r))
		return false;
	if (alias != NULL) {
		if (depth >= ALIAS_DEPTH)
			return result_fail(r, RESULT_CONFIG, _("alias '%s' loops"), addr);
		return add_from_text_depth(acct, list, domain, alias, strlen(alias), depth + 1, r);
	}
	if (domain == NULL)
		return no_domain(acct, addr, r);
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
	return add_from_text_depth(acct, &env->recipients, env->qualify_domain, text, len, 0, r);
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

	if (env->qualify_domain == NULL && config_alias(acct, name) == NULL)
		return no_sender_domain(acct, name, r);
	if (!add_qualified(acct, &one, name, env->qualify_domain, 0, r))
		return false;
	env->sender = one.n > 0 ? strdup(one.items[0]) : NULL;
	address_list_free(&one);
	if (env->sender == NULL) {
		result_fail(r, RESULT_USAGE, _("invalid sender address '%s'"), name);
		return false;   /* spelled out: the analyzer cannot see result_fail() */
	}
	return true;
}

static bool set_sender(const struct account *acct, struct envelope *env, const char *given,
		       struct result *r)
{
	if (!rfc5322_address_is_safe(given) || strpbrk(given, " <>") != NULL)
		return result_fail(r, RESULT_USAGE, _("invalid sender address '%s'"), given);
	if (*given != '\0' && strchr(given, '@') == NULL)
		return qualify_sender(acct, env, given, r);
	env->sender = strdup(given);
	if (env->sender == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	return true;
}

/* MAIL FROM: -f unless the account sets allow_from_override = no; else
 * From:/Sender: with envelope_from = header; else the account's from (an
 * account whose from has only patterns: the From: address they match);
 * else the login name. */
static bool build_sender(const struct options *opts, const struct account *acct,
			 const struct message *msg, struct envelope *env, struct result *r)
{
	char given[ADDRESS_MAX + 1], header[ADDRESS_MAX + 1];
	const struct passwd *pw;
	const char *use = NULL;

	if (opts->sender != NULL && !acct->allow_from_override) {
		/* Callers are not told: their mail goes out all the same. */
		log_info(_("-f %s ignored: account '%s' sets allow_from_override = no"), opts->sender,
			 acct->name ? acct->name : "?");
	} else if (opts->sender != NULL) {
		if (!sender_parse_given(opts->sender, given, sizeof given, r))
			return false;
		use = given;
	}
	if (use == NULL && sender_from_headers(msg, header, sizeof header) &&
	    (acct->envelope_from == ENVELOPE_FROM_HEADER ||
	     (acct->from == NULL && sender_list_match(acct->from_list, header, NULL, 0) != SENDER_MATCH_NONE)))
		use = header;
	if (use == NULL)
		use = acct->from;
	if (use == NULL && opts->caller_user != NULL)
		use = opts->caller_user;
	if (use == NULL) {
		pw = current_user();
		use = pw ? pw->pw_name : "nobody";
	}
	return set_sender(acct, env, use, r);
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
	char buf[2048];
	unsigned char random[12];
	time_t now = time(NULL);

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
	return header_fix_add_from(opts, env, msg, r);
}

/* RFC 6531: a UTF-8 mailbox can only travel with SMTPUTF8. */
static bool note_utf8_addresses(struct envelope *env)
{
	if (rfc5322_has_8bit(env->sender, strlen(env->sender)))
		env->needs_smtputf8 = true;
	for (size_t i = 0; i < env->recipients.n; i++) {
		if (rfc5322_has_8bit(env->recipients.items[i], strlen(env->recipients.items[i])))
			env->needs_smtputf8 = true;
	}
	return true;
}

/* from_policy = always: a From: that the account's from list allows
 * (*@example.org) stays as it is. */
static bool fix_from(const struct account *acct, const char *domain, struct message *msg,
		     struct result *r)
{
	char from[ADDRESS_MAX + 1];

	if (acct->from_policy == FROM_POLICY_ALWAYS && sender_header_address(msg, "From", from, sizeof from) &&
	    sender_list_match(acct->from_list, from, NULL, 0) != SENDER_MATCH_NONE)
		return true;
	return header_fix_from_policy(acct, domain, msg, r);
}

bool envelope_build(const struct options *opts, const struct account *acct,
		    struct message *msg, struct envelope *env, struct result *r)
{
	memset(env, 0, sizeof *env);
	env->qualify_domain = qualify_domain(acct);
	if (!build_sender(opts, acct, msg, env, r))
		return false;
	env->domain = plain_domain(env);
	if (env->domain == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
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
	if (env->recipients.n == 0 && opts->extract_recipients)
		return result_fail(r, RESULT_USAGE, _("no recipients: -t found no address in the To:, Cc: and Bcc: headers"));
	if (env->recipients.n == 0)
		return result_fail(r, RESULT_USAGE, _("no recipients: give them as arguments or use -t"));
	env->body_8bit = opts->body_8bit || msg->eight_bit;
	env->dsn_notify = opts->dsn_notify;
	env->dsn_ret = opts->dsn_ret;
	env->dsn_envid = opts->dsn_envid;
	env->allow_partial = true;
	drop_private_headers(msg);
	env->smtputf8 = opts->smtputf8;
	return fix_from(acct, env->qualify_domain, msg, r) &&
	       header_fix_addresses(acct, env->qualify_domain, msg, r) &&
	       add_missing_headers(opts, env, msg, r) &&
	       header_fix_encode_8bit(msg, &env->needs_smtputf8, r) &&
	       header_fix_fold(msg, r) && note_utf8_addresses(env);
}

void envelope_free(struct envelope *env)
{
	free(env->sender);
	free(env->domain);
	free(env->qualify_domain);
	address_list_free(&env->recipients);
	memset(env, 0, sizeof *env);
}
