#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "credentials.h"
#include "deliver.h"
#include "dns.h"
#include "envelope.h"
#include "i18n.h"
#include "log.h"
#include "oauth.h"
#include "providers.h"
#include "rfc5322.h"
#include "sender.h"
#include "smtp.h"

#define PORT_PROBE_TIMEOUT_MS 3000

struct report {
	unsigned pass, warn, fail;
};

static void say(struct report *rep, const char *level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(struct report *rep, const char *level, const char *fmt, ...)
{
	char text[2048], shown[sizeof text * 4];
	va_list ap;

	if (strcmp(level, "PASS") == 0)
		rep->pass++;
	else if (strcmp(level, "WARN") == 0)
		rep->warn++;
	else if (strcmp(level, "FAIL") == 0)
		rep->fail++;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	/* Reports quote the relay, DNS and certificates: text others control. */
	printf("%-5s %s\n", level, log_escape(shown, sizeof shown, text));
}

static void report_config(struct report *rep, const struct account *a)
{
	char value[600];

	say(rep, "PASS", _("configuration: account '%s'"), a->name);
	for (int k = 0; k < KEY_COUNT; k++) {
		const char *source = a->origin[k] ? a->origin[k]
				     : (a->set_mask & KEY_BIT(k)) && a->provider ? a->provider : _("default");

		if (!config_key_value(a, (enum account_key)k, value, sizeof value))
			continue;
		printf("        %-18s = %-34s (%s)\n", config_key_name((enum account_key)k), value, source);
	}
}

/* "open", or why not; one connect with a short timeout. */
static bool probe_port(const char *host, unsigned port, char *why, size_t size)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *list = NULL;
	char service[8];
	bool open_port = false;
	int rc;

	snprintf(service, sizeof service, "%u", port);
	rc = getaddrinfo(host, service, &hints, &list);
	if (rc != 0) {
		snprintf(why, size, "%s", gai_strerror(rc));
		return false;
	}
	snprintf(why, size, "%s", _("no address"));
	for (struct addrinfo *ai = list; ai && !open_port; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct pollfd pfd = { fd, POLLOUT, 0 };
		int err = 0;
		socklen_t len = sizeof err;

		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			open_port = true;
		else if (errno == EINPROGRESS && poll(&pfd, 1, PORT_PROBE_TIMEOUT_MS) == 1 &&
			 getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
			open_port = true;
		else
			snprintf(why, size, "%s", err ? strerror(err) : errno == EINPROGRESS ? _("timed out") : strerror(errno));
		close(fd);
	}
	freeaddrinfo(list);
	return open_port;
}

/* A port number from the environment (tests stand in for 443 with it). */
static unsigned env_port(const char *name, unsigned fallback)
{
	const char *v = getenv(name);
	long p = v && *v ? strtol(v, NULL, 10) : 0;

	return p > 0 && p < 65536 ? (unsigned)p : fallback;
}

/* 587 and 465 are blocked: the other ports the provider documents
 * (RELAYMAIL_CHECK_ALT_PORTS in tests), then 443, which only tells whether
 * web traffic gets out where mail does not.  Returns an SMTP port that
 * works, or 0. */
static unsigned probe_alt_ports(struct report *rep, const struct account *a, const unsigned *tried, unsigned n_tried)
{
	const char *env = getenv("RELAYMAIL_CHECK_ALT_PORTS");
	unsigned alt[8], https = env_port("RELAYMAIL_CHECK_HTTPS_PORT", 443);
	size_t n = 0;
	char why[256];

	if (env != NULL) {
		char *list = strdup(env), *save = NULL;

		for (char *w = list ? strtok_r(list, ",", &save) : NULL; w && n < 8; w = strtok_r(NULL, ",", &save)) {
			long p = strtol(w, NULL, 10);

			if (p > 0 && p < 65536)
				alt[n++] = (unsigned)p;
		}
		free(list);
	} else {
		n = providers_alt_ports(a, alt, 8);
	}
	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		for (unsigned k = 0; k < n_tried; k++)
			seen |= tried[k] == alt[i];
		if (seen)
			continue;
		if (probe_port(a->host, alt[i], why, sizeof why)) {
			printf("        port %-5u %s\n", alt[i], _("reachable"));
			return alt[i];
		}
		printf("        port %-5u %s\n", alt[i], why);
	}
	if (probe_port(a->host, https, why, sizeof why)) {
		printf("        port %-5u %s\n", https, _("reachable"));
		say(rep, "FAIL", _("only port %u (HTTPS) of %s answers: this network lets web traffic out but not mail; "
				   "ask the hosting provider to open port 587, or use a relay that accepts mail on a port that is open"),
		    https, a->host);
	} else {
		printf("        port %-5u %s\n", https, why);
		say(rep, "FAIL", _("no port of %s answers, not even %u (HTTPS): check the host name and the network"),
		    a->host, https);
	}
	return 0;
}

