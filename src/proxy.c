#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "credentials.h"
#include "i18n.h"
#include "log.h"
#include "net.h"
#include "proxy.h"

/* One handshake: the socket, its deadline, and the names for messages. */
struct hop {
	int fd;
	long long deadline;                     /* CLOCK_MONOTONIC ms */
	const struct proxy_url *url;
	char label[300];                        /* "proxy host:port" */
	char target[300];                       /* "relay.example:587" */
	unsigned timeout_s;
	bool verbose;
};

/* ---- I/O within the deadline ------------------------------------------ */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool timed_out(struct hop *h, struct result *r)
{
	return result_fail(r, RESULT_TEMPFAIL, _("%s: no answer within %u s (connect_timeout)"), h->label,
			   h->timeout_s);
}

static bool wait_for(struct hop *h, short events, struct result *r)
{
	struct pollfd pfd = { .fd = h->fd, .events = events };
	int rc;

	do {
		long long left = h->deadline - now_ms();

		if (left <= 0)
			return timed_out(h, r);
		rc = poll(&pfd, 1, (int)left);
	} while (rc < 0 && errno == EINTR);
	if (rc == 0)
		return timed_out(h, r);
	return rc > 0 || result_fail(r, RESULT_TEMPFAIL, "%s: %s", h->label, strerror(errno));
}

static bool send_all(struct hop *h, const void *buf, size_t n, struct result *r)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w;

		if (!wait_for(h, POLLOUT, r))
			return false;
		w = send(h->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			return result_fail(r, RESULT_TEMPFAIL, "%s: %s", h->label, strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Up to n bytes (flags: MSG_PEEK); 0 is a closed connection (an error). */
static ssize_t recv_some(struct hop *h, void *buf, size_t n, int flags, struct result *r)
{
	ssize_t got;

	for (;;) {
		if (!wait_for(h, POLLIN, r))
			return -1;
		got = recv(h->fd, buf, n, flags | MSG_DONTWAIT);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			return result_fail(r, RESULT_TEMPFAIL, "%s: %s", h->label, strerror(errno)), -1;
		if (got == 0)
			return result_fail(r, RESULT_TEMPFAIL, _("%s closed the connection during the handshake"),
					   h->label), -1;
		return got;
	}
}

static bool recv_exact(struct hop *h, void *buf, size_t n, struct result *r)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t got = recv_some(h, p, n, 0, r);

		if (got < 0)
			return false;
		p += got;
		n -= (size_t)got;
	}
	return true;
}

/* "not a SOCKS5 proxy (answered "HTTP/1.1 400...")": what came, and
 * whatever else is already there, made printable. */
static bool not_a_proxy(struct hop *h, const char *what, const unsigned char *got, size_t n,
			struct result *r)
{
	char raw[64], shown[sizeof raw * 4 + 1];
	ssize_t more;

	memcpy(raw, got, n < sizeof raw ? n : sizeof raw);
	if (n < sizeof raw) {
		more = recv(h->fd, raw + n, sizeof raw - n, MSG_DONTWAIT);
		n += more > 0 ? (size_t)more : 0;
	}
	for (size_t i = 0; i < n; i++)       /* NUL bytes are common in binary answers */
		raw[i] = raw[i] ? raw[i] : '.';
	log_printable(shown, sizeof shown, raw, n);
	return result_fail(r, RESULT_PROTOCOL, _("%s: not %s (answered \"%s\")"), h->label, what,
			   shown);
}

/* ---- the password ------------------------------------------------------- */

static bool proxy_secret(const struct account *acct, const struct proxy_url *u, struct secret *s,
			 struct result *r)
{
	bool have_source = acct->proxy_password_file != NULL || acct->proxy_password_command != NULL;

	if (u->user[0] == '\0' && !have_source)
		return true;
	if (u->user[0] == '\0')
		return result_fail(r, RESULT_CONFIG,
				   _("proxy_password_file or proxy_password_command is set but the proxy has no user (proxy = scheme://user@host:port)"));
	if (!have_source)
		return result_fail(r, RESULT_CONFIG,
				   _("the proxy user %s needs proxy_password_file or proxy_password_command"), u->user);
	if (acct->proxy_password_command != NULL)
		return credentials_from_command("proxy_password_command", acct->proxy_password_command, s, r);
	return credentials_from_file("proxy_password_file", acct->proxy_password_file, true, s, r);
}

