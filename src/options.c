#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dsn.h"
#include "i18n.h"
#include "log.h"
#include "options.h"

enum {
	OPT_CONFIG = 256, OPT_ACCOUNT, OPT_VERSION, OPT_HELP,
	OPT_SET_PASSWORD, OPT_FORGET_PASSWORD, OPT_OAUTH_LOGIN, OPT_SHOW_CREDENTIAL, OPT_FLUSH, OPT_FLUSH_ALL, OPT_FLUSH_DUE,
	OPT_CHECK, OPT_SERVE, OPT_SENDER,
};

/* Apart from the list above, which other changes touch. */
enum { OPT_IMPORT_MSMTPRC = 512 };

static const struct option long_options[] = {
	{ "config",  required_argument, NULL, OPT_CONFIG },
	{ "account", required_argument, NULL, OPT_ACCOUNT },
	{ "version", no_argument,       NULL, OPT_VERSION },
	{ "help",    no_argument,       NULL, OPT_HELP },
	{ "set-password", required_argument, NULL, OPT_SET_PASSWORD },
	{ "forget-password", required_argument, NULL, OPT_FORGET_PASSWORD },
	{ "oauth-login", required_argument, NULL, OPT_OAUTH_LOGIN },
	{ "show-credential-source", required_argument, NULL, OPT_SHOW_CREDENTIAL },
	{ "flush", no_argument, NULL, OPT_FLUSH },
	{ "flush-all", no_argument, NULL, OPT_FLUSH_ALL },
	{ "flush-due", no_argument, NULL, OPT_FLUSH_DUE },
	{ "check", optional_argument, NULL, OPT_CHECK },
	{ "serve", no_argument, NULL, OPT_SERVE },
	{ "import-msmtprc", optional_argument, NULL, OPT_IMPORT_MSMTPRC },
	{ "sender", required_argument, NULL, OPT_SENDER },
	{ NULL, 0, NULL, 0 },
};

/* The union of sendmail 8's, Postfix's, OpenSMTPD's and msmtp's option
 * letters; any other letter is refused (exit 64) as Postfix does. '+'
 * stops at the first operand (POSIX, Postfix); ':' reports a missing value
 * distinctly; "q::" lets -q stand alone. */
static const char short_options[] =
	"+:A:B:b:C:cD:d:Ee:F:f:Gh:IiJL:M:mN:nO:o:p:Q:q::R:r:sSTtUV:vX:x";

static bool takes_value(int c)
{
	const char *spec = c > 0 && c < 128 && c != ':' ? strchr(short_options + 2, c) : NULL;

	return spec != NULL && spec[1] == ':';
}

static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* "-f <addr>" and "-f <>" are common; the brackets are not part of the
 * address. */
static const char *strip_brackets(char *addr)
{
	size_t len = strlen(addr);

	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
		addr[len - 1] = '\0';
		return addr + 1;
	}
	return addr;
}

static bool set_error_mode(struct options *opts, char mode)
{
	switch (mode) {
	case 'p': case 'm': case 'w':
		/* Mailing errors back to root@host helps nobody: print them. */
		opts->error_mode = ERRORS_PRINT;
		return true;
	case 'q': opts->error_mode = ERRORS_QUIET; return true;
	case 'e': opts->error_mode = ERRORS_BERKNET; return true;
	default: return true;   /* unknown modes are ignored like sendmail */
	}
}

static bool apply_o_option(struct options *opts, const char *value)
{
	if (strcmp(value, "i") == 0)
		opts->ignore_dots = true;
	else if (value[0] == 'e')
		return set_error_mode(opts, value[1]);
	else if (value[0] == 'A')
		log_warn(_("option -oA (alias file) ignored"));
	/* -od*, -om, -o7, -o8, -or*, -oQ... are accepted and have no effect. */
	return true;
}

static bool apply_O_option(struct options *opts, const char *value, struct result *r)
{
	if (strncasecmp(value, "smtputf8=", 9) == 0) {
		const char *v = value + 9;

		if (strcasecmp(v, "yes") == 0)
			opts->smtputf8 = 1;
		else if (strcasecmp(v, "no") == 0)
			opts->smtputf8 = 0;
		else
			return result_fail(r, RESULT_USAGE, _("invalid -O smtputf8 value '%s' (yes or no)"), v);
	} else if (strchr(value, '/') != NULL) {
		log_warn(_("option -O %s ignored: relaymail takes no paths from the command line"), value);
	}
	return true;
}

