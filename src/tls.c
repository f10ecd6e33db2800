#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "i18n.h"
#include "tls.h"

struct tls {
	gnutls_session_t session;
	gnutls_certificate_credentials_t creds;
	char *cache_file;
};

#define SESSION_DATA_MAX 16384

/* Offer a cached session; a missing, foreign or damaged file just means a
 * full handshake. */
static void load_session(struct tls *tls)
{
	unsigned char data[SESSION_DATA_MAX];
	struct stat st;
	ssize_t n;
	int fd = open(tls->cache_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_uid == geteuid() && !(st.st_mode & 077) &&
	    (n = read(fd, data, sizeof data)) > 0 && n < (ssize_t)sizeof data)
		gnutls_session_set_data(tls->session, data, (size_t)n);
	explicit_bzero(data, sizeof data);
	close(fd);
}

void tls_save_session(struct tls *tls)
{
	gnutls_datum_t data = { NULL, 0 };
	char tmp[600], dir[600], *slash;
	int fd;

	if (tls == NULL || tls->cache_file == NULL ||
	    gnutls_session_get_data2(tls->session, &data) < 0 || data.size == 0)
		return;
	/* A cut name would write the session somewhere else. */
	if (snprintf(dir, sizeof dir, "%s", tls->cache_file) >= (int)sizeof dir ||
	    snprintf(tmp, sizeof tmp, "%s.%ld", tls->cache_file, (long)getpid()) >= (int)sizeof tmp)
		goto out;
	slash = strrchr(dir, '/');
	if (slash != NULL) {
		*slash = '\0';
		/* ~/.cache may not exist yet; both levels private. */
		if (mkdir(dir, 0700) != 0 && errno == ENOENT) {
			char *up = strrchr(dir, '/');

			if (up != NULL) {
				*up = '\0';
				mkdir(dir, 0700);
				*up = '/';
			}
			mkdir(dir, 0700);
		}
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		bool ok = write(fd, data.data, data.size) == (ssize_t)data.size;

		if (close(fd) == 0 && ok)
			ok = rename(tmp, tls->cache_file) == 0;
		if (!ok)
			unlink(tmp);
	}
out:
	explicit_bzero(data.data, data.size);
	gnutls_free(data.data);
}

static bool is_ip_literal(const char *host)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

static bool setup_credentials(struct tls *tls, const struct tls_params *p, struct result *r)
{
	int rc;

	if (gnutls_certificate_allocate_credentials(&tls->creds) < 0)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	if (p->ca_file != NULL) {
		rc = gnutls_certificate_set_x509_trust_file(tls->creds, p->ca_file, GNUTLS_X509_FMT_PEM);
		if (rc <= 0)
			return result_fail(r, RESULT_CONFIG, _("tls_ca_file %s: no usable certificate (%s)"),
					   p->ca_file, rc < 0 ? gnutls_strerror(rc) : _("empty"));
	} else if (p->verify) {
		rc = gnutls_certificate_set_x509_system_trust(tls->creds);
		if (rc <= 0)
			return result_fail(r, RESULT_CONFIG,
					   _("the system trust store has no certificates (install ca-certificates or set tls_ca_file)"));
	}
	return true;
}

static bool setup_session(struct tls *tls, int fd, const struct tls_params *p, struct result *r)
{
	if (gnutls_init(&tls->session, GNUTLS_CLIENT) < 0)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	/* TLS 1.0 and 1.1 are deprecated (RFC 8996). */
	if (gnutls_set_default_priority_append(tls->session, "-VERS-TLS1.1:-VERS-TLS1.0", NULL, 0) < 0 ||
	    gnutls_credentials_set(tls->session, GNUTLS_CRD_CERTIFICATE, tls->creds) < 0)
		return result_fail(r, RESULT_SOFTWARE, _("cannot set up the TLS session"));
	if (!is_ip_literal(p->hostname))
		gnutls_server_name_set(tls->session, GNUTLS_NAME_DNS, p->hostname, strlen(p->hostname));
	if (p->verify)
		gnutls_session_set_verify_cert(tls->session, p->hostname, 0);
	gnutls_transport_set_int(tls->session, fd);
	gnutls_handshake_set_timeout(tls->session, p->timeout_s * 1000);
	/* Only verified sessions are cached: resuming skips the certificate. */
	if (p->cache_file != NULL && *p->cache_file && p->verify) {
		tls->cache_file = strdup(p->cache_file);
		if (tls->cache_file != NULL)
			load_session(tls);
	}
	return true;
}

