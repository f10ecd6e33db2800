/* relaymail: read one message on stdin and submit it to the configured relay.
 * Only the order of the stages lives here (see DESIGN.md, "Data flow"). */
#include "autoconfig.h"

#include <limits.h>
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
#include "deliver.h"
#include "server.h"
#include "options.h"
#include "providers.h"
#include "queue.h"
#include "result.h"
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

#define FALLBACK_CHAIN_MAX 8

/* fallback = ACCOUNT: on a temporary failure (the relay has not taken the
 * message) the next account of the chain is tried before queueing.  A
 * permanent refusal never fails over, so nothing is sent twice. */
static void try_fallbacks(const struct options *opts, const struct config *cfg,
			  const struct account *first, const struct envelope *env,
			  const struct message *msg, struct eventlog *log,
			  struct smtp_outcome *outcome, struct result *r)
{
	const char *next = first->fallback;

	for (int hop = 0; next != NULL && r->cls == RESULT_TEMPFAIL; hop++) {
		struct account alt;
		struct secret secret = { NULL, 0 };
		struct result attempt;

		result_clear(&attempt);
		if (hop == FALLBACK_CHAIN_MAX || strcmp(next, first->name) == 0) {
			log_warn(_("fallback chain of account '%s' is too long or loops"), first->name);
			return;
		}
		if (!config_account_resolve(cfg, next, &alt, &attempt) ||
		    !credentials_get(&alt, &secret, &attempt)) {
			log_warn(_("fallback account '%s' unusable: %s"), next, attempt.msg);
			return;
		}
		log_warn(_("%s; trying fallback account '%s'"), r->msg, alt.name);
		if (deliver(&alt, &secret, env, msg, opts->verbose, log, outcome, &attempt))
			result_clear(r);
		else if (attempt.cls != RESULT_TEMPFAIL)
			*r = attempt;   /* a permanent answer ends the chain */
		else
			snprintf(r->msg, sizeof r->msg, "%s", attempt.msg);
		secret_wipe(&secret);
		next = alt.fallback;
	}
}

/* No message is lost: a temporary failure goes to the queue (and counts as
 * success, as sendmail's callers expect); anything else is kept in the
 * failed-mail store, and the error line says where. */
static void keep_message(const struct options *opts, const struct account *acct,
			 const struct envelope *env, const struct message *msg,
			 struct eventlog *log, struct result *r)
{
	char queue_dir[PATH_MAX], failed_dir[PATH_MAX], id[QUEUE_ID_MAX], kept[PATH_MAX];
	char msgid[256];
	struct result store;
	struct event e = {
		.kind = "failed", .env = env, .acct = acct,
		.size = (long long)message_wire_size(msg), .reply = r->msg,
		.message_id = message_id(msg, msgid, sizeof msgid),
	};

	result_clear(&store);
	queue_paths(acct, queue_dir, failed_dir, sizeof queue_dir, &store);
	if (r->cls == RESULT_TEMPFAIL && acct->queue) {
		if (queue_store(queue_dir, acct, env, msg, r->msg, id, sizeof id, &store)) {
			if (opts->error_mode != ERRORS_QUIET)
				log_warn(_("%s; message queued as %s, relaymail -q will retry"), r->msg, id);
			e.kind = "queued";
			e.queue_id = id;
			eventlog_write(log, &e);
			result_clear(r);
			return;
		}
		log_error(_("cannot queue the message: %s"), store.msg);
	}
	eventlog_write(log, &e);
	if (queue_keep_failed(failed_dir, env, msg, r->msg, kept, sizeof kept, &store)) {
		char note[PATH_MAX + 32];
		size_t room = sizeof r->msg - 1, used = strlen(r->msg), need;

		snprintf(note, sizeof note, _("message kept in %s"), kept);
		/* "<reason>; message kept in <file>" on one line: the file name
		 * matters most, so the reason is shortened if need be. */
		need = strlen(note) + 2;
		if (need > room)
			need = room;
		if (used + need > room)
			used = room - need;
		memcpy(r->msg + used, "; ", 2);
		memcpy(r->msg + used + 2, note, need - 2);
		r->msg[used + need] = '\0';
	} else {
		log_error(_("cannot keep the message: %s"), store.msg);
	}
}

/* Recipients with status cls (4 or 5) in the outcome, as a shallow copy of
 * env whose recipient list the caller frees. */
static bool refused_part(const struct envelope *env, const struct smtp_outcome *out, int cls,
			 struct envelope *part, struct result *r)
{
	*part = *env;
	memset(&part->recipients, 0, sizeof part->recipients);
	for (size_t i = 0; i < env->recipients.n && i < SMTP_MAX_STATUS; i++) {
		if (out->rcpt_status[i] == cls && !address_list_add(&part->recipients, env->recipients.items[i], r))
			return false;
	}
	return true;
}

/* Some recipients were refused and the message went to the others.  The
 * temporarily refused ones are queued alone; the permanently refused ones
 * are reported (exit 67) and the message is kept for them. */
