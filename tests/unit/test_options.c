/* Table-driven tests for the sendmail-compatible command line (options.h). */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "tap.h"

#define MAX_ARGS 12

/* Fields left out of an initializer expect the defaults: MODE_SEND, no
 * sender, no flags, ERRORS_PRINT, smtputf8 automatic, no recipients. */
struct opt_case {
	const char *name;
	const char *argv[MAX_ARGS];     /* NULL-terminated, argv[0] included */
	enum result_class cls;          /* RESULT_OK or RESULT_USAGE */
	enum run_mode mode;
	const char *sender;             /* NULL: unset */
	const char *fullname;
	const char *config_file;
	const char *account;
	const char *check_sender;       /* --check --sender ADDRESS */
	bool t, i, v, b8, flush_all;
	enum error_mode error_mode;
	const char *notify, *ret, *envid;
	char utf8;                      /* 0 automatic, 'y', 'n' */
	const char *rcpts;              /* joined with '|'; NULL: none */
};

static const struct opt_case cases[] = {
	{ .name = "one recipient", .argv = { "sendmail", "a@b" }, .rcpts = "a@b" },
	{ .name = "no arguments", .argv = { "sendmail" } },
	{ .name = "-t", .argv = { "sendmail", "-t" }, .t = true },
	{ .name = "-t -i -v", .argv = { "sendmail", "-t", "-i", "-v" }, .t = true, .i = true,
	  .v = true },
	{ .name = "bundled -ti", .argv = { "sendmail", "-ti" }, .t = true, .i = true },
	{ .name = "bundled -tiv with recipient", .argv = { "sendmail", "-tiv", "x@y" }, .t = true,
	  .i = true, .v = true,
	  .rcpts = "x@y" },
	{ .name = "-oi", .argv = { "sendmail", "-oi" }, .i = true },
	{ .name = "-o i as two arguments", .argv = { "sendmail", "-o", "i", "a@b" }, .i = true,
	  .rcpts = "a@b" },
	{ .name = "-f addr", .argv = { "sendmail", "-f", "a@b", "x@y" }, .sender = "a@b",
	  .rcpts = "x@y" },
	{ .name = "-faddr glued", .argv = { "sendmail", "-fraid@x" }, .sender = "raid@x" },
	{ .name = "-f <addr> brackets stripped", .argv = { "sendmail", "-f", "<a@b>" },
	  .sender = "a@b" },
	{ .name = "-f<addr> glued brackets stripped", .argv = { "sendmail", "-f<a@b>" },
	  .sender = "a@b" },
	{ .name = "-f <> is the null sender", .argv = { "sendmail", "-f", "<>", "x@y" },
	  .sender = "", .rcpts = "x@y" },
	{ .name = "-f<> glued", .argv = { "sendmail", "-f<>" }, .sender = "" },
	{ .name = "-f empty is the null sender", .argv = { "sendmail", "-f", "" }, .sender = "" },
	{ .name = "-f < alone is kept", .argv = { "sendmail", "-f", "<" }, .sender = "<" },
	{ .name = "-r addr", .argv = { "sendmail", "-r", "a@b" }, .sender = "a@b" },
	{ .name = "-r<addr>", .argv = { "sendmail", "-r<a@b>" }, .sender = "a@b" },
	{ .name = "last -f wins", .argv = { "sendmail", "-f", "a@b", "-f", "c@d" }, .sender = "c@d" },
	{ .name = "-f takes the next argument even if it looks like an option",
	  .argv = { "sendmail", "-f", "-t" },
	  .sender = "-t" },
	{ .name = "-F name", .argv = { "sendmail", "-F", "John Smith" }, .fullname = "John Smith" },
	{ .name = "-Fname glued", .argv = { "sendmail", "-FCronDaemon", "root" },
	  .fullname = "CronDaemon",
	  .rcpts = "root" },
	{ .name = "--config FILE", .argv = { "sendmail", "--config", "/etc/x.conf", "a@b" },
	  .config_file = "/etc/x.conf",
	  .rcpts = "a@b" },
	{ .name = "--config=FILE", .argv = { "sendmail", "--config=/etc/x.conf" },
	  .config_file = "/etc/x.conf" },
	{ .name = "--account NAME", .argv = { "sendmail", "--account", "work" }, .account = "work" },
	{ .name = "--account=NAME", .argv = { "sendmail", "--account=work", "a@b" },
	  .account = "work", .rcpts = "a@b" },
	{ .name = "--version", .argv = { "sendmail", "--version" }, .mode = MODE_VERSION },
	{ .name = "--help", .argv = { "sendmail", "--help" }, .mode = MODE_HELP },
	{ .name = "--set-password", .argv = { "sendmail", "--set-password", "work" },
	  .mode = MODE_SET_PASSWORD,
	  .account = "work" },
	{ .name = "--forget-password", .argv = { "sendmail", "--forget-password", "w" },
	  .mode = MODE_FORGET_PASSWORD,
	  .account = "w" },
	{ .name = "--show-credential-source", .argv = { "sendmail", "--show-credential-source", "w" },
	  .mode = MODE_SHOW_CREDENTIAL, .account = "w" },
	{ .name = "-- then recipients", .argv = { "sendmail", "-t", "--", "-t", "a@b" }, .t = true,
	  .rcpts = "-t|a@b" },
	{ .name = "-- then -f is a recipient", .argv = { "sendmail", "--", "-fx@y" },
	  .rcpts = "-fx@y" },
	{ .name = "parsing stops at the first operand",
	  .argv = { "sendmail", "a@b", "-t", "-f", "x@y" },
	  .rcpts = "a@b|-t|-f|x@y" },
	{ .name = "operand after options", .argv = { "sendmail", "-i", "a@b", "-v" }, .i = true,
	  .rcpts = "a@b|-v" },
	{ .name = "several recipients", .argv = { "sendmail", "a@b", "c@d", "e@f" },
	  .rcpts = "a@b|c@d|e@f" },
	{ .name = "duplicate flags tolerated",
	  .argv = { "sendmail", "-t", "-i", "-oi", "-f", "a@b", "-t" }, .t = true,
	  .i = true, .sender = "a@b" },
	{ .name = "-odb -oem accepted", .argv = { "sendmail", "-odb", "-oem", "a@b" }, .rcpts = "a@b" },
	{ .name = "-odi -o7 -or0s accepted", .argv = { "sendmail", "-odi", "-o7", "-or0s" } },
	{ .name = "-oeq quiet", .argv = { "sendmail", "-oeq" }, .error_mode = ERRORS_QUIET },
	{ .name = "-oee berknet", .argv = { "sendmail", "-oee" }, .error_mode = ERRORS_BERKNET },
	{ .name = "-o em separate", .argv = { "sendmail", "-oeq", "-o", "em" },
	  .error_mode = ERRORS_PRINT },
	{ .name = "-e q old form", .argv = { "sendmail", "-e", "q" }, .error_mode = ERRORS_QUIET },
	{ .name = "-oA ignored", .argv = { "sendmail", "-oA/etc/aliases", "a@b" }, .rcpts = "a@b" },
	{ .name = "-X ignored, value consumed",
	  .argv = { "sendmail", "-X", "/var/www/shell.php", "a@b" }, .rcpts = "a@b" },
	{ .name = "-C ignored, value consumed", .argv = { "sendmail", "-C/etc/other.cf" } },
	{ .name = "-O DeliveryMode=b ignored", .argv = { "sendmail", "-O", "DeliveryMode=b" } },
	{ .name = "-O smtputf8=yes", .argv = { "sendmail", "-O", "smtputf8=yes" }, .utf8 = 'y' },
	{ .name = "-Osmtputf8=no", .argv = { "sendmail", "-Osmtputf8=no" }, .utf8 = 'n' },
	{ .name = "-B8BITMIME", .argv = { "sendmail", "-B8BITMIME" }, .b8 = true },
	{ .name = "-B 7BIT", .argv = { "sendmail", "-B8BITMIME", "-B", "7BIT" } },
	{ .name = "-B BINARYMIME as 8BITMIME", .argv = { "sendmail", "-BBINARYMIME" }, .b8 = true },
	{ .name = "-N never", .argv = { "sendmail", "-N", "never" }, .notify = "never" },
	{ .name = "-N success,delay", .argv = { "sendmail", "-Nsuccess,delay" },
	  .notify = "success,delay" },
	{ .name = "-N off", .argv = { "sendmail", "-N", "off" } },
	{ .name = "-R hdrs", .argv = { "sendmail", "-R", "hdrs" }, .ret = "HDRS" },
	{ .name = "-R full", .argv = { "sendmail", "-RFULL" }, .ret = "FULL" },
	{ .name = "-V envid", .argv = { "sendmail", "-V", "env-123" }, .envid = "env-123" },
	{ .name = "-bm", .argv = { "sendmail", "-bm", "a@b" }, .rcpts = "a@b" },
	{ .name = "-bs", .argv = { "sendmail", "-bs" }, .mode = MODE_SMTP_SERVER },
	{ .name = "-bp", .argv = { "sendmail", "-bp" }, .mode = MODE_LIST_QUEUE },
	{ .name = "-bi", .argv = { "sendmail", "-bi" }, .mode = MODE_NEWALIASES },
	{ .name = "-I", .argv = { "sendmail", "-I" }, .mode = MODE_NEWALIASES },
	{ .name = "-bh", .argv = { "sendmail", "-bh" }, .mode = MODE_NOTHING },
	/* -q tries every entry now, as Postfix's sendmail -q; --flush-due
	 * keeps to the retry schedule (the timer and the cron line). */
	{ .name = "-q", .argv = { "sendmail", "-q" }, .mode = MODE_FLUSH_QUEUE, .flush_all = true },
	{ .name = "-q30m", .argv = { "sendmail", "-q30m" }, .mode = MODE_NOTHING },
	{ .name = "--flush", .argv = { "sendmail", "--flush" }, .mode = MODE_FLUSH_QUEUE,
	  .flush_all = true },
	{ .name = "--flush-all", .argv = { "sendmail", "--flush-all" }, .mode = MODE_FLUSH_QUEUE,
	  .flush_all = true },
	{ .name = "--flush-due", .argv = { "sendmail", "--flush-due" }, .mode = MODE_FLUSH_QUEUE },
	{ .name = "-q then --flush-due", .argv = { "sendmail", "-q", "--flush-due" },
	  .mode = MODE_FLUSH_QUEUE },
	{ .name = "argv[0] mailq", .argv = { "/usr/bin/mailq" }, .mode = MODE_LIST_QUEUE },
	{ .name = "argv[0] newaliases", .argv = { "newaliases" }, .mode = MODE_NEWALIASES },
	{ .name = "argv[0] send-mail", .argv = { "/usr/sbin/send-mail", "a@b" }, .rcpts = "a@b" },
	{ .name = "accepted no-op letters",
	  .argv = { "sendmail", "-m", "-n", "-U", "-G", "-h", "5", "-L", "tag", "a@b" },
	  .rcpts = "a@b" },
	{ .name = "more accepted letters (sendmail 8, OpenSMTPD)",
	  .argv = { "sendmail", "-Am", "-c", "-d0.1", "-E", "-J", "-s", "-S", "-T", "-x", "-Qr", "a@b" },
	  .rcpts = "a@b" },
	{ .name = "--check --sender", .argv = { "sendmail", "--check", "--sender", "a@b" },
	  .mode = MODE_CHECK, .check_sender = "a@b" },
	{ .name = "--check ACCOUNT --sender", .argv = { "sendmail", "--check", "--sender=a@b", "work" },
	  .mode = MODE_CHECK, .account = "work", .check_sender = "a@b" },

	/* usage errors */
	{ .name = "unknown letter: exit 64, as Postfix", .argv = { "sendmail", "-Z", "a@b" },
	  .cls = RESULT_USAGE },
	{ .name = "unknown letter with a value-like argument", .argv = { "sendmail", "-K", "value", "a@b" },
	  .cls = RESULT_USAGE },
	{ .name = "unknown letter in a bundle", .argv = { "sendmail", "-tiK" }, .cls = RESULT_USAGE },
	{ .name = "msmtp's -a is not a sendmail letter", .argv = { "sendmail", "-a", "work" },
	  .cls = RESULT_USAGE },
	{ .name = "--sender without --check", .argv = { "sendmail", "--sender", "a@b", "x@y" },
	  .cls = RESULT_USAGE },
	{ .name = "LF in --sender", .argv = { "sendmail", "--check", "--sender", "a@b\nx" },
	  .cls = RESULT_USAGE },
	{ .name = "unknown long option", .argv = { "sendmail", "--bogus" }, .cls = RESULT_USAGE },
	{ .name = "missing value for -f", .argv = { "sendmail", "-f" }, .cls = RESULT_USAGE },
	{ .name = "missing value for -f after flags", .argv = { "sendmail", "-ti", "-f" },
	  .cls = RESULT_USAGE },
	{ .name = "missing value for -F", .argv = { "sendmail", "-F" }, .cls = RESULT_USAGE },
	{ .name = "missing value for -o", .argv = { "sendmail", "-o" }, .cls = RESULT_USAGE },
	{ .name = "missing value for --config", .argv = { "sendmail", "--config" },
	  .cls = RESULT_USAGE },
	{ .name = "missing value for --account", .argv = { "sendmail", "--account" },
	  .cls = RESULT_USAGE },
	{ .name = "CR LF in -f", .argv = { "sendmail", "-f", "a@b\r\nRCPT TO:<x@y>", "x@y" },
	  .cls = RESULT_USAGE },
	{ .name = "LF in -f glued", .argv = { "sendmail", "-fa@b\n" }, .cls = RESULT_USAGE },
	{ .name = "CR in -r", .argv = { "sendmail", "-r", "a\rb" }, .cls = RESULT_USAGE },
	{ .name = "LF in -F", .argv = { "sendmail", "-F", "Name\nBcc: victim@x" },
	  .cls = RESULT_USAGE },
	{ .name = "CR in -F glued", .argv = { "sendmail", "-FName\r" }, .cls = RESULT_USAGE },
	{ .name = "LF in a recipient", .argv = { "sendmail", "a@b\nc@d" }, .cls = RESULT_USAGE },
	{ .name = "CR in a recipient after --", .argv = { "sendmail", "--", "ok@x", "x@y\r" },
	  .cls = RESULT_USAGE },
	{ .name = "LF in -N", .argv = { "sendmail", "-N", "never\n" }, .cls = RESULT_USAGE },
	{ .name = "LF in -V", .argv = { "sendmail", "-V", "id\n" }, .cls = RESULT_USAGE },
	{ .name = "LF in -O", .argv = { "sendmail", "-O", "smtputf8=yes\n" }, .cls = RESULT_USAGE },
	{ .name = "-N never,success", .argv = { "sendmail", "-N", "never,success" },
	  .cls = RESULT_USAGE },
	{ .name = "-N bogus", .argv = { "sendmail", "-N", "sometimes" }, .cls = RESULT_USAGE },
	{ .name = "-R bogus", .argv = { "sendmail", "-R", "body" }, .cls = RESULT_USAGE },
	{ .name = "-V with a space", .argv = { "sendmail", "-V", "a b" }, .cls = RESULT_USAGE },
	{ .name = "-O smtputf8=maybe", .argv = { "sendmail", "-O", "smtputf8=maybe" },
	  .cls = RESULT_USAGE },
	{ .name = "-bd daemon", .argv = { "sendmail", "-bd" }, .cls = RESULT_USAGE },
	{ .name = "-bt address test", .argv = { "sendmail", "-bt" }, .cls = RESULT_USAGE },
	{ .name = "-bs with recipients", .argv = { "sendmail", "-bs", "a@b" }, .cls = RESULT_USAGE },
	{ .name = "mailq with recipients", .argv = { "mailq", "a@b" }, .cls = RESULT_USAGE },
	{ .name = "-q with recipients", .argv = { "sendmail", "-q", "a@b" }, .cls = RESULT_USAGE },
	{ .name = "-bi with recipients", .argv = { "sendmail", "-bi", "a@b" }, .cls = RESULT_USAGE },
	{ .name = "error in a bundle", .argv = { "sendmail", "-tbd" }, .cls = RESULT_USAGE },
	/* after the failures above, a fresh parse starts clean */
	{ .name = "fresh parse after an error", .argv = { "sendmail", "-v" }, .v = true },
};