/* The configured port and the standard ones (RELAYMAIL_CHECK_PORTS in tests). */
static void report_ports(struct report *rep, const struct account *a)
{
	unsigned ports[8], n = 0, open_other = 0;
	const char *env = getenv("RELAYMAIL_CHECK_PORTS");
	char why[256], *list, *save = NULL;
	bool configured_open;

	ports[n++] = a->port;
	list = strdup(env && *env ? env : "587,465,25");
	for (char *w = list ? strtok_r(list, ",", &save) : NULL; w && n < 8; w = strtok_r(NULL, ",", &save)) {
		unsigned p = (unsigned)atoi(w);

		if (p > 0 && p < 65536 && p != a->port)
			ports[n++] = p;
	}
	free(list);
	configured_open = probe_port(a->host, a->port, why, sizeof why);
	if (configured_open)
		say(rep, "PASS", _("port %u of %s is reachable"), a->port, a->host);
	else
		say(rep, "FAIL", _("port %u of %s is not reachable: %s"), a->port, a->host, why);
	for (unsigned i = 1; i < n; i++) {
		bool open_port = probe_port(a->host, ports[i], why, sizeof why);

		printf("        port %-5u %s\n", ports[i], open_port ? _("reachable") : why);
		if (open_port && !open_other)
			open_other = ports[i];
	}
	if (!configured_open && !open_other)
		open_other = probe_alt_ports(rep, a, ports, n);
	if (!configured_open && open_other)
		say(rep, "FAIL", _("port %u is blocked (a firewall or the hosting provider?) but %u works: set port = %u%s"),
		    a->port, open_other, open_other, open_other == 465 ? " (tls = implicit)" : "");
}

static void report_tls(struct report *rep, struct tls *tls)
{
	char desc[128], subject[512], issuer[512], shown[512 * 4 + 1];
	long long expires, days;

	if (tls == NULL) {
		say(rep, "WARN", _("TLS: not used (tls = off)"));
		return;
	}
	tls_describe(tls, desc, sizeof desc);
	say(rep, "PASS", _("TLS: %s, certificate verified"), desc);
	if (!tls_peer_info(tls, subject, sizeof subject, issuer, sizeof issuer, &expires))
		return;
	days = (expires - (long long)time(NULL)) / 86400;
	printf("        subject: %s\n", log_escape(shown, sizeof shown, subject));
	printf("        issuer:  %s\n", log_escape(shown, sizeof shown, issuer));
	if (days < CHECK_CERT_WARN_DAYS)
		say(rep, "WARN", _("the relay's certificate expires in %lld days"), days);
	else
		printf(_("        expires in %lld days\n"), days);
}

/* Each address tried (connect.c): the chosen one passes; one that failed
 * while another worked is a warning (a broken IPv6 path, say). */
static void report_attempts(struct report *rep, const struct connect_report *cr)
{
	char line[256];

	for (size_t i = 0; i < cr->n; i++) {
		const char *level = (int)i == cr->chosen ? "PASS"
				    : cr->at[i].outcome == CONNECT_CANCELLED || cr->chosen < 0 ? "INFO" : "WARN";

		say(rep, level, _("connect %s"), connect_describe(cr, i, line, sizeof line));
	}
}

static void report_relay(struct report *rep, const struct account *a, bool verbose)
{
	struct secret secret = { NULL, 0, NULL };
	struct conn c = { .fd = -1 };
	struct smtp_session *s = NULL;
	struct smtp_outcome out;
	struct connect_report attempts;
	struct result r;
	const char *domain = a->domain ? a->domain : "localhost";
	bool connected;

	result_clear(&r);
	if (!credentials_get(a, &secret, &r)) {
		say(rep, "FAIL", _("password: %s"), r.msg);
		return;
	}
	connected = deliver_connect_report(a, verbose, &c, &attempts, &r);
	report_attempts(rep, &attempts);
	if (!connected || !smtp_open(&c, a, &secret, domain, &s, &out, &r)) {
		const char *hint = providers_hint(a, r.msg);

		say(rep, "FAIL", "%s", r.msg);
		if (hint)
			printf("        %s\n", hint);
	} else {
		report_tls(rep, smtp_tls(s));
		say(rep, "PASS", _("EHLO: %s"), smtp_capabilities(s));
		if (secret.data != NULL || secret.oauth != NULL)
			say(rep, "PASS", _("AUTH %s as %s accepted"), out.auth_mechanism, a->user);
		else
			say(rep, "WARN", _("no AUTH (the account has no user)"));
		smtp_close(s);
	}
	conn_close(&c);
	secret_wipe(&secret);
}