static void handle_partial(const struct options *opts, const struct account *acct,
			   const struct envelope *env, const struct message *msg,
			   const struct smtp_outcome *out, struct eventlog *log, struct result *r)
{
	struct envelope later, refused;
	struct result temp;
	size_t delivered = env->recipients.n - out->n_rejected;

	if (!refused_part(env, out, 4, &later, r) || !refused_part(env, out, 5, &refused, r))
		goto out;
	if (later.recipients.n > 0) {
		result_fail(&temp, RESULT_TEMPFAIL, "%s", out->temp_rejection);
		keep_message(opts, acct, &later, msg, log, &temp);
		if (temp.cls != RESULT_OK)
			*r = temp;
	}
	if (refused.recipients.n > 0) {
		result_fail(r, RESULT_NOUSER,
			    ngettext("%s (%zu refused; delivered to the other recipient)",
				     "%s (%zu refused; delivered to the %zu other recipients)", delivered),
			    out->rejection, refused.recipients.n, delivered);
		keep_message(opts, acct, &refused, msg, log, r);
	}
out:
	address_list_free(&later.recipients);
	address_list_free(&refused.recipients);
}

static int run_send(const struct options *opts)
{
	struct config cfg;
	struct account acct = { 0 };
	struct message msg = { .spool_fd = -1 };
	struct envelope env = { 0 };
	struct secret secret = { NULL, 0 };
	struct smtp_outcome outcome;
	struct eventlog log;
	struct message_read_opts read_opts = { .ignore_dots = opts->ignore_dots };
	struct result r;

	result_clear(&r);
	config_init(&cfg);
	read_opts.spool_dir = spool_dir();
	if (load_account(opts, &cfg, &acct, &r) &&
	    (eventlog_init(&log, &acct), message_read(STDIN_FILENO, &read_opts, &msg, &r)) &&
	    envelope_build(opts, &acct, &msg, &env, &r) &&
	    credentials_get(&acct, &secret, &r)) {
		if (!deliver(&acct, &secret, &env, &msg, opts->verbose, &log, &outcome, &r))
			try_fallbacks(opts, &cfg, &acct, &env, &msg, &log, &outcome, &r);
		if (r.cls == RESULT_OK && outcome.n_rejected > 0)
			handle_partial(opts, &acct, &env, &msg, &outcome, &log, &r);
		else if (r.cls != RESULT_OK)
			keep_message(opts, &acct, &env, &msg, &log, &r);
	} else if (r.cls != RESULT_OK && msg.spool_fd >= 0 && env.sender != NULL) {
		keep_message(opts, &acct, &env, &msg, &log, &r);
	}
	report_failure(opts, acct.name ? &acct : NULL, &r);
	secret_wipe(&secret);
	envelope_free(&env);
	message_free(&msg);
	config_free(&cfg);
	return exit_status(opts, &r);
}

/* -bp/mailq lists, -q/--flush delivers.  Listing works without any
 * configuration (the default directory); flushing needs the accounts. */
static int run_queue(const struct options *opts)
{
	char queue_dir[PATH_MAX], failed_dir[PATH_MAX];
	struct config cfg;
	struct account acct = { 0 };
	struct result r;
	bool have_account;

	result_clear(&r);
	config_init(&cfg);
	have_account = load_account(opts, &cfg, &acct, &r);
	/* Nothing queued, nothing to flush: no configuration needed (cron -q). */
	queue_paths(have_account ? &acct : NULL, queue_dir, failed_dir, sizeof queue_dir, &r);
	if (!have_account && opts->mode == MODE_FLUSH_QUEUE && queue_is_empty(queue_dir))
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

/* --check: a report on stdout; exit 0 only when sending would work. */
static int run_check(const struct options *opts)
{
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
	status = check_run(&cfg, opts->account, opts->verbose) ? 0 : result_exitcode(RESULT_PERMFAIL);
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
	if (!load_account(opts, &cfg, &acct, &r))
		server_refuse(STDOUT_FILENO, log_printable(shown, sizeof shown, r.msg, strlen(r.msg)));
	else
		server_run(opts, &acct, STDIN_FILENO, STDOUT_FILENO, &r);
	report_failure(opts, acct.name ? &acct : NULL, &r);
	config_free(&cfg);
	return exit_status(opts, &r);
}

/* --set-password, --forget-password, --show-credential-source */
static int run_credential_mode(const struct options *opts)
{
	struct config cfg;
	struct account acct = { 0 };
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
		return run_credential_mode(&opts);
	case MODE_SMTP_SERVER:
		return run_server(&opts);
	case MODE_LIST_QUEUE:
	case MODE_FLUSH_QUEUE:
		return run_queue(&opts);
	case MODE_CHECK:
		return run_check(&opts);
	case MODE_SERVE:
		log_error("--serve: not built yet");
		return result_exitcode(RESULT_SOFTWARE);
	case MODE_NEWALIASES:
	case MODE_NOTHING:
		return 0;
	case MODE_SEND:
		break;
	}
	return run_send(&opts);
}
