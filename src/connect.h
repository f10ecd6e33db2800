/* TCP connection to one of a host's addresses: RFC 8305 Happy Eyeballs.
 *
 * connect_happy() takes the addresses getaddrinfo() returned (net.c
 * resolves), keeps those that ip_family and source_ip allow, interleaves
 * them (IPv6 first, then alternating families, RFC 8305 section 4), starts
 * one attempt, the next one CONNECT_ATTEMPT_DELAY_MS later or as soon as an
 * attempt fails, and returns the first socket to complete, blocking again,
 * with TCP_NODELAY (the caller owns it).  The others are closed.  The whole
 * is bounded by timeout_s.  It does not fill a struct result: the caller
 * names the hop (relay or proxy) and uses connect_reason() for the why.
 *
 * The report (caller-allocated) lists every attempt: address, duration,
 * outcome, and which one was chosen, for -v and --check.
 */
#ifndef RELAYMAIL_CONNECT_H
#define RELAYMAIL_CONNECT_H

#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define CONNECT_ATTEMPTS_MAX 16
#define CONNECT_ATTEMPT_DELAY_MS 250    /* RFC 8305 section 5, recommended value */

enum connect_outcome {
	CONNECT_CONNECTED,
	CONNECT_REFUSED,
	CONNECT_TIMED_OUT,
	CONNECT_UNREACHABLE,
	CONNECT_CANCELLED,      /* another attempt won first */
	CONNECT_FAILED,         /* any other error (err says which) */
};

struct connect_attempt {
	char addr[INET6_ADDRSTRLEN];
	unsigned port;
	unsigned ms;            /* from its start to its outcome */
	enum connect_outcome outcome;
	int err;                /* errno of a failure, 0 otherwise */
};

struct connect_report {
	struct connect_attempt at[CONNECT_ATTEMPTS_MAX];
	size_t n;
	int chosen;             /* index in at[], -1 when none connected */
	unsigned filtered;      /* addresses left out by ip_family or source_ip */
	bool had_v4, had_v6;    /* what the name resolved to, before filtering */
	bool via_proxy;         /* the attempts were to the proxy, not the relay */
};

struct connect_params {
	enum ip_family family;
	const char *source_ip;  /* numeric address to bind to, or NULL */
	unsigned timeout_s;     /* for all attempts together */
};

/* Connect to the best address of list.  On failure rep says why
 * (connect_reason()). */
bool connect_happy(const struct addrinfo *list, const struct connect_params *p, int *fd_out,
		   struct connect_report *rep);

/* Why nothing connected, one phrase for an error message: the error of a
 * single attempt, "ADDR: error; ADDR: error" for several, or why no
 * address was left (ip_family, source_ip).  Returns buf. */
const char *connect_reason(const struct connect_report *rep, const struct connect_params *p,
			   char *buf, size_t size);

/* One attempt for people: "::1 port 587: refused after 3 ms". */
const char *connect_describe(const struct connect_report *rep, size_t i, char *buf, size_t size);

/* The -v lines ("--- connect ...") of every attempt, on stderr. */
void connect_report_trace(const struct connect_report *rep);

#endif
