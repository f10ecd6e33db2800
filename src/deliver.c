#include "autoconfig.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "deliver.h"
#include "i18n.h"
#include "log.h"
#include "net.h"
#include "proxy.h"

/* After the tunnel is up, a failure is the relay's: say so and which
 * proxy it was reached through. */
bool deliver_relay_hop(const struct account *acct, struct result *r)
{
	struct proxy_url url;
	char prefix[700], label[300], why[256];

	if (acct->proxy == NULL || r->cls == RESULT_OK || !proxy_parse(acct->proxy, &url, why, sizeof why))
		return false;
	/* TRANSLATORS: "relay smtp.example.com:587 (through proxy proxy.example:1080)" */
	snprintf(prefix, sizeof prefix, _("relay %s:%u (through %s)"), acct->host, acct->port,
		 proxy_label(&url, label, sizeof label));
	return result_prefix(r, prefix);
}

bool deliver_connect_report(const struct account *acct, bool verbose, struct conn *c,
			    struct connect_report *rep, struct result *r)
{
	struct tls_params tls = {
		.hostname = acct->host,         /* also through a proxy: end to end */
		.ca_file = acct->tls_ca_file,
		.verify = acct->tls_verify,
		.timeout_s = acct->timeout,
		.cache_file = acct->tls_cache_file,
	};
	struct connect_params cp = {
		.family = acct->ip_family,
		.source_ip = acct->source_ip,
		.timeout_s = acct->connect_timeout,
	};
	bool ok;
	int fd;

	if (acct->proxy != NULL)
		ok = proxy_connect(acct, &cp, verbose, &fd, rep, r);
	else
		ok = net_connect(acct->host, acct->port, &cp, NULL, &fd, rep, r);
	if (verbose)
		connect_report_trace(rep);
	if (!ok || !conn_init(c, fd, acct->timeout, verbose, r))
		return false;
	if (acct->tls != TLS_MODE_IMPLICIT || conn_starttls(c, &tls, r))
		return true;
	return deliver_relay_hop(acct, r);
}

bool deliver_connect(const struct account *acct, bool verbose, struct conn *c, struct result *r)
{
	struct connect_report rep;

	return deliver_connect_report(acct, verbose, c, &rep, r);
}

void deliver_log(struct eventlog *log, const struct account *acct, const struct envelope *env,
		 const struct message *msg, const struct smtp_outcome *out,
		 const struct timespec *start)
{
	struct timespec end;
	char id[256];
	struct event e = {
		.kind = "sent", .env = env, .acct = acct, .tls = out->tls,
		.auth = out->auth_mechanism, .size = (long long)message_wire_size(msg),
		.reply = out->final_reply,
	};

	clock_gettime(CLOCK_MONOTONIC, &end);
	e.duration_ms = (end.tv_sec - start->tv_sec) * 1000 + (end.tv_nsec - start->tv_nsec) / 1000000;
	e.message_id = message_id(msg, id, sizeof id);
	eventlog_write(log, &e);
}

bool deliver(const struct account *acct, const struct secret *secret,
	     const struct envelope *env, const struct message *msg, bool verbose,
	     struct eventlog *log, struct smtp_outcome *out, struct result *r)
{
	struct conn c = { .fd = -1 };
	struct timespec start;
	bool ok;

	memset(out, 0, sizeof *out);
	if (!acct->tls_verify)
		log_warn(_("tls_verify = no for account '%s': the relay's certificate is not checked"),
			 acct->name);
	clock_gettime(CLOCK_MONOTONIC, &start);
	ok = deliver_connect(acct, verbose, &c, r);
	if (ok && !smtp_submit(&c, acct, secret, env, msg, out, r))
		ok = deliver_relay_hop(acct, r);
	conn_close(&c);
	if (ok)
		deliver_log(log, acct, env, msg, out, &start);
	return ok;
}