/* ---- SOCKS5 ------------------------------------------------------------- */

static const char *socks_reply_text(unsigned code)
{
	switch (code) {
	case 1: return _("general SOCKS server failure");
	case 2: return _("connection not allowed by ruleset");
	case 3: return _("network unreachable");
	case 4: return _("host unreachable");
	case 5: return _("connection refused");
	case 6: return _("TTL expired");
	case 7: return _("command not supported");
	case 8: return _("address type not supported");
	default: return _("unassigned reply code");
	}
}

/* RFC 1929: version 1, the user, the password; the buffer is wiped. */
static bool socks_auth(struct hop *h, const struct secret *s, struct result *r)
{
	unsigned char buf[3 + 255 + 255], ans[2];
	size_t ulen = strlen(h->url->user), n;
	bool ok;

	if (ulen > 255 || s->len > 255)
		return result_fail(r, RESULT_CONFIG, _("%s: SOCKS5 allows a user name and a password of at most 255 bytes"),
				   h->label);
	buf[0] = 1;
	buf[1] = (unsigned char)ulen;
	memcpy(buf + 2, h->url->user, ulen);
	buf[2 + ulen] = (unsigned char)s->len;
	memcpy(buf + 3 + ulen, s->data, s->len);
	n = 3 + ulen + s->len;
	ok = send_all(h, buf, n, r);
	explicit_bzero(buf, sizeof buf);
	if (!ok || !recv_exact(h, ans, 2, r))
		return false;
	if (ans[1] != 0)
		return result_fail(r, RESULT_NOPERM, _("%s: authentication failed (user %s)"), h->label,
				   h->url->user);
	return true;
}

static bool socks_greet(struct hop *h, const struct secret *s, struct result *r)
{
	unsigned char hello[3] = { 5, 1, s->data != NULL ? 2 : 0 }, ans[2];

	if (!send_all(h, hello, sizeof hello, r) || !recv_exact(h, ans, 2, r))
		return false;
	if (ans[0] != 5)
		return not_a_proxy(h, _("a SOCKS5 proxy"), ans, 2, r);
	if (ans[1] == hello[2])
		return hello[2] == 0 || socks_auth(h, s, r);
	if (ans[1] == 0xff && s->data == NULL)
		return result_fail(r, RESULT_NOPERM,
				   _("%s: authentication failed (the proxy wants a user name and password: proxy = socks5h://user@host:port)"),
				   h->label);
	if (ans[1] == 0xff)
		return result_fail(r, RESULT_NOPERM,
				   _("%s: authentication failed (the proxy accepts no user name and password)"), h->label);
	return not_a_proxy(h, _("a SOCKS5 proxy"), ans, 2, r);
}

/* The CONNECT request: the relay by name (ATYP 3), or an IP literal. */
static size_t socks_request(const char *host, unsigned port, unsigned char *req)
{
	size_t n = 4, len = strlen(host);

	req[0] = 5, req[1] = 1, req[2] = 0;
	if (inet_pton(AF_INET, host, req + 4) == 1) {
		req[3] = 1;
		n += 4;
	} else if (inet_pton(AF_INET6, host, req + 4) == 1) {
		req[3] = 4;
		n += 16;
	} else {
		req[3] = 3;
		req[4] = (unsigned char)len;
		memcpy(req + 5, host, len);
		n += 1 + len;
	}
	req[n++] = (unsigned char)(port >> 8);
	req[n++] = (unsigned char)(port & 0xff);
	return n;
}