/* Every argv copy stays allocated until the end: options_parse() resets
 * getopt with optind = 1, and glibc then keeps a pointer into the previous
 * argv (see test_reparse). */
static char *kept[1024];
static size_t n_kept;

static bool same(const char *got, const char *want)
{
	return got && want ? strcmp(got, want) == 0 : got == want;
}

static void check_str(const struct opt_case *c, const char *field, const char *got, const char *want)
{
	char name[300];

	snprintf(name, sizeof name, "%s: %s", c->name, field);
	tap_is_str(got, want, name);
}

static void run_case(const struct opt_case *c)
{
	char *argv[MAX_ARGS + 1];
	int argc = 0;
	struct options o;
	struct result r;
	char name[300], rcpts[512];
	bool ok;

	/* options_parse may write into argv (brackets): give it copies */
	while (argc < MAX_ARGS && c->argv[argc] != NULL) {
		argv[argc] = strdup(c->argv[argc]);
		if (argv[argc] == NULL || n_kept == sizeof kept / sizeof kept[0])
			abort();
		kept[n_kept++] = argv[argc];
		argc++;
	}
	argv[argc] = NULL;
	result_clear(&r);
	ok = options_parse(argc, argv, &o, &r);
	snprintf(name, sizeof name, "%s: result", c->name);
	tap_is_int(ok ? RESULT_OK : (long)r.cls, c->cls, name);
	if (!ok && c->cls == RESULT_OK)
		printf("# %s\n", r.msg);
	if (!ok || c->cls != RESULT_OK) {
		if (!ok) {
			snprintf(name, sizeof name, "%s: message", c->name);
			tap_ok(r.msg[0] != '\0' && strpbrk(r.msg, "\r\n") == NULL, name);
		}
		goto out;
	}
	rcpts[0] = '\0';
	for (size_t k = 0; k < o.n_recipients; k++) {
		if (k)
			strcat(rcpts, "|");
		strncat(rcpts, o.recipients[k], sizeof rcpts - strlen(rcpts) - 2);
	}
	snprintf(name, sizeof name, "%s: mode", c->name);
	tap_is_int(o.mode, c->mode, name);
	check_str(c, "sender", o.sender, c->sender);
	check_str(c, "fullname", o.fullname, c->fullname);
	check_str(c, "config", o.config_file, c->config_file);
	check_str(c, "account", o.account, c->account);
	check_str(c, "check_sender", o.check_sender, c->check_sender);
	check_str(c, "recipients", o.n_recipients ? rcpts : NULL, c->rcpts);
	snprintf(name, sizeof name, "%s: flags -t -i -v -B8", c->name);
	tap_ok(o.extract_recipients == c->t && o.ignore_dots == c->i && o.verbose == c->v &&
	       o.body_8bit == c->b8, name);
	if (o.extract_recipients != c->t || o.ignore_dots != c->i || o.verbose != c->v || o.body_8bit != c->b8)
		printf("# got t=%d i=%d v=%d b8=%d\n", o.extract_recipients, o.ignore_dots, o.verbose, o.body_8bit);
	snprintf(name, sizeof name, "%s: flush_all", c->name);
	tap_is_int(o.flush_all, c->flush_all, name);
	snprintf(name, sizeof name, "%s: error mode", c->name);
	tap_is_int(o.error_mode, c->error_mode, name);
	snprintf(name, sizeof name, "%s: DSN and smtputf8", c->name);
	tap_ok(same(o.dsn_notify, c->notify) && same(o.dsn_ret, c->ret) && same(o.dsn_envid, c->envid) &&
	       o.smtputf8 == (c->utf8 == 'y' ? 1 : c->utf8 == 'n' ? 0 : -1), name);
	snprintf(name, sizeof name, "%s: recipients point into argv", c->name);
	tap_ok(o.n_recipients == 0 || o.recipients == argv + (argc - (int)o.n_recipients), name);
out:
	return;
}

/* A parse must not depend on the argv of an earlier parse. */
static void test_reparse(void)
{
	char prog[] = "sendmail", first[] = "-t\0v", rcpt[] = "a@b";
	char *argv1[] = { prog, first, NULL };
	char *argv2[] = { prog, rcpt, NULL };
	struct options o;
	struct result r;

	result_clear(&r);
	tap_ok(options_parse(2, argv1, &o, &r) && o.extract_recipients && !o.verbose,
	       "reparse: first parse of -t");
	/* The caller reuses the first argv's memory: "-t" becomes "-tv". */
	first[2] = 'v';
	tap_ok(options_parse(2, argv2, &o, &r) && !o.verbose && !o.extract_recipients &&
	       o.n_recipients == 1, "reparse: second parse does not read the first argv");
	if (o.verbose)
		printf("# the second parse saw -v from the first argv's memory (getopt not reset)\n");
}

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i]);
	test_reparse();
	for (size_t i = 0; i < n_kept; i++)
		free(kept[i]);
	return tap_done();
}
