/* sendmail-compatible command line.
 *
 * options_parse() fills a caller-owned struct options whose strings point
 * into argv (argv outlives it; nothing to free).  Errors are RESULT_USAGE.
 */
#ifndef RELAYMAIL_OPTIONS_H
#define RELAYMAIL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"

enum run_mode {
	MODE_SEND,
	MODE_VERSION,
	MODE_HELP,
	MODE_SET_PASSWORD,      /* --set-password ACCOUNT */
	MODE_FORGET_PASSWORD,   /* --forget-password ACCOUNT */
	MODE_SHOW_CREDENTIAL,   /* --show-credential-source ACCOUNT */
};

struct options {
	enum run_mode mode;
	const char *sender;      /* -f/-r, brackets stripped; "" is the null sender; NULL unset */
	const char *fullname;    /* -F */
	const char *config_file; /* --config */
	const char *account;     /* --account, or the ACCOUNT of a credential mode */
	bool extract_recipients; /* -t */
	bool ignore_dots;        /* -i, -oi */
	bool verbose;            /* -v */
	char *const *recipients; /* operands, in argv */
	size_t n_recipients;
};

bool options_parse(int argc, char **argv, struct options *opts, struct result *r);

/* Full --help text for program name prog, translated. */
void options_usage(const char *prog);

#endif
