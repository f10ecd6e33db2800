#include "autoconfig.h"

#include <string.h>
#include <time.h>

#include "conn.h"
#include "deliver.h"
#include "i18n.h"
#include "log.h"
#include "net.h"

bool deliver_connect(const struct account *acct, bool verbose, struct conn *c, struct result *r)
{
	struct tls_params tls = {
		.hostname = acct->host,
		.ca_file = acct->tls_ca_file,
		.verify = acct->tls_verify,
		.timeout_s = acct->timeout,
		.cache_file = acct->tls_cache_file,
	};
	int fd;

	if (!net_connect(acct->host, acct->port, acct->timeout, &fd, r))
		return false;
	if (!conn_init(c, fd, acct->timeout, verbose, r))
		return false;
	return acct->tls != TLS_MODE_IMPLICIT || conn_starttls(c, &tls, r);
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
	ok = deliver_connect(acct, verbose, &c, r) && smtp_submit(&c, acct, secret, env, msg, out, r);
	conn_close(&c);
	if (ok)
		deliver_log(log, acct, env, msg, out, &start);
	return ok;
}