static bool socks_connect(struct hop *h, const char *host, unsigned port, struct result *r)
{
	unsigned char req[4 + 1 + 255 + 2], ans[4 + 1 + 255 + 2];
	size_t rest;

	if (strlen(host) > 255)
		return result_fail(r, RESULT_CONFIG, _("%s: the relay's name is too long for SOCKS5"), h->label);
	if (!send_all(h, req, socks_request(host, port, req), r) || !recv_exact(h, ans, 4, r))
		return false;
	if (ans[0] != 5)
		return not_a_proxy(h, _("a SOCKS5 proxy"), ans, 4, r);
	if (ans[1] != 0)
		return result_fail(r, ans[1] == 2 ? RESULT_NOPERM : RESULT_TEMPFAIL,
				   _("%s refused the connection to %s: SOCKS5 reply %u (%s)"), h->label, h->target,
				   ans[1], socks_reply_text(ans[1]));
	/* The bound address is of no use to us, but it must be read so the
	 * relay's first bytes come next. */
	if (ans[3] == 1)
		rest = 4 + 2;
	else if (ans[3] == 4)
		rest = 16 + 2;
	else if (ans[3] != 3)
		return not_a_proxy(h, _("a SOCKS5 proxy"), ans, 4, r);
	else if (recv_exact(h, ans + 4, 1, r))
		rest = (size_t)ans[4] + 2;
	else
		return false;
	return recv_exact(h, ans + 5, rest, r);
}

/* ---- HTTP CONNECT ------------------------------------------------------- */

int proxy_http_status(const char *line, size_t len)
{
	if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
	    line[8] != ' ' || line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' ||
	    line[11] < '0' || line[11] > '9' || (len > 12 && line[12] != ' ' && line[12] != '\r'))
		return -1;
	return (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
}

/* The base64 of "user:password" that the CONNECT request has room for. */
#define PROXY_AUTH_MAX (4 * 520)

/* "user:password" in base64 for Proxy-Authorization; the caller wipes
 * and gnutls_free()s it. */
static bool proxy_credentials(struct hop *h, const struct secret *s, gnutls_datum_t *b64,
			      struct result *r)
{
	char pair[256 + 1 + SECRET_MAX + 1];
	int plen = snprintf(pair, sizeof pair, "%s:%s", h->url->user, s->data);
	gnutls_datum_t in = { (unsigned char *)pair, plen > 0 ? (unsigned)plen : 0 };
	bool ok = plen >= 0 && (size_t)plen < sizeof pair && gnutls_base64_encode2(&in, b64) >= 0 &&
		  b64->size <= PROXY_AUTH_MAX;

	explicit_bzero(pair, sizeof pair);
	if (!ok)
		return result_fail(r, RESULT_CONFIG, _("%s: the proxy password is too long"), h->label);
	return true;
}

/* The request, with Proxy-Authorization when there is a user; wiped. */
static bool http_request(struct hop *h, const char *host, unsigned port, const struct secret *s,
			 struct result *r)
{
	char req[1024 + PROXY_AUTH_MAX], hostport[300];
	gnutls_datum_t b64 = { NULL, 0 };
	bool auth = s->data != NULL, ok = false;
	int n;

	snprintf(hostport, sizeof hostport, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	if (auth && !proxy_credentials(h, s, &b64, r))
		goto out;
	n = snprintf(req, sizeof req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%.*s%s\r\n",
		     hostport, hostport, auth ? "Proxy-Authorization: Basic " : "",
		     (int)b64.size, auth ? (const char *)b64.data : "", auth ? "\r\n" : "");
	/* A cut request would send a different one: refuse it instead. */
	if (n < 0 || (size_t)n >= sizeof req)
		result_fail(r, RESULT_CONFIG, _("%s: the proxy request is too long"), h->label);
	else
		ok = send_all(h, req, (size_t)n, r);
	explicit_bzero(req, sizeof req);
out:
	if (b64.data != NULL) {
		explicit_bzero(b64.data, b64.size);
		gnutls_free(b64.data);
	}
	return ok;
}

/* Reads the status line and headers, not one byte more (the relay's
 * greeting follows): peek, then take up to the empty line. */
static bool http_read_head(struct hop *h, char *head, size_t size, size_t *len, struct result *r)
{
	*len = 0;
	while (*len < size - 1) {
		ssize_t got = recv_some(h, head + *len, size - 1 - *len, MSG_PEEK, r);
		char *end;

		if (got < 0)
			return false;
		head[*len + (size_t)got] = '\0';
		end = memmem(*len >= 3 ? head + *len - 3 : head, (size_t)got + (*len >= 3 ? 3 : *len),
			     "\r\n\r\n", 4);
		if (end != NULL)
			got = end + 4 - (head + *len);
		if (!recv_exact(h, head + *len, (size_t)got, r))
			return false;
		*len += (size_t)got;
		head[*len] = '\0';
		if (end != NULL)
			return true;
		if (*len >= 5 && proxy_http_status(head, *len) < 0 && memcmp(head, "HTTP/", 5) != 0)
			return not_a_proxy(h, _("an HTTP proxy"), (const unsigned char *)head, *len, r);
	}
	return result_fail(r, RESULT_PROTOCOL, _("%s: the answer's headers are longer than %u bytes"), h->label,
			   (unsigned)(size - 1));
}

static bool http_connect(struct hop *h, const char *host, unsigned port, const struct secret *s,
			 struct result *r)
{
	char head[PROXY_HTTP_HEADERS_MAX + 1], reason[200];
	size_t len;
	int status;