static const char *const grant_names[] = { "-", "device_code", "authorization_code", "client_credentials" };

/* The mechanism, the refresh token and the cached access token, without
 * a network request and without showing a token. */
static void report_oauth(struct report *rep, const struct account *a)
{
	struct oauth_state st;
	char when[64], host[160];
	struct tm tm;

	say(rep, "PASS", _("OAuth: grant %s, client %s, token endpoint %s"), grant_names[a->oauth_grant],
	    a->oauth_client_id, oauth_endpoint_host(a->oauth_token_endpoint, host, sizeof host));
	say(rep, "PASS", _("AUTH mechanism: %s"),
	    a->auth == AUTH_CHOICE_XOAUTH2 ? "XOAUTH2" : a->auth == AUTH_CHOICE_OAUTHBEARER ? "OAUTHBEARER"
	    : _("OAUTHBEARER, or XOAUTH2 when the relay offers only that"));
	oauth_describe(a, &st);
	if (st.refresh_present)
		say(rep, "PASS", _("refresh token: %s"), st.refresh_where);
	else
		say(rep, "FAIL", "%s", st.refresh_problem);
	if (st.access_expires == 0) {
		say(rep, "PASS", _("no access token cached: the next send fetches one"));
		return;
	}
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", localtime_r(&st.access_expires, &tm));
	if (st.access_expires > time(NULL))
		say(rep, "PASS", _("access token cached, valid until %s"), when);
	else
		say(rep, "PASS", _("the cached access token expired at %s: the next send renews it"), when);
}

/* Microsoft turns Basic authentication for SMTP AUTH off (MC786329). */
static void report_basic_auth_retirement(struct report *rep, const struct account *a)
{
	if (a->provider == NULL || strcmp(a->provider, "office365") != 0 || a->oauth_grant != OAUTH_GRANT_NONE ||
	    a->user == NULL)
		return;
	say(rep, "WARN", _("Microsoft is retiring Basic authentication (a password) for SMTP AUTH: "
			   "register an application with the SMTP.Send permission, set oauth_client_id "
			   "(and oauth_tenant) in account '%s', then run: relaymail --oauth-login %s"),
	    a->name, a->name);
}

/* The SPF, DMARC and DKIM records of the sender's domain. */
static void report_domain(struct report *rep, const struct account *a, const char *domain)
{
	const char *include = providers_spf_include(a);
	struct dns_txt txt;
	char name[512], why[256], needle[300];
	const char *spf = NULL, *dmarc = NULL;

	if (dns_lookup_txt(domain, &txt, why, sizeof why) == DNS_ERROR)
		say(rep, "WARN", _("SPF of %s: %s"), domain, why);
	for (size_t i = 0; i < txt.n; i++) {
		if (strncasecmp(txt.records[i], "v=spf1", 6) == 0)
			spf = txt.records[i];
	}
	snprintf(needle, sizeof needle, "include:%s", include ? include : "");
	if (spf == NULL)
		say(rep, "WARN", _("%s has no SPF record: receivers may treat its mail as spam"), domain);
	else if (include != NULL && strcasestr(spf, needle) == NULL)
		say(rep, "WARN", _("SPF of %s does not authorize %s (add %s): \"%s\""), domain, a->provider,
		    needle, spf);
	else
		say(rep, "PASS", _("SPF of %s: \"%s\""), domain, spf);
	dns_txt_free(&txt);

	snprintf(name, sizeof name, "_dmarc.%s", domain);
	if (dns_lookup_txt(name, &txt, why, sizeof why) == DNS_ERROR)
		say(rep, "WARN", _("DMARC of %s: %s"), domain, why);
	for (size_t i = 0; i < txt.n; i++) {
		if (strncasecmp(txt.records[i], "v=DMARC1", 8) == 0)
			dmarc = txt.records[i];
	}
	if (dmarc == NULL)
		say(rep, "WARN", _("%s has no DMARC record (%s)"), domain, name);
	else
		say(rep, "PASS", _("DMARC of %s: \"%s\""), domain, dmarc);
	dns_txt_free(&txt);

	if (a->dkim_selector == NULL)
		return;
	snprintf(name, sizeof name, "%s._domainkey.%s", a->dkim_selector, domain);
	if (dns_lookup_txt(name, &txt, why, sizeof why) == DNS_FOUND && txt.n > 0 &&
	    strstr(txt.records[0], "p=") != NULL)
		say(rep, "PASS", _("DKIM key %s found"), name);
	else
		say(rep, "WARN", _("no DKIM key at %s"), name);
	dns_txt_free(&txt);
}

/* Bare names (root, www-data) need a domain; never a host name without a
 * dot (root@web1 is refused by relays). */
