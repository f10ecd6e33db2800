/* relaymail: read one message on stdin and submit it to the configured relay.
 * Only the order of the stages lives here (see DESIGN.md, "Data flow"). */
#include "autoconfig.h"

#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "aliases_file.h"
#include "check.h"
#include "config.h"
#include "conn.h"
#include "credentials.h"
#include "envelope.h"
#include "eventlog.h"
#include "i18n.h"
#include "keyring.h"
#include "log.h"
#include "message.h"
#include "msmtprc.h"
#include "deliver.h"
#include "handoff.h"
#include "service.h"
#include "submit.h"
#include "server.h"
#include "oauth_login.h"
#include "options.h"
#include "providers.h"
#include "queue.h"
#include "result.h"
#include "sender.h"
#include "smtp.h"

/* System file, then --config (trusted only by rule: config_trust.h), else
 * RELAYMAIL_CONFIG, else the user's own file. */
static bool load_config(const struct options *opts, struct config *cfg, struct result *r)
{
	char user_path[PATH_MAX];
	const char *env_file = getenv("RELAYMAIL_CONFIG");
	const char *user_file = NULL;
	enum config_user_source source = CONFIG_USER_STANDARD;

	if (opts->config_file != NULL) {
		user_file = opts->config_file;
		source = CONFIG_USER_ARGV;
	} else if (env_file != NULL && *env_file != '\0') {
		user_file = env_file;
		source = CONFIG_USER_ENV;
	} else if (config_user_path(user_path, sizeof user_path)) {
		user_file = user_path;
	}
	return config_load(cfg, SYSCONFDIR "/relaymail.conf", user_file, source, r);
}

static bool load_account(const struct options *opts, struct config *cfg, struct account *acct,
			 struct result *r)
{
	return load_config(opts, cfg, r) && config_account_resolve(cfg, opts->account, acct, r);
}

static const char *spool_dir(void)
{
	const char *dir = getenv("TMPDIR");

	return dir != NULL && *dir != '\0' ? dir : "/tmp";
}

/* -oeq keeps stderr quiet; syslog always gets the line.  A known failure
 * of a known relay gets one line of advice. */
static void report_failure(const struct options *opts, const struct account *acct,
			   const struct result *r)
{
	const char *hint;

	if (r->cls == RESULT_OK)
		return;
	hint = acct ? providers_hint(acct, r->msg) : NULL;
	if (opts->error_mode == ERRORS_QUIET) {
		log_error_quiet("%s", r->msg);
		return;
	}
	log_error("%s", r->msg);
	if (hint != NULL)
		log_error("%s", hint);
}

/* -oee (BerkNet): sendmail's finis() reports success whatever happened. */
static int exit_status(const struct options *opts, const struct result *r)
{
	return opts->error_mode == ERRORS_BERKNET ? 0 : result_exitcode(r->cls);
}

/* System mode: the system file has [service] and the caller has no
 * configuration of their own (DESIGN.md). */
static bool use_service(const struct options *opts, const struct config *cfg)
{
	char user_path[PATH_MAX];
	const char *env_file = getenv("RELAYMAIL_CONFIG");

	if (!cfg->service.present || opts->config_file != NULL || (env_file != NULL && *env_file != '\0'))
		return false;
	return !config_user_path(user_path, sizeof user_path) || access(user_path, F_OK) != 0;
}

static void print_warning(void *arg, const char *text)
{
	(void)arg;
	log_warn("%s", text);
}

static int send_via_service(const struct options *opts, const struct config *cfg, int argc,
			    char **argv)
{
	struct message msg = { .spool_fd = -1 };
	struct message_read_opts read_opts = { .ignore_dots = opts->ignore_dots, .spool_dir = spool_dir() };
	struct result r;

	/* The service does not see our environment: NAME travels as -F
	 * (before the caller's arguments, which it cannot override). */
	const char *name = opts->fullname == NULL ? secure_getenv("NAME") : NULL;
	char **args = NULL;

	result_clear(&r);
	if (name != NULL && *name != '\0' && strpbrk(name, "\r\n") == NULL &&
	    (args = calloc((size_t)argc + 3, sizeof *args)) != NULL) {
		args[0] = argv[0];
		args[1] = (char *)"-F";
		args[2] = (char *)name;
		memcpy(args + 3, argv + 1, (size_t)(argc - 1) * sizeof *args);
		argv = args;
		argc += 2;
	}
	if (message_read(STDIN_FILENO, &read_opts, &msg, &r))
		handoff_submit(&cfg->service, argc, argv, &msg, print_warning, NULL, &r);
	report_failure(opts, NULL, &r);
	message_free(&msg);
	free(args);
	return exit_status(opts, &r);
}

