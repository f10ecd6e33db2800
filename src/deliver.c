#include "autoconfig.h"

#include <stdint.h>
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
	};
	int fd;

	if (!net_connect(acct->host, acct->port, acct->timeout, &fd, r))
		return false;
	if (!conn_init(c, fd, acct->timeout, verbose, r))
		return false;
	return acct->tls != TLS_MODE_IMPLICIT || conn_starttls(c, &tls, r);
}

static void log_delivery(const struct account *acct, const struct envelope *env,
			 const struct message *msg, const struct smtp_outcome *out,
			 const struct timespec *start)
{
	struct timespec end;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &end);
	ms = (end.tv_sec - start->tv_sec) * 1000 + (end.tv_nsec - start->tv_nsec) / 1000000;
	log_info("sent from=<%s> rcpts=%zu first=<%s> account=%s relay=%s:%u tls=%s auth=%s size=%jd ms=%ld reply=%s",
		 env->sender, env->recipients.n, env->recipients.items[0], acct->name, acct->host,
		 acct->port, out->tls[0] ? out->tls : "none",
		 out->auth_mechanism ? out->auth_mechanism : "none",
		 (intmax_t)message_wire_size(msg), ms, out->final_reply);
}

bool deliver(const struct account *acct, const struct secret *secret,
	     const struct envelope *env, const struct message *msg, bool verbose,
	     struct smtp_outcome *out, struct result *r)
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
		log_delivery(acct, env, msg, out, &start);
	return ok;
}