static bool handshake_failed(struct tls *tls, const struct tls_params *p, int rc, struct result *r)
{
	gnutls_datum_t text = { NULL, 0 };
	unsigned status;

	if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		status = gnutls_session_get_verify_cert_status(tls->session);
		gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0);
		result_fail(r, RESULT_NOPERM, _("TLS: the certificate of %s is not trusted: %s"),
			    p->hostname, text.data ? (char *)text.data : "?");
		gnutls_free(text.data);
		return false;
	}
	if (rc == GNUTLS_E_TIMEDOUT || rc == GNUTLS_E_PULL_ERROR || rc == GNUTLS_E_PUSH_ERROR ||
	    rc == GNUTLS_E_PREMATURE_TERMINATION || rc == GNUTLS_E_AGAIN)
		return result_fail(r, RESULT_TEMPFAIL, _("TLS handshake with %s failed: %s"),
				   p->hostname, gnutls_strerror(rc));
	return result_fail(r, RESULT_NOPERM, _("TLS handshake with %s failed: %s"), p->hostname,
			   gnutls_strerror(rc));
}

int tls_ms_until(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms;
}

/* A blocking send() inside GnuTLS waits at most until the deadline. */
static void send_timeout(struct tls *tls, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(gnutls_transport_get_int(tls->session), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool tls_start(int fd, const struct tls_params *p, struct tls **out, struct result *r)
{
	struct tls *tls = calloc(1, sizeof *tls);
	struct timespec deadline;
	int rc;

	*out = NULL;
	if (tls == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	if (!setup_credentials(tls, p, r) || !setup_session(tls, fd, p, r))
		goto fail;
	/* GnuTLS bounds the handshake by its own timeout; a warning alert or
	 * an interruption returns early and must not start it over. */
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += p->timeout_s;
	do {
		rc = gnutls_handshake(tls->session);
	} while (rc < 0 && !gnutls_error_is_fatal(rc) && rc != GNUTLS_E_AGAIN && tls_ms_until(&deadline) > 0);
	if (rc < 0 && !gnutls_error_is_fatal(rc) && rc != GNUTLS_E_AGAIN)
		rc = GNUTLS_E_TIMEDOUT;
	if (rc < 0) {
		handshake_failed(tls, p, rc, r);
		goto fail;
	}
	*out = tls;
	return true;
fail:
	tls_free(tls);
	return false;
}

/* TLS 1.2 renegotiation is never done (RFC 5246 7.4.1.1 allows refusing it
 * with a no_renegotiation warning); a server that keeps asking is broken. */
#define RENEGOTIATION_REQUESTS_MAX 3

ssize_t tls_read(struct tls *tls, void *buf, size_t n, const struct timespec *deadline,
		 struct result *r)
{
	unsigned refused = 0;
	ssize_t rc;
	int ms;

	for (;;) {
		ms = tls_ms_until(deadline);
		if (ms == 0) {
			rc = GNUTLS_E_TIMEDOUT;
			break;
		}
		gnutls_record_set_timeout(tls->session, (unsigned)ms);
		rc = gnutls_record_recv(tls->session, buf, n);
		/* E_AGAIN without data: a TLS 1.3 NewSessionTicket or KeyUpdate
		 * was handled; read on, within the same deadline. */
		if (rc == GNUTLS_E_INTERRUPTED || rc == GNUTLS_E_AGAIN)
			continue;
		if (rc != GNUTLS_E_REHANDSHAKE)
			break;
		if (++refused > RENEGOTIATION_REQUESTS_MAX) {
			result_fail(r, RESULT_PROTOCOL, _("the server keeps asking for a TLS renegotiation"));
			return -1;
		}
		send_timeout(tls, ms);
		gnutls_alert_send(tls->session, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
	}
	if (rc >= 0)
		return rc;
	if (rc == GNUTLS_E_TIMEDOUT)
		result_fail(r, RESULT_TEMPFAIL, _("timed out waiting for the server"));
	else if (rc == GNUTLS_E_PREMATURE_TERMINATION)
		return 0;
	else
		result_fail(r, RESULT_TEMPFAIL, _("TLS read error: %s"), gnutls_strerror((int)rc));
	return -1;
}

bool tls_write_all(struct tls *tls, const void *buf, size_t n, const struct timespec *deadline,
		   struct result *r)
{
	const char *p = buf;

	while (n > 0) {
		int ms = tls_ms_until(deadline);
		ssize_t rc;

		if (ms == 0)
			return result_fail(r, RESULT_TEMPFAIL, _("TLS write error: %s"), _("timed out"));
		send_timeout(tls, ms);
		/* After E_AGAIN the same arguments continue the same record. */
		rc = gnutls_record_send(tls->session, p, n);
		if (rc == GNUTLS_E_INTERRUPTED || rc == GNUTLS_E_AGAIN)
			continue;
		if (rc < 0)
			return result_fail(r, RESULT_TEMPFAIL, _("TLS write error: %s"),
					   gnutls_strerror((int)rc));
		p += rc;
		n -= (size_t)rc;
	}
	return true;
}

void tls_describe(struct tls *tls, char *buf, size_t size)
{
	const char *version = gnutls_protocol_get_name(gnutls_protocol_get_version(tls->session));
	const char *cipher = gnutls_cipher_get_name(gnutls_cipher_get(tls->session));

	snprintf(buf, size, "%s %s%s", version ? version : "?", cipher ? cipher : "?",
		 gnutls_session_is_resumed(tls->session) ? " resumed" : "");
}

bool tls_peer_info(struct tls *tls, char *subject, size_t subject_size, char *issuer,
		   size_t issuer_size, long long *expires)
{
	const gnutls_datum_t *certs;
	unsigned n = 0;
	gnutls_x509_crt_t crt;
	bool ok;

	certs = gnutls_certificate_get_peers(tls->session, &n);
	if (certs == NULL || n == 0 || gnutls_x509_crt_init(&crt) < 0)
		return false;
	ok = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) >= 0 &&
	     gnutls_x509_crt_get_dn(crt, subject, &subject_size) >= 0 &&
	     gnutls_x509_crt_get_issuer_dn(crt, issuer, &issuer_size) >= 0;
	*expires = ok ? (long long)gnutls_x509_crt_get_expiration_time(crt) : 0;
	gnutls_x509_crt_deinit(crt);
	return ok;
}

/* TLS 1.3 only.  RFC 9266 also allows TLS 1.2 with the extended master
 * secret, but there the exporter depends on whether the empty context is
 * "absent" or "zero-length" (RFC 5705 4): GnuTLS 3.7 uses zero-length,
 * OpenSSL-based servers (use_context = 0), Go and rustls use absent, so a
 * TLS 1.2 binding would make -PLUS fail where plain SCRAM works.  In
 * TLS 1.3 both readings give the same value. */
bool tls_channel_binding(struct tls *tls, unsigned char *out, size_t size, size_t *len)
{
#if GNUTLS_VERSION_NUMBER >= 0x030702
	gnutls_datum_t cb = { NULL, 0 };
	bool ok;

	*len = 0;
	if (gnutls_protocol_get_version(tls->session) != GNUTLS_TLS1_3 ||
	    gnutls_session_channel_binding(tls->session, GNUTLS_CB_TLS_EXPORTER, &cb) < 0)
		return false;
	ok = cb.size > 0 && cb.size <= size;
	if (ok) {
		memcpy(out, cb.data, cb.size);
		*len = cb.size;
	}
	explicit_bzero(cb.data, cb.size);
	gnutls_free(cb.data);
	return ok;
#else
	(void)tls;
	(void)out;
	(void)size;
	*len = 0;
	return false;
#endif
}

void tls_free(struct tls *tls)
{
	if (tls == NULL)
		return;
	if (tls->session != NULL)
		gnutls_deinit(tls->session);
	if (tls->creds != NULL)
		gnutls_certificate_free_credentials(tls->creds);
	free(tls->cache_file);
	free(tls);
}