static bool apply_body_type(struct options *opts, const char *value)
{
	if (strcasecmp(value, "8BITMIME") == 0)
		opts->body_8bit = true;
	else if (strcasecmp(value, "BINARYMIME") == 0) {
		log_warn(_("-B BINARYMIME is sent as 8BITMIME"));
		opts->body_8bit = true;
	} else if (strcasecmp(value, "7BIT") == 0)
		opts->body_8bit = false;
	else
		log_warn(_("unknown body type -B %s ignored"), value);
	return true;
}

/* RFC 3461: NEVER, or a list of SUCCESS, FAILURE, DELAY. msmtp's "off"
 * means no DSN request at all. */
static bool apply_dsn_notify(struct options *opts, char *value, struct result *r)
{
	if (strcasecmp(value, "off") == 0) {
		opts->dsn_notify = NULL;
		return true;
	}
	if (!dsn_notify_valid(value))
		return result_fail(r, RESULT_USAGE,
				   _("invalid -N value '%s' (never, or success,failure,delay)"), value);
	opts->dsn_notify = value;
	return true;
}

static bool apply_dsn_ret(struct options *opts, const char *value, struct result *r)
{
	if (strcasecmp(value, "hdrs") == 0 || strcasecmp(value, "headers") == 0)
		opts->dsn_ret = "HDRS";
	else if (strcasecmp(value, "full") == 0)
		opts->dsn_ret = "FULL";
	else if (strcasecmp(value, "off") == 0)
		opts->dsn_ret = NULL;
	else
		return result_fail(r, RESULT_USAGE, _("invalid -R value '%s' (hdrs or full)"), value);
	return true;
}

static bool apply_envid(struct options *opts, const char *value, struct result *r)
{
	if (!dsn_envid_valid(value))
		return result_fail(r, RESULT_USAGE, _("invalid -V envelope id"));
	opts->dsn_envid = value;
	return true;
}

static bool apply_b_mode(struct options *opts, const char *value, struct result *r)
{
	switch (value[0]) {
	case 'm': opts->mode = MODE_SEND; return true;
	case 's': opts->mode = MODE_SMTP_SERVER; return true;
	case 'p': case 'P': opts->mode = MODE_LIST_QUEUE; return true;
	case 'i': opts->mode = MODE_NEWALIASES; return true;
	case 'h': case 'H': opts->mode = MODE_NOTHING; return true;
	case 'd': case 'D': case 'l':
		return result_fail(r, RESULT_USAGE, _("-b%s: relaymail never runs as a daemon"), value);
	default:
		return result_fail(r, RESULT_USAGE, _("-b%s: mode not supported"), value);
	}
}

static bool apply_q(struct options *opts, const char *value)
{
	/* -q tries every queued message now, as Postfix's sendmail -q does;
	 * -q<interval> asks for a daemon: accepted, nothing to do. */
	opts->mode = value == NULL || *value == '\0' ? MODE_FLUSH_QUEUE : MODE_NOTHING;
	opts->flush_all = opts->mode == MODE_FLUSH_QUEUE;
	return true;
}

static bool apply_address_option(struct options *opts, int c, char *arg, struct result *r)
{
	if (has_crlf(arg))
		return result_fail(r, RESULT_USAGE, c == 'F' ? _("full name contains a line break")
				   : _("sender address contains a line break"));
	if (c == 'F')
		opts->fullname = arg;
	else
		opts->sender = strip_brackets(arg);
	return true;
}

/* The caller's own choice comes first on the command line; an argument
 * injected later (PHP's additional_params) must not replace it. */
static bool set_once(const char **field, char *arg, const char *name, struct result *r)
{
	if (*field != NULL && strcmp(*field, arg) != 0)
		return result_fail(r, RESULT_USAGE, _("--%s given twice with different values"), name);
	*field = arg;
	return true;
}

