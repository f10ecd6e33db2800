/* sendmail-compatible command line (see reference/sendmail-callers.md,
 * Table B): every sendmail, Postfix and msmtp option is implemented,
 * accepted and ignored, or refused.
 *
 * options_parse() fills a caller-owned struct options whose strings point
 * into argv (argv outlives it; nothing to free).  Errors are RESULT_USAGE.
 * Options that are ignored for safety (-X, -C, -D, -oA, path-carrying -O)
 * produce a warning on stderr as they are parsed.
 */
#ifndef RELAYMAIL_OPTIONS_H
#define RELAYMAIL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"

enum run_mode {
	MODE_SEND,              /* -bm, the default */
	MODE_VERSION,
	MODE_HELP,
	MODE_SET_PASSWORD,      /* --set-password ACCOUNT */
	MODE_FORGET_PASSWORD,   /* --forget-password ACCOUNT */
	MODE_SHOW_CREDENTIAL,   /* --show-credential-source ACCOUNT */
	MODE_OAUTH_LOGIN,       /* --oauth-login ACCOUNT */
	MODE_SMTP_SERVER,       /* -bs */
	MODE_LIST_QUEUE,        /* -bp, mailq */
	MODE_NEWALIASES,        /* -bi, -I, newaliases */
	MODE_FLUSH_QUEUE,       /* -q, --flush(-all): every entry; --flush-due: due ones */
	MODE_NOTHING,           /* -q<interval>, -bh, -bH: accepted, exit 0 */
	MODE_CHECK,             /* --check [ACCOUNT] */
	MODE_SERVE,             /* --serve: the system service */
	MODE_IMPORT_MSMTPRC,    /* --import-msmtprc [FILE] */
};

enum error_mode {
	ERRORS_PRINT,           /* -oep (default), -oem, -oew: stderr + syslog */
	ERRORS_QUIET,           /* -oeq: exit status and syslog only */
	ERRORS_BERKNET,         /* -oee: stderr + syslog, but exit 0 */
};

struct options {
	enum run_mode mode;
	const char *sender;      /* -f/-r, brackets stripped; "" is the null sender; NULL unset */
	const char *fullname;    /* -F */
	const char *config_file; /* --config */
	const char *account;     /* --account, or the ACCOUNT of a credential mode */
	const char *import_file; /* --import-msmtprc FILE; NULL: the default file */
	const char *check_sender; /* --check --sender ADDRESS: which account it chooses */
	bool extract_recipients; /* -t */
	bool ignore_dots;        /* -i, -oi */
	bool verbose;            /* -v */
	bool flush_all;          /* -q, --flush: ignore the retry schedule (not --flush-due) */
	bool body_8bit;          /* -B8BITMIME (or BINARYMIME) */
	enum error_mode error_mode;
	const char *dsn_notify;  /* -N: "NEVER" or a list of SUCCESS,FAILURE,DELAY as given */
	const char *dsn_ret;     /* -R: "HDRS" or "FULL" */
	const char *dsn_envid;   /* -V */
	int smtputf8;            /* -O smtputf8=: 1 yes, 0 no, -1 automatic */
	char *const *recipients; /* operands, in argv */
	size_t n_recipients;
	/* Set by the service, never by options_parse(): the local user who
	 * submitted (SO_PEERCRED) and their full name.  NULL: the user running
	 * this process. */
	const char *caller_user;
	const char *caller_gecos;
};

bool options_parse(int argc, char **argv, struct options *opts, struct result *r);

/* Full --help text, translated. */
void options_usage(const char *prog);

#endif
