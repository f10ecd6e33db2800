/* Outcome of a pipeline stage: a failure class plus one human-readable line.
 *
 * Every stage that can fail fills a caller-owned struct result.  The class
 * decides the exit status (result_exitcode() is the only mapping to
 * sysexits.h); the text is what the user sees after "relaymail: ".
 */
#ifndef RELAYMAIL_RESULT_H
#define RELAYMAIL_RESULT_H

#include <stdbool.h>

enum result_class {
	RESULT_OK = 0,
	RESULT_TEMPFAIL,   /* retry may work: 4xx, refused/timed-out/dropped connection */
	RESULT_PERMFAIL,   /* relay refused permanently (5xx policy) */
	RESULT_NOUSER,     /* a recipient was rejected permanently */
	RESULT_NOHOST,     /* relay host name does not exist */
	RESULT_PROTOCOL,   /* the relay broke the protocol */
	RESULT_NOPERM,     /* authentication failed or TLS policy refused the server */
	RESULT_CONFIG,     /* configuration missing or invalid; credential source failed */
	RESULT_USAGE,      /* bad arguments, no recipients */
	RESULT_DATAERR,    /* the message cannot be sent as it is */
	RESULT_NOINPUT,    /* stdin unreadable */
	RESULT_CANTCREAT,  /* spool, queue or store cannot be written */
	RESULT_OSERR,      /* out of memory, fork failed, ... */
	RESULT_SOFTWARE,   /* internal error */
};

#define RESULT_MSG_MAX 768

struct result {
	enum result_class cls;
	char msg[RESULT_MSG_MAX];
};

/* Set class and message (printf-style).  Always false, so callers can
 * write "return result_fail(r, ...);" from bool functions.  The macro makes
 * the false visible where the call is, so that clang's static analyzer
 * (tests/analyze.sh) follows "return result_fail()" as a failure path. */
bool result_fail_set(struct result *r, enum result_class cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define result_fail(...) ({ result_fail_set(__VA_ARGS__); false; })

/* Put "prefix: " in front of the message, keeping the class (a caller adds
 * context such as the SMTP step).  Returns false like result_fail(). */
bool result_prefix(struct result *r, const char *prefix);

/* Clear to RESULT_OK with an empty message. */
void result_clear(struct result *r);

/* The one mapping from a failure class to a sysexits.h code. */
int result_exitcode(enum result_class cls);

#endif
