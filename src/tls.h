/* The only user of GnuTLS sessions: trust, verification, SNI, records.
 *
 * tls_start() runs the client handshake on a connected socket and returns an
 * owned struct tls (release with tls_free(), which does not close the
 * socket).  Certificates are verified against ca_file, or the system trust
 * store, and the host name (or IP address) is checked, unless verify is
 * false.  Errors: RESULT_NOPERM (verification or TLS policy),
 * RESULT_TEMPFAIL (network, timeout), RESULT_OSERR.
 */
#ifndef RELAYMAIL_TLS_H
#define RELAYMAIL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "result.h"

struct tls;

struct tls_params {
	const char *hostname;   /* for SNI and the certificate check */
	const char *ca_file;    /* PEM bundle; NULL: the system trust store */
	bool verify;
	unsigned timeout_s;      /* for the whole handshake */
	const char *cache_file; /* TLS session data to resume and renew; NULL: none */
};

bool tls_start(int fd, const struct tls_params *params, struct tls **out, struct result *r);

/* Read up to n bytes before deadline (CLOCK_MONOTONIC): >0 bytes, 0 on
 * orderly close, -1 on error or timeout (r says which; RESULT_TEMPFAIL, or
 * RESULT_PROTOCOL for a server that keeps asking to renegotiate).  Nothing
 * the server sends (post-handshake messages, renegotiation requests, which
 * are refused) extends the deadline. */
ssize_t tls_read(struct tls *tls, void *buf, size_t n, const struct timespec *deadline,
		 struct result *r);

/* Write all n bytes before deadline. */
bool tls_write_all(struct tls *tls, const void *buf, size_t n, const struct timespec *deadline,
		   struct result *r);

/* "TLS1.3 AES-256-GCM", plus " resumed" for a resumed session */
void tls_describe(struct tls *tls, char *buf, size_t size);

/* The server certificate: subject and issuer DNs, expiry time.  false
 * when there is none (or it cannot be parsed). */
bool tls_peer_info(struct tls *tls, char *subject, size_t subject_size, char *issuer,
		   size_t issuer_size, long long *expires);

/* The tls-exporter channel binding (RFC 9266) for SCRAM-SHA-256-PLUS:
 * copies the value (32 bytes) into out and sets *len.  false (then use
 * plain SCRAM with gs2 flag "n") when the session is not TLS 1.3 (TLS 1.2
 * exporters differ between implementations, see tls.c), with GnuTLS before
 * 3.7.2, or when the value does not fit in size. */
bool tls_channel_binding(struct tls *tls, unsigned char *out, size_t size, size_t *len);

/* Store the session for the next connection (cache_file, mode 0600); call
 * after some application data was read, so a TLS 1.3 ticket is in. */
void tls_save_session(struct tls *tls);

void tls_free(struct tls *tls);

/* Milliseconds from now until deadline (CLOCK_MONOTONIC), 0 when past:
 * the bound of one poll() or blocking send under a reply's deadline. */
int tls_ms_until(const struct timespec *deadline);

#endif