static bool apply_long(struct options *opts, int c, char *arg, struct result *r)
{
	switch (c) {
	case OPT_CONFIG: return set_once(&opts->config_file, arg, "config", r);
	case OPT_ACCOUNT: return set_once(&opts->account, arg, "account", r);
	case OPT_VERSION: opts->mode = MODE_VERSION; break;
	case OPT_HELP: opts->mode = MODE_HELP; break;
	case OPT_FLUSH: case OPT_FLUSH_ALL: opts->mode = MODE_FLUSH_QUEUE; opts->flush_all = true; break;
	case OPT_FLUSH_DUE: opts->mode = MODE_FLUSH_QUEUE; opts->flush_all = false; break;
	case OPT_SERVE: opts->mode = MODE_SERVE; break;
	case OPT_IMPORT_MSMTPRC: opts->mode = MODE_IMPORT_MSMTPRC; opts->import_file = arg; break;
	case OPT_SENDER:
		if (has_crlf(arg))
			return result_fail(r, RESULT_USAGE, _("sender address contains a line break"));
		opts->check_sender = arg;
		break;
	case OPT_CHECK:
		opts->mode = MODE_CHECK;
		if (arg != NULL)
			opts->account = arg;
		break;
	default:
		opts->mode = c == OPT_SET_PASSWORD ? MODE_SET_PASSWORD
			     : c == OPT_FORGET_PASSWORD ? MODE_FORGET_PASSWORD
			     : c == OPT_OAUTH_LOGIN ? MODE_OAUTH_LOGIN : MODE_SHOW_CREDENTIAL;
		opts->account = arg;
		break;
	}
	return true;
}

/* Options without a value (and -q, whose value is optional). */
static bool parse_flag(struct options *opts, int c, char *arg, int bad, const char *long_name,
		       struct result *r)
{
	switch (c) {
	case 't': opts->extract_recipients = true; return true;
	case 'i': opts->ignore_dots = true; return true;
	case 'v': opts->verbose = true; return true;
	case 'I': opts->mode = MODE_NEWALIASES; return true;
	case 'q': return apply_q(opts, arg);
	case 'c': case 'E': case 'G': case 'J': case 'm': case 'n': case 's': case 'S': case 'T':
	case 'U': case 'x':
		return true;
	case ':':
		if (bad == 0 || bad >= OPT_CONFIG)      /* a long option */
			return result_fail(r, RESULT_USAGE, _("option '%s' requires a value"), long_name);
		return result_fail(r, RESULT_USAGE, _("option -%c requires a value"), bad);
	default:
		if (bad == 0 || bad >= OPT_CONFIG)
			return result_fail(r, RESULT_USAGE, _("unknown option"));
		/* As Postfix's sendmail: taking "-K value" as flag and recipient
		 * would send the mail to "value". */
		if (bad > 32 && bad < 127)
			return result_fail(r, RESULT_USAGE, _("unknown option -%c"), bad);
		return result_fail(r, RESULT_USAGE, _("unknown option"));
	}
}

static bool parse_valued(struct options *opts, int c, char *arg, struct result *r)
{
	switch (c) {
	case 'f': case 'r': case 'F': return apply_address_option(opts, c, arg, r);
	case 'o': return apply_o_option(opts, arg);
	case 'e': return set_error_mode(opts, arg[0]);
	case 'O': return apply_O_option(opts, arg, r);
	case 'B': return apply_body_type(opts, arg);
	case 'N': return apply_dsn_notify(opts, arg, r);
	case 'R': return apply_dsn_ret(opts, arg, r);
	case 'V': return apply_envid(opts, arg, r);
	case 'b': return apply_b_mode(opts, arg, r);
	case 'X': case 'C': case 'D':
		/* -X is the classic PHP additional_params file-write exploit. */
		log_warn(_("option -%c %s ignored: relaymail never writes or reads files named on the command line"),
			 c, arg);
		return true;
	default:        /* A d h L M p Q: accepted and ignored, as Postfix does */
		return true;
	}
}

static bool parse_one(struct options *opts, int c, char *arg, int bad, const char *long_name,
		      struct result *r)
{
	if (c >= OPT_CONFIG)
		return apply_long(opts, c, arg, r);
	if (c == 'q' || !takes_value(c))
		return parse_flag(opts, c, arg, bad, long_name, r);
	/* getopt guarantees a value here; checked so that no path takes NULL. */
	if (arg == NULL)
		return result_fail(r, RESULT_USAGE, _("option -%c requires a value"), c);
	if (has_crlf(arg) && strchr("NRVOoBL", c))
		return result_fail(r, RESULT_USAGE, _("option -%c: value contains a line break"), c);
	return parse_valued(opts, c, arg, r);
}

static void mode_from_program_name(struct options *opts, const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	base = base ? base + 1 : argv0;
	if (strcmp(base, "mailq") == 0)
		opts->mode = MODE_LIST_QUEUE;
	else if (strcmp(base, "newaliases") == 0)
		opts->mode = MODE_NEWALIASES;
}