static void report_qualify(struct report *rep, const struct account *a)
{
	char domain[256];
	const char *source;

	if (envelope_qualify_domain(a, domain, sizeof domain, &source))
		say(rep, "PASS", _("bare names such as root are qualified with %s (%s)"), domain, source);
	else
		say(rep, "WARN", _("bare names such as root cannot be qualified: set domain, or write the mail domain to %s (the host name '%s' has no dot)"),
		    MAILNAME_FILE, domain);
}

static const char *sender_domain(const struct account *a)
{
	const char *at = a->from ? strrchr(a->from, '@') : NULL;

	return at ? at + 1 : a->domain;
}

bool check_run(const struct config *cfg, const char *account, bool verbose)
{
	struct report rep = { 0, 0, 0 };
	struct account a;
	struct result r;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *list = NULL;
	char where[1024], addr[NI_MAXHOST];
	int rc;

	result_clear(&r);
	if (!config_account_resolve(cfg, account, &a, &r)) {
		say(&rep, "FAIL", _("configuration: %s"), r.msg);
		goto out;
	}
	report_config(&rep, &a);
	if (a.oauth_grant != OAUTH_GRANT_NONE)
		report_oauth(&rep, &a);
	else if (credentials_describe(&a, where, sizeof where, &r))
		say(&rep, "PASS", _("password from: %s"), where);
	else
		say(&rep, "FAIL", _("password: %s"), r.msg);
	report_basic_auth_retirement(&rep, &a);
	if (a.proxy != NULL) {
		say(&rep, "INFO", _("through proxy %s, which resolves the relay's name"), a.proxy);
		report_relay(&rep, &a, verbose);
	} else if ((rc = getaddrinfo(a.host, NULL, &hints, &list)) != 0) {
		say(&rep, "FAIL", _("relay host %s does not resolve: %s"), a.host, gai_strerror(rc));
	} else {
		getnameinfo(list->ai_addr, list->ai_addrlen, addr, sizeof addr, NULL, 0, NI_NUMERICHOST);
		say(&rep, "PASS", _("relay host %s resolves to %s"), a.host, addr);
		freeaddrinfo(list);
		report_ports(&rep, &a);
		report_relay(&rep, &a, verbose);
	}
	if (sender_domain(&a) != NULL)
		report_domain(&rep, &a, sender_domain(&a));
	else
		say(&rep, "WARN", _("no sender domain to check (set from or domain)"));
	report_qualify(&rep, &a);
out:
	printf(_("%u passed, %u warnings, %u failed\n"), rep.pass, rep.warn, rep.fail);
	return rep.fail == 0;
}

/* The envelope sender a message with -f address would get from acct. */
static void report_sender_policy(struct report *rep, const struct config *cfg, const char *account,
				 const char *addr)
{
	struct account a;
	struct result r;

	result_clear(&r);
	if (!config_account_resolve(cfg, account, &a, &r))
		return;         /* check_run() says why */
	if (!a.allow_from_override)
		say(rep, "INFO", _("account '%s' sets allow_from_override = no: -f %s is ignored; the envelope sender is %s"),
		    a.name, addr, a.from ? a.from : _("the login name"));
	else if (a.from_list != NULL && sender_list_match(a.from_list, addr, NULL, 0) == SENDER_MATCH_NONE)
		say(rep, "WARN", _("%s is not in the from of account '%s' (%s): the relay may refuse it"),
		    addr, a.name, a.from_list);
}

bool check_sender(const struct config *cfg, const char *address, const char **account)
{
	struct report rep = { 0, 0, 0 };
	char addr[ADDRESS_MAX + 1], why[2 * ADDRESS_MAX + 256];
	const char *chosen;
	struct result r;

	result_clear(&r);
	if (!sender_parse_given(address, addr, sizeof addr, &r) || addr[0] == '\0' ||
	    strchr(addr, '@') == NULL) {
		say(&rep, "FAIL", _("--sender %s: not an address such as alice@example.com"), address);
		return false;
	}
	chosen = sender_choose_account(cfg, addr, why, sizeof why);
	if (*account != NULL)
		say(&rep, "INFO", _("--account %s is given: it is used whatever the sender"), *account);
	else if (!cfg->account_by_sender) {
		say(&rep, "INFO", _("account_by_sender is off in [defaults]: every message uses the default account"));
		if (chosen != NULL)
			say(&rep, "INFO", _("with account_by_sender = yes: %s"), why);
	} else {
		say(&rep, "INFO", _("account_by_sender (%s): %s"),
		    cfg->account_by_sender_origin ? cfg->account_by_sender_origin : "?", why);
		*account = chosen;
	}
	report_sender_policy(&rep, cfg, *account, addr);
	return true;
}
