#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "i18n.h"
#include "options.h"

enum {
	OPT_CONFIG = 256, OPT_ACCOUNT, OPT_VERSION, OPT_HELP,
	OPT_SET_PASSWORD, OPT_FORGET_PASSWORD, OPT_SHOW_CREDENTIAL,
};

static const struct option long_options[] = {
	{ "config",  required_argument, NULL, OPT_CONFIG },
	{ "account", required_argument, NULL, OPT_ACCOUNT },
	{ "version", no_argument,       NULL, OPT_VERSION },
	{ "help",    no_argument,       NULL, OPT_HELP },
	{ "set-password", required_argument, NULL, OPT_SET_PASSWORD },
	{ "forget-password", required_argument, NULL, OPT_FORGET_PASSWORD },
	{ "show-credential-source", required_argument, NULL, OPT_SHOW_CREDENTIAL },
	{ NULL, 0, NULL, 0 },
};

/* '+' stops at the first operand, as sendmail does; ':' reports a missing
 * value distinctly.  B, m, n and U are accepted for compatibility and have no
 * effect here. */
static const char short_options[] = "+:f:r:F:tivo:B:mnU";

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

static bool apply_o_option(struct options *opts, const char *value)
{
	/* -oi is the only -o option with an effect; sendmail accepts the rest
	 * (-odb, -oem, -oQ...) and so do we, silently. */
	if (strcmp(value, "i") == 0)
		opts->ignore_dots = true;
	return true;
}

static bool parse_one(struct options *opts, int c, char *arg, int bad, struct result *r)
{
	switch (c) {
	case 'f':
	case 'r':
		if (has_crlf(arg))
			return result_fail(r, RESULT_USAGE, _("sender address contains a line break"));
		opts->sender = strip_brackets(arg);
		return true;
	case 'F':
		if (has_crlf(arg))
			return result_fail(r, RESULT_USAGE, _("full name contains a line break"));
		opts->fullname = arg;
		return true;
	case 't': opts->extract_recipients = true; return true;
	case 'i': opts->ignore_dots = true; return true;
	case 'v': opts->verbose = true; return true;
	case 'o': return apply_o_option(opts, arg);
	case 'B': case 'm': case 'n': case 'U': return true;
	case OPT_CONFIG: opts->config_file = arg; return true;
	case OPT_ACCOUNT: opts->account = arg; return true;
	case OPT_VERSION: opts->mode = MODE_VERSION; return true;
	case OPT_HELP: opts->mode = MODE_HELP; return true;
	case OPT_SET_PASSWORD:
	case OPT_FORGET_PASSWORD:
	case OPT_SHOW_CREDENTIAL:
		opts->mode = c == OPT_SET_PASSWORD ? MODE_SET_PASSWORD
			     : c == OPT_FORGET_PASSWORD ? MODE_FORGET_PASSWORD : MODE_SHOW_CREDENTIAL;
		opts->account = arg;
		return true;
	case ':':
		return result_fail(r, RESULT_USAGE, _("option -%c requires a value"), bad);
	default:
		if (bad)
			return result_fail(r, RESULT_USAGE, _("unknown option -%c"), bad);
		return result_fail(r, RESULT_USAGE, _("unknown option"));
	}
}

bool options_parse(int argc, char **argv, struct options *opts, struct result *r)
{
	int c;

	memset(opts, 0, sizeof *opts);
	opts->mode = MODE_SEND;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		if (!parse_one(opts, c, optarg, optopt, r))
			return false;
	}
	opts->recipients = argv + optind;
	opts->n_recipients = (size_t)(argc - optind);
	for (size_t i = 0; i < opts->n_recipients; i++) {
		if (has_crlf(opts->recipients[i]))
			return result_fail(r, RESULT_USAGE, _("recipient argument contains a line break"));
	}
	return true;
}

void options_usage(const char *prog)
{
	printf(_("Usage: %s [OPTION]... [--] RECIPIENT...\n"
		 "Read a message on standard input and submit it to the configured relay.\n\n"), prog);
	fputs(_("  -f, -r ADDRESS     envelope sender (\"<>\" for the null sender)\n"
		"  -F NAME            full name for a From: header that relaymail adds\n"
		"  -t                 also take recipients from To:, Cc: and Bcc:\n"
		"  -i, -oi            a line with a single dot does not end the message\n"
		"  -v                 show the SMTP dialogue on standard error\n"
		"      --config FILE  read FILE instead of the user configuration file\n"
		"      --account NAME use account NAME\n"
		"      --set-password ACCOUNT\n"
		"                     store the account's password in the keyring\n"
		"      --forget-password ACCOUNT\n"
		"                     remove it from the keyring\n"
		"      --show-credential-source ACCOUNT\n"
		"                     tell where the password would come from\n"
		"      --help         show this help and exit\n"
		"      --version      show the version and exit\n\n"), stdout);
	fputs(_("Exit status follows sysexits.h: 0 on success, 75 when a retry may\n"
		"succeed; see relaymail(8).\n"), stdout);
}