static void print_notice(void *arg, bool is_error, const char *text)
{
	(void)arg;
	if (is_error)
		log_error("%s", text);
	else
		log_warn("%s", text);
}

/* --account, else (account_by_sender) the account the sender chooses, else
 * the default; then config_account_resolve(). */
static bool resolve_account(const struct config *cfg, const struct options *opts,
			    const struct message *msg, struct account *acct, struct result *r)
{
	char addr[ADDRESS_MAX + 1], why[2 * ADDRESS_MAX + 256];
	const char *name = opts->account;

	if (name == NULL && cfg->account_by_sender) {
		if (!sender_choosing_address(cfg, opts, msg, addr, sizeof addr, r))
			return false;
		if (addr[0] != '\0') {
			name = sender_choose_account(cfg, addr, why, sizeof why);
			if (opts->verbose) {
				char shown[sizeof why * 4];

				fprintf(stderr, "relaymail: %s\n", log_escape(shown, sizeof shown, why));
			}
		}
	}
	return config_account_resolve(cfg, name, acct, r);
}

/* account_by_sender may choose by the From: header: the message is read
 * first then. */
static bool resolve_for_send(const struct options *opts, const struct config *cfg,
			     const struct message_read_opts *read_opts, struct message *msg,
			     struct account *acct, struct result *r)
{
	if (sender_needs_message(cfg, opts) && !message_read(STDIN_FILENO, read_opts, msg, r))
		return false;
	return resolve_account(cfg, opts, msg, acct, r);
}

static int run_send(const struct options *opts, int argc, char **argv)
{
	struct config cfg;
	struct account acct = { 0 };
	struct message msg = { .spool_fd = -1 };
	struct envelope env = { 0 };
	struct secret secret = { NULL, 0, NULL };
	struct smtp_outcome outcome;
	struct eventlog log;
	struct message_read_opts read_opts = { .ignore_dots = opts->ignore_dots };
	struct submit_ctx ctx = {
		.cfg = &cfg, .acct = &acct, .secret = &secret, .verbose = opts->verbose,
		.quiet = opts->error_mode == ERRORS_QUIET, .log = &log, .notify = print_notice,
	};
	struct result r;
	int status;

	result_clear(&r);
	config_init(&cfg);
	read_opts.spool_dir = spool_dir();
	if (load_config(opts, &cfg, &r) && use_service(opts, &cfg)) {
		status = send_via_service(opts, &cfg, argc, argv);
		config_free(&cfg);
		return status;
	}
	if (r.cls == RESULT_OK && resolve_for_send(opts, &cfg, &read_opts, &msg, &acct, &r) &&
	    (eventlog_init(&log, &acct), msg.spool_fd >= 0 || message_read(STDIN_FILENO, &read_opts, &msg, &r)) &&
	    envelope_build(opts, &acct, &msg, &env, &r) &&
	    credentials_get(&acct, &secret, &r)) {
		submit_message(&ctx, &env, &msg, &outcome, &r);
	} else if (r.cls != RESULT_OK && msg.spool_fd >= 0 && env.sender != NULL) {
		submit_keep(&ctx, &env, &msg, &r);
	}
	report_failure(opts, acct.name ? &acct : NULL, &r);
	secret_wipe(&secret);
	envelope_free(&env);
	message_free(&msg);
	config_free(&cfg);
	return exit_status(opts, &r);
}

/* --serve: only the system file counts; the service user has no home. */
static int run_serve(const struct options *opts)
{
	struct config cfg;
	struct result r;

	result_clear(&r);
	config_init(&cfg);
	if (opts->config_file != NULL)
		result_fail(&r, RESULT_USAGE, _("--serve reads only the system file"));
	else if (geteuid() == 0)
		result_fail(&r, RESULT_USAGE,
			    _("relaymail --serve does not run as root: run it as the service user (User=relaymail in relaymail-submit.service)"));
	else if (config_load(&cfg, SYSCONFDIR "/relaymail.conf", NULL, CONFIG_USER_STANDARD, &r))
		service_run(&cfg, opts->verbose, &r);
	if (r.cls != RESULT_OK)
		log_error("%s", r.msg);
	config_free(&cfg);
	return result_exitcode(r.cls);
}

