#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "i18n.h"
#include "log.h"

bool conn_init(struct conn *c, int fd, unsigned timeout_s, bool verbose, struct result *r)
{
	struct timeval tv = { (time_t)timeout_s, 0 };

	memset(c, 0, sizeof *c);
	c->fd = fd;
	c->timeout_s = timeout_s;
	c->verbose = verbose;
	/* A stalled peer must not block a write forever. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	c->wbuf = malloc(CONN_WBUF);
	if (c->wbuf == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	return true;
}

bool conn_starttls(struct conn *c, const struct tls_params *p, struct result *r)
{
	char shown[128];

	if (c->rstart != c->rend)
		return result_fail(r, RESULT_PROTOCOL,
				   _("the server sent data before the TLS handshake (\"%s\"); possible STARTTLS injection, refusing"),
				   log_printable(shown, sizeof shown, c->rbuf + c->rstart, c->rend - c->rstart));
	if (!tls_start(c->fd, p, &c->tls, r))
		return false;
	if (c->verbose) {
		char desc[128];

		tls_describe(c->tls, desc, sizeof desc);
		log_trace("---", desc, strlen(desc));
	}
	return true;
}

void conn_deadline(const struct conn *c, struct timespec *deadline)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += c->timeout_s;
}

/* Each send() may block only for what is left of the deadline. */
static bool send_plain(int fd, const char *p, size_t n, const struct timespec *deadline,
		       struct result *r)
{
	while (n > 0) {
		int ms = tls_ms_until(deadline);
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
		ssize_t rc;

		if (ms == 0)
			return result_fail(r, RESULT_TEMPFAIL, _("write to the server failed: %s"),
					   _("timed out"));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		rc = send(fd, p, n, MSG_NOSIGNAL);
		if (rc < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (rc < 0)
			return result_fail(r, RESULT_TEMPFAIL, _("write to the server failed: %s"),
					   strerror(errno));
		p += rc;
		n -= (size_t)rc;
	}
	return true;
}

bool conn_flush(struct conn *c, struct result *r)
{
	struct timespec deadline;
	bool ok;

	if (c->wlen == 0)
		return true;
	conn_deadline(c, &deadline);
	ok = c->tls ? tls_write_all(c->tls, c->wbuf, c->wlen, &deadline, r)
		    : send_plain(c->fd, c->wbuf, c->wlen, &deadline, r);
	/* An AUTH response must not outlive its use in our memory. */
	if (c->wbuf_secret)
		explicit_bzero(c->wbuf, c->wlen);
	c->wbuf_secret = false;
	c->wlen = 0;
	return ok;
}

bool conn_write(struct conn *c, const void *data, size_t len, struct result *r)
{
	const char *p = data;

	while (len > 0) {
		size_t take = CONN_WBUF - c->wlen;

		if (take > len)
			take = len;
		memcpy(c->wbuf + c->wlen, p, take);
		c->wlen += take;
		p += take;
		len -= take;
		if (c->wlen == CONN_WBUF && !conn_flush(c, r))
			return false;
	}
	return true;
}

bool conn_command(struct conn *c, const char *line, struct result *r)
{
	if (c->verbose)
		log_trace(">>>", line, strlen(line));
	return conn_write(c, line, strlen(line), r) && conn_write(c, "\r\n", 2, r);
}

bool conn_command_secret(struct conn *c, const char *prefix, const char *secret,
			 struct result *r)
{
	bool ok;

	if (c->verbose) {
		char shown[128];
		size_t n = strlen(prefix);

		if (n > sizeof shown - 12)
			n = sizeof shown - 12;
		memcpy(shown, prefix, n);
		memcpy(shown + n, "<redacted>", 11);
		log_trace(">>>", shown, strlen(shown));
	}
	c->wbuf_secret = true;
	ok = conn_write(c, prefix, strlen(prefix), r) &&
	     conn_write(c, secret, strlen(secret), r) && conn_write(c, "\r\n", 2, r);
	/* Again: a full buffer flushed on the way was wiped and cleared it. */
	c->wbuf_secret = true;
	return ok;
}

static bool fill(struct conn *c, const struct timespec *deadline, struct result *r)
{
	int ms = tls_ms_until(deadline);
	ssize_t n;

	if (c->rstart > 0) {
		memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
		c->rend -= c->rstart;
		c->rstart = 0;
	}
	if (c->tls) {
		if (ms == 0)
			return result_fail(r, RESULT_TEMPFAIL, _("timed out waiting for the server"));
		n = tls_read(c->tls, c->rbuf + c->rend, CONN_RBUF - c->rend, deadline, r);
	} else {
		struct pollfd pfd = { c->fd, POLLIN, 0 };
		int rc;

		do {
			rc = poll(&pfd, 1, ms);
		} while (rc < 0 && errno == EINTR);
		if (rc == 0)
			return result_fail(r, RESULT_TEMPFAIL, _("timed out waiting for the server"));
		do {
			n = recv(c->fd, c->rbuf + c->rend, CONN_RBUF - c->rend, 0);
		} while (n < 0 && errno == EINTR);
		if (n < 0)
			result_fail(r, RESULT_TEMPFAIL, _("read from the server failed: %s"), strerror(errno));
	}
	if (n == 0)
		return result_fail(r, RESULT_TEMPFAIL, _("the server closed the connection"));
	if (n < 0)
		return false;
	c->rend += (size_t)n;
	return true;
}

bool conn_read_line(struct conn *c, char *line, size_t size, size_t *len,
		    const struct timespec *deadline, struct result *r)
{
	for (;;) {
		char *start = c->rbuf + c->rstart;
		char *lf = memchr(start, '\n', c->rend - c->rstart);

		if (lf != NULL) {
			size_t n = (size_t)(lf - start);

			c->rstart += n + 1;
			if (n > 0 && start[n - 1] == '\r')
				n--;
			if (n >= size)
				return result_fail(r, RESULT_PROTOCOL, _("the server sent a line longer than %zu bytes"),
						   size - 1);
			memcpy(line, start, n);
			line[n] = '\0';
			*len = n;
			if (c->verbose)
				log_trace("<<<", line, n);
			return true;
		}
		if (c->rend - c->rstart >= size || c->rend - c->rstart == CONN_RBUF)
			return result_fail(r, RESULT_PROTOCOL, _("the server sent a line longer than %zu bytes"),
					   size - 1);
		if (!fill(c, deadline, r))
			return false;
	}
}

void conn_close(struct conn *c)
{
	/* By now the server's TLS 1.3 ticket has arrived with its replies. */
	tls_save_session(c->tls);
	tls_free(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->wbuf != NULL && c->wbuf_secret)
		explicit_bzero(c->wbuf, CONN_WBUF);
	c->wbuf_secret = false;
	free(c->wbuf);
	c->wbuf = NULL;
}
