/* relaymail: read one message on stdin and submit it to the configured relay.
 * Only the order of the stages lives here (see DESIGN.md, "Data flow"). */
#include "autoconfig.h"

#include <limits.h>
#include <stdint.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "credentials.h"
#include "envelope.h"
#include "i18n.h"
#include "keyring.h"
#include "log.h"
#include "message.h"
#include "net.h"
#include "options.h"
#include "result.h"
#include "smtp.h"

static bool load_account(const struct options *opts, struct config *cfg, struct account *acct,
			 struct result *r)
{
	char user_path[PATH_MAX];
	const char *user_file = opts->config_file ? opts->config_file : getenv("RELAYMAIL_CONFIG");
	bool explicit_file = user_file != NULL && *user_file != '\0';

	if (!explicit_file)
		user_file = config_user_path(user_path, sizeof user_path) ? user_path : NULL;
	return config_load(cfg, SYSCONFDIR "/relaymail.conf", user_file, explicit_file, r) &&
	       config_account_resolve(cfg, opts->account, acct, r);
}

static bool connect_relay(const struct account *acct, bool verbose, struct conn *c,
			  struct result *r)
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

static int run_send(const struct options *opts)
{
	struct config cfg;
	struct account acct;
	struct message msg = { .spool_fd = -1 };
	struct envelope env = { 0 };
	struct secret secret = { NULL, 0 };
	struct conn c = { .fd = -1 };
	struct smtp_outcome outcome;
	struct message_read_opts read_opts = { .ignore_dots = opts->ignore_dots };
	struct result r;
	struct timespec start;

	result_clear(&r);
	config_init(&cfg);
	read_opts.spool_dir = getenv("TMPDIR");
	if (read_opts.spool_dir == NULL || *read_opts.spool_dir == '\0')
		read_opts.spool_dir = "/tmp";
	if (!load_account(opts, &cfg, &acct, &r) ||
	    !message_read(STDIN_FILENO, &read_opts, &msg, &r) ||
	    !envelope_build(opts, &acct, &msg, &env, &r))
		goto out;
	if (!acct.tls_verify)
		log_warn(_("tls_verify = no for account '%s': the relay's certificate is not checked"),
			 acct.name);
	if (!credentials_get(&acct, &secret, &r))
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (connect_relay(&acct, opts->verbose, &c, &r) &&
	    smtp_submit(&c, &acct, &secret, &env, &msg, &outcome, &r))
		log_delivery(&acct, &env, &msg, &outcome, &start);
out:
	if (r.cls != RESULT_OK)
		log_error("%s", r.msg);
	secret_wipe(&secret);
	conn_close(&c);
	envelope_free(&env);
	message_free(&msg);
	config_free(&cfg);
	return result_exitcode(r.cls);
}

/* --set-password, --forget-password, --show-credential-source */
static int run_credential_mode(const struct options *opts)
{
	struct config cfg;
	struct account acct;
	struct secret secret = { NULL, 0 };
	struct result r;
	char where[1024];
	bool removed;

	result_clear(&r);
	config_init(&cfg);
	if (!load_account(opts, &cfg, &acct, &r))
		goto out;
	if (acct.user == NULL && opts->mode != MODE_SHOW_CREDENTIAL) {
		result_fail(&r, RESULT_CONFIG, _("account '%s' has no user; it needs no password"), acct.name);
		goto out;
	}
	switch (opts->mode) {
	case MODE_SET_PASSWORD:
		if (credentials_read_new(&secret, &r))
			keyring_store(&acct, secret.data, &r);
		break;
	case MODE_FORGET_PASSWORD:
		if (keyring_forget(&acct, &removed, &r) && !removed)
			result_fail(&r, RESULT_CONFIG, _("the keyring holds no relaymail password for account '%s'"),
				    acct.name);
		break;
	default:
		if (credentials_describe(&acct, where, sizeof where, &r))
			printf("%s\n", where);
		break;
	}
out:
	if (r.cls != RESULT_OK)
		log_error("%s", r.msg);
	secret_wipe(&secret);
	config_free(&cfg);
	return result_exitcode(r.cls);
}

int main(int argc, char **argv)
{
	struct options opts;
	struct result r;

	setlocale(LC_ALL, "");
	bindtextdomain(PACKAGE, LOCALEDIR);
	textdomain(PACKAGE);
	/* A relay that closes early must give an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	umask(077);
	openlog("relaymail", LOG_PID, LOG_MAIL);
	result_clear(&r);
	if (!options_parse(argc, argv, &opts, &r)) {
		log_error("%s", r.msg);
		fprintf(stderr, _("Try 'relaymail --help' for more information.\n"));
		return result_exitcode(r.cls);
	}
	switch (opts.mode) {
	case MODE_VERSION:
		printf("relaymail %s\n", PACKAGE_VERSION);
		return 0;
	case MODE_HELP:
		options_usage("relaymail");
		return 0;
	case MODE_SET_PASSWORD:
	case MODE_FORGET_PASSWORD:
	case MODE_SHOW_CREDENTIAL:
		return run_credential_mode(&opts);
	case MODE_SEND:
		break;
	}
	return run_send(&opts);
}