	if (!http_request(h, host, port, s, r) || !http_read_head(h, head, sizeof head, &len, r))
		return false;
	status = proxy_http_status(head, len);
	if (status < 0)
		return not_a_proxy(h, _("an HTTP proxy"), (const unsigned char *)head, len, r);
	log_printable(reason, sizeof reason, head, strcspn(head, "\r\n"));
	if (status == 200)
		return true;
	if (status == 407 && s->data != NULL)
		return result_fail(r, RESULT_NOPERM, _("%s: authentication failed (user %s): \"%s\""),
				   h->label, h->url->user, reason);
	if (status == 407)
		return result_fail(r, RESULT_NOPERM,
				   _("%s: authentication failed (the proxy wants a user name and password: proxy = http://user@host:port): \"%s\""),
				   h->label, reason);
	return result_fail(r, status == 403 ? RESULT_NOPERM : RESULT_TEMPFAIL,
			   _("%s refused the connection to %s: \"%s\""), h->label, h->target, reason);
}

/* ---- the whole -------------------------------------------------------- */

static bool tunnel(struct hop *h, const struct account *acct, const struct secret *s, struct result *r)
{
	bool ok = h->url->scheme == PROXY_SOCKS5H
		  ? socks_greet(h, s, r) && socks_connect(h, acct->host, acct->port, r)
		  : http_connect(h, acct->host, acct->port, s, r);

	if (ok && h->verbose) {
		char text[400];

		snprintf(text, sizeof text, _("%s: tunnel to %s open (%s)"), h->label, h->target,
			 h->url->scheme == PROXY_SOCKS5H ? "SOCKS5" : "HTTP CONNECT");
		log_trace("---", text, strlen(text));
	}
	return ok;
}

bool proxy_connect(const struct account *acct, const struct connect_params *cp, bool verbose,
		   int *fd_out, struct connect_report *rep, struct result *r)
{
	struct proxy_url url;
	struct secret s = { NULL, 0, NULL };
	struct hop h = { .fd = -1, .url = &url, .timeout_s = cp->timeout_s, .verbose = verbose };
	char why[256];
	bool ok = false;

	*fd_out = -1;
	memset(rep, 0, sizeof *rep);
	rep->chosen = -1;
	rep->via_proxy = true;
	if (!proxy_parse(acct->proxy, &url, why, sizeof why))
		return result_fail(r, RESULT_CONFIG, _("invalid proxy '%s': %s"), acct->proxy, why);
	proxy_label(&url, h.label, sizeof h.label);
	snprintf(h.target, sizeof h.target, strchr(acct->host, ':') ? "[%s]:%u" : "%s:%u", acct->host,
		 acct->port);
	if (!proxy_secret(acct, &url, &s, r))
		return false;
	h.deadline = now_ms() + (long long)cp->timeout_s * 1000;
	if (!net_connect(url.host, url.port, cp, h.label, &h.fd, rep, r))
		goto out;
	ok = tunnel(&h, acct, &s, r);
out:
	secret_wipe(&s);
	if (ok)
		*fd_out = h.fd;
	else if (h.fd >= 0)
		close(h.fd);
	return ok;
}