static bool is_service_user(const struct config *cfg)
{
	struct passwd pw, *found = NULL;
	char buf[4096];

	return getpwnam_r(config_service_user(&cfg->service), &pw, buf, sizeof buf, &found) == 0 &&
	       found != NULL && pw.pw_uid == geteuid();
}

/* System mode: the service user works on the system queue itself (the
 * timer's relaymail -q, when the service is not running); anyone else asks
 * the service, which lists only that user's messages (root: all). */
static void queue_via_service(const struct options *opts, const struct config *cfg,
			      struct result *r)
{
	char queue_dir[PATH_MAX], failed_dir[PATH_MAX];
	struct account acct;
	struct queue_flush_opts flush = { .force = opts->flush_all, .verbose = opts->verbose };

	if (!is_service_user(cfg)) {
		if (opts->mode == MODE_LIST_QUEUE)
			handoff_list(&cfg->service, r);
		else
			/* Ignoring the schedule of everyone's entries is
			 * root's; another user's -q asks for a run of the
			 * due ones (the service retries on its own). */
			handoff_flush(&cfg->service, opts->flush_all && geteuid() == 0, r);
		return;
	}
	if (!config_account_resolve(cfg, cfg->service.account, &acct, r))
		return;
	service_queue_dirs(&acct, queue_dir, failed_dir, sizeof queue_dir);
	flush.failed_dir = failed_dir;
	if (opts->mode == MODE_LIST_QUEUE)
		queue_list(queue_dir, r);
	else
		queue_flush_with(cfg, queue_dir, &flush, r);
}

/* -bp/mailq lists, -q/--flush delivers.  Listing works without any
 * configuration (the default directory); flushing needs the accounts. */
static int run_queue(const struct options *opts)
{
	char queue_dir[PATH_MAX], failed_dir[PATH_MAX];
	struct config cfg;
	struct account acct = { 0 };
	struct result r, ignored;
	bool have_account;

	result_clear(&r);
	config_init(&cfg);
	if (load_config(opts, &cfg, &r) && use_service(opts, &cfg)) {
		queue_via_service(opts, &cfg, &r);
		report_failure(opts, NULL, &r);
		config_free(&cfg);
		return exit_status(opts, &r);
	}
	have_account = r.cls == RESULT_OK && config_account_resolve(&cfg, opts->account, &acct, &r);
	/* Without a place for a queue nothing can be queued: an empty queue. */
	if (!queue_paths(have_account ? &acct : NULL, queue_dir, failed_dir, sizeof queue_dir, &ignored) &&
	    *queue_dir == '\0') {
		result_clear(&r);
		if (opts->mode == MODE_LIST_QUEUE)
			puts(_("Mail queue is empty"));
	/* Nothing queued, nothing to flush: no configuration needed (cron -q). */
	} else if (!have_account && opts->mode == MODE_FLUSH_QUEUE && queue_is_empty(queue_dir))
		result_clear(&r);
	else if (have_account || opts->mode == MODE_LIST_QUEUE) {
		result_clear(&r);
		if (opts->mode == MODE_LIST_QUEUE)
			queue_list(queue_dir, &r);
		else
			queue_flush(&cfg, queue_dir, opts->flush_all, opts->verbose, &r);
	}
	report_failure(opts, acct.name ? &acct : NULL, &r);
	config_free(&cfg);
	return exit_status(opts, &r);
}

/* --check of a user who sends through the service: the account and its
 * secret are the service's (relaymail --check as its user checks them);
 * what this user needs is the socket. */
static int check_service(const struct config *cfg)
{
	char shown[RESULT_MSG_MAX * 4];
	struct result r;

	result_clear(&r);
	printf(_("INFO  system mode: this user's messages go to the relaymail service at %s\n"),
	       config_service_socket(&cfg->service));
	if (!handoff_ping(&cfg->service, &r)) {
		printf("FAIL  %s\n", log_escape(shown, sizeof shown, r.msg));
		return result_exitcode(r.cls);
	}
	printf(_("PASS  the relaymail service answers and accepts this user\n"));
	return 0;
}