static bool check_operands(struct options *opts, struct result *r)
{
	for (size_t i = 0; i < opts->n_recipients; i++) {
		if (has_crlf(opts->recipients[i]))
			return result_fail(r, RESULT_USAGE, _("recipient argument contains a line break"));
	}
	if (opts->check_sender != NULL && opts->mode != MODE_CHECK)
		return result_fail(r, RESULT_USAGE, _("--sender goes with --check"));
	if (opts->n_recipients == 0)
		return true;
	switch (opts->mode) {
	case MODE_SMTP_SERVER:
		return result_fail(r, RESULT_USAGE, _("-bs takes no recipient arguments"));
	case MODE_LIST_QUEUE:
		return result_fail(r, RESULT_USAGE, _("listing the queue takes no recipient arguments"));
	case MODE_NEWALIASES:
		return result_fail(r, RESULT_USAGE, _("newaliases takes no recipient arguments"));
	case MODE_FLUSH_QUEUE:
		return result_fail(r, RESULT_USAGE, _("flushing the queue takes no recipient arguments"));
	case MODE_CHECK:
		/* "--check NAME" as well as "--check=NAME" */
		if (opts->n_recipients == 1 && opts->account == NULL) {
			opts->account = opts->recipients[0];
			opts->n_recipients = 0;
			return true;
		}
		return result_fail(r, RESULT_USAGE, _("--check takes one account name at most"));
	case MODE_IMPORT_MSMTPRC:
		/* "--import-msmtprc FILE" as well as "--import-msmtprc=FILE" */
		if (opts->n_recipients == 1 && opts->import_file == NULL) {
			opts->import_file = opts->recipients[0];
			opts->n_recipients = 0;
			return true;
		}
		return result_fail(r, RESULT_USAGE, _("--import-msmtprc takes one file name at most"));
	default:
		return true;
	}
}

bool options_parse(int argc, char **argv, struct options *opts, struct result *r)
{
	int c;

	memset(opts, 0, sizeof *opts);
	opts->mode = MODE_SEND;
	opts->smtputf8 = -1;
	if (argc > 0 && argv[0] != NULL)
		mode_from_program_name(opts, argv[0]);
	opterr = 0;
	optind = 0;     /* 0, not 1: glibc then forgets the previous argv too */
	while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		/* For a long option without its value, name it as it was given. */
		if (!parse_one(opts, c, optarg, optopt, optind > 0 && optind <= argc ? argv[optind - 1] : "?", r))
			return false;
	}
	opts->recipients = argv + optind;
	opts->n_recipients = (size_t)(argc - optind);
	return check_operands(opts, r);
}

void options_usage(const char *prog)
{
	printf(_("Usage: %s [OPTION]... [--] RECIPIENT...\n"
		 "Read a message on standard input and submit it to the configured relay.\n\n"), prog);
	fputs(_("  -f, -r ADDRESS     envelope sender (\"<>\" for the null sender)\n"
		"  -F NAME            full name for a From: header that relaymail adds\n"
		"  -t                 also take recipients from To:, Cc: and Bcc:\n"
		"  -i, -oi            a line with a single dot does not end the message\n"
		"  -B 8BITMIME        the body is 8-bit\n"
		"  -N, -R, -V         DSN notify, return, envelope id (if the relay has DSN)\n"
		"  -oeq, -oee         error mode: quiet, or exit 0\n"
		"  -bs                speak SMTP on standard input and output\n"
		"  -bp, -bi           list the queue; check the aliases file\n"
		"  -q, --flush        try every queued message now (--flush-all: the same)\n"
		"      --flush-due    deliver only the queued messages that are due\n"
		"      --check [ACCOUNT]\n"
		"                     diagnose the set-up (no mail is sent)\n"
		"      --check --sender ADDRESS\n"
		"                     tell which account ADDRESS chooses, and check it\n"
		"      --serve        run the system service (as the relaymail user)\n"
		"  -v                 show the SMTP dialogue on standard error\n"
		"      --config FILE  read FILE instead of the user configuration file\n"
		"      --account NAME use account NAME\n"), stdout);
	fputs(_("      --set-password ACCOUNT\n"
		"                     store the account's password in the keyring\n"
		"      --forget-password ACCOUNT\n"
		"                     remove it from the keyring\n"
		"      --show-credential-source ACCOUNT\n"
		"                     tell where the password would come from\n"
		"      --oauth-login ACCOUNT\n"
		"                     sign in to an OAuth account (Microsoft 365, Gmail)\n"
		"      --import-msmtprc [FILE]\n"
		"                     print an msmtp configuration as relaymail's\n"
		"      --help         show this help and exit\n"
		"      --version      show the version and exit\n\n"), stdout);
	fputs(_("Exit status follows sysexits.h: 0 on success, 75 when a retry may\n"
		"succeed; see relaymail(8).\n"), stdout);
}
