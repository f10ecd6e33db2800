/* Buffered line I/O to the relay over plain TCP or TLS, with deadlines and
 * the -v transcript (secrets redacted).
 *
 * The struct conn is caller-allocated; conn_init() takes ownership of the
 * socket and conn_close() closes it.  Writes are buffered until conn_flush()
 * so a pipelined group leaves in one TLS record / TCP segment.  Errors:
 * RESULT_TEMPFAIL (network, timeout, closed), RESULT_PROTOCOL (line too long,
 * data before TLS), and those of tls_start().
 */
#ifndef RELAYMAIL_CONN_H
#define RELAYMAIL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "result.h"
#include "tls.h"

#define CONN_RBUF 16384
#define CONN_WBUF (64 * 1024)

struct conn {
	int fd;
	struct tls *tls;
	unsigned timeout_s;
	bool verbose;
	char rbuf[CONN_RBUF];
	size_t rstart, rend;
	char *wbuf;
	size_t wlen;
	bool wbuf_secret;       /* wbuf held a secret since the last wipe */
};

bool conn_init(struct conn *c, int fd, unsigned timeout_s, bool verbose, struct result *r);

/* Upgrade to TLS.  Refuses when the server already sent bytes that were not
 * read (STARTTLS response injection, CVE-2011-0411 class). */
bool conn_starttls(struct conn *c, const struct tls_params *p, struct result *r);

/* Queue raw bytes (message content; not traced). */
bool conn_write(struct conn *c, const void *data, size_t len, struct result *r);

/* Queue one command line; CRLF is appended; traced with -v. */
bool conn_command(struct conn *c, const char *line, struct result *r);

/* Queue "prefix secret" but trace only "prefix <redacted>".  The write
 * buffer is wiped once it has been sent (or at conn_close()). */
bool conn_command_secret(struct conn *c, const char *prefix, const char *secret,
			 struct result *r);

/* Send what is queued, within timeout_s from now for all of it (a relay
 * that reads a byte now and then cannot stretch it). */
bool conn_flush(struct conn *c, struct result *r);

/* Deadline for one server reply, timeout_s from now. */
void conn_deadline(const struct conn *c, struct timespec *deadline);

/* Read one line ending in LF before deadline; CRLF/LF removed; NUL-terminated
 * in line[size]. A longer line is RESULT_PROTOCOL.  Every wait, also inside
 * TLS (records, renegotiation requests), ends at the same deadline. */
bool conn_read_line(struct conn *c, char *line, size_t size, size_t *len,
		    const struct timespec *deadline, struct result *r);

void conn_close(struct conn *c);

#endif