/* --check: a report on stdout; exit 0 only when sending would work. */
static int run_check(const struct options *opts)
{
	const char *account = opts->account;
	struct config cfg;
	struct result r;
	int status;

	result_clear(&r);
	config_init(&cfg);
	if (!load_config(opts, &cfg, &r)) {
		char shown[sizeof r.msg * 4];

		printf("FAIL  %s\n", log_escape(shown, sizeof shown, r.msg));
		config_free(&cfg);
		return result_exitcode(r.cls);
	}
	if (use_service(opts, &cfg) && !is_service_user(&cfg)) {
		status = check_service(&cfg);
		config_free(&cfg);
		return status;
	}
	if (opts->check_sender != NULL && !check_sender(&cfg, opts->check_sender, &account))
		status = result_exitcode(RESULT_USAGE);
	else
		status = check_run(&cfg, account, opts->verbose) ? 0 : result_exitcode(RESULT_PERMFAIL);
	config_free(&cfg);
	return status;
}

/* -bs: Symfony's and Laravel's transport talk SMTP to us on stdin/stdout. */
static int run_server(const struct options *opts)
{
	struct config cfg;
	struct account acct = { 0 };
	struct result r;
	char shown[RESULT_MSG_MAX];

	result_clear(&r);
	config_init(&cfg);
	if (load_config(opts, &cfg, &r) && use_service(opts, &cfg))
		server_run(opts, NULL, NULL, &cfg.service, STDIN_FILENO, STDOUT_FILENO, &r);
	else if (r.cls != RESULT_OK || !config_account_resolve(&cfg, opts->account, &acct, &r))
		server_refuse(STDOUT_FILENO, log_printable(shown, sizeof shown, r.msg, strlen(r.msg)));
	else
		server_run(opts, &cfg, &acct, NULL, STDIN_FILENO, STDOUT_FILENO, &r);
	report_failure(opts, acct.name ? &acct : NULL, &r);
	config_free(&cfg);
	return exit_status(opts, &r);
}

/* --set-password, --forget-password, --show-credential-source, --oauth-login */
static int run_credential_mode(const struct options *opts)
{
	struct config cfg;
	struct account acct = { 0 };
	struct secret secret = { NULL, 0, NULL };
	struct result r;
	char where[1024];
	bool removed;

	result_clear(&r);
	config_init(&cfg);
	if (!load_account(opts, &cfg, &acct, &r))
		goto out;
	if (opts->mode == MODE_OAUTH_LOGIN) {
		oauth_login(&acct, STDIN_FILENO, stdout, &r);
		goto out;
	}
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

/* newaliases, -bi, -I: check aliases_file (aliases_file.h). */
static int run_newaliases(const struct options *opts)
{
	struct config cfg;
	struct result r;

	result_clear(&r);
	config_init(&cfg);
	if (load_config(opts, &cfg, &r))
		aliases_file_newaliases(&cfg, opts->account, &r);
	if (r.cls != RESULT_OK)
		log_error("%s", r.msg);
	config_free(&cfg);
	return result_exitcode(r.cls);
}

/* --import-msmtprc [FILE]: needs no configuration of its own. */
static int run_import_msmtprc(const struct options *opts)
{
	struct result r;

	result_clear(&r);
	if (!msmtprc_import(opts->import_file, &r))
		log_error("%s", r.msg);
	return result_exitcode(r.cls);
}

int main(int argc, char **argv)
{
	struct options opts;
	struct result r;

	const char *localedir = getenv("RELAYMAIL_LOCALEDIR");

	setlocale(LC_ALL, "");
	/* RELAYMAIL_LOCALEDIR lets the tests use a catalog that is not installed. */
	bindtextdomain(PACKAGE, localedir && *localedir ? localedir : LOCALEDIR);
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
	case MODE_OAUTH_LOGIN:
		return run_credential_mode(&opts);
	case MODE_SMTP_SERVER:
		return run_server(&opts);
	case MODE_LIST_QUEUE:
	case MODE_FLUSH_QUEUE:
		return run_queue(&opts);
	case MODE_CHECK:
		return run_check(&opts);
	case MODE_SERVE:
		return run_serve(&opts);
	case MODE_NEWALIASES:
		return run_newaliases(&opts);
	case MODE_IMPORT_MSMTPRC:
		return run_import_msmtprc(&opts);
	case MODE_NOTHING:
		return 0;
	case MODE_SEND:
		break;
	}
	return run_send(&opts, argc, argv);
}
