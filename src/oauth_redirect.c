#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "i18n.h"
#include "log.h"
#include "oauth_redirect.h"

/* Browsers open spare connections and may leave them idle: several
 * clients are served side by side so an idle one delays nobody. */
#define CLIENTS_MAX 4
#define CLIENT_TIMEOUT_MS 10000
#define STATE_MAX 512
#define ERROR_MAX 256
#define ERROR_DESC_MAX 512

struct client {
	int fd;
	long long deadline;             /* monotonic ms */
	size_t len;
	char buf[OAUTH_REDIRECT_LINE_MAX];
};

struct input {
	int fd;                         /* -1 once closed */
	size_t len;
	char buf[OAUTH_REDIRECT_LINE_MAX + 1];
};

/* What the query of the redirect carries (RFC 6749 4.1.2, 4.1.2.1). */
struct answer {
	char code[OAUTH_CODE_MAX + 1];
	char state[STATE_MAX + 1];
	char error[ERROR_MAX + 1];
	char desc[ERROR_DESC_MAX + 1];
	bool has_code, has_state, has_error, has_desc, bad;
};

/* The whole wait: one allocation, wiped at the end (it holds the code). */
struct waiter {
	struct client clients[CLIENTS_MAX];
	struct input in;
	struct answer ans;
	const char *state;              /* expected */
	char *code;
	size_t code_size;
	struct result *r;
	bool done, ok;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool oauth_redirect_listen(struct oauth_redirect *rd, struct result *r)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof sa;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rd->uri[0] = '\0';
	rd->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (rd->listen_fd < 0)
		return result_fail(r, RESULT_OSERR, _("cannot open the redirect listener: %s"),
				   strerror(errno));
	if (bind(rd->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(rd->listen_fd, 8) != 0 ||
	    getsockname(rd->listen_fd, (struct sockaddr *)&sa, &salen) != 0) {
		result_fail(r, RESULT_OSERR, _("cannot open the redirect listener: %s"), strerror(errno));
		oauth_redirect_close(rd);
		return false;
	}
	snprintf(rd->uri, sizeof rd->uri, "http://127.0.0.1:%u/", (unsigned)ntohs(sa.sin_port));
	return true;
}

void oauth_redirect_close(struct oauth_redirect *rd)
{
	if (rd->listen_fd >= 0)
		close(rd->listen_fd);
	rd->listen_fd = -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) ('+' is a space, as forms encode it) into out.
 * false on a broken escape, a NUL or when it does not fit. */
static bool decode(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= n)
				return false;
			if (hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return false;
			c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		}
		if (c == 0 || o + 1 >= size)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return true;
}

/* One name=value of the query; repeated parameters are refused (RFC 6749
 * 3.1), unknown ones ignored. */
static void answer_param(struct answer *a, const char *p, size_t n)
{
	const char *eq = memchr(p, '=', n);
	static const char *const names[] = { "code", "state", "error", "error_description" };
	char name[24];
	size_t nlen = eq ? (size_t)(eq - p) : n;
	size_t vlen = eq ? n - nlen - 1 : 0;
	char *dst[] = { a->code, a->state, a->error, a->desc };
	size_t dsize[] = { sizeof a->code, sizeof a->state, sizeof a->error, sizeof a->desc };
	bool *seen[] = { &a->has_code, &a->has_state, &a->has_error, &a->has_desc };

	if (!decode(p, nlen, name, sizeof name))
		return;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		if (strcmp(name, names[i]) != 0)
			continue;
		if (*seen[i] || !decode(eq ? eq + 1 : p + n, vlen, dst[i], dsize[i]))
			a->bad = true;
		*seen[i] = true;
	}
}

/* query: "a=b&c=d" up to the end of s[0..n) or a '#'. */
static void answer_parse(struct answer *a, const char *s, size_t n)
{
	const char *end;

	memset(a, 0, sizeof *a);
	end = memchr(s, '#', n);
	if (end != NULL)
		n = (size_t)(end - s);
	while (n > 0) {
		const char *amp = memchr(s, '&', n);
		size_t len = amp ? (size_t)(amp - s) : n;

		if (len > 0)
			answer_param(a, s, len);
		if (amp == NULL)
			break;
		n -= len + 1;
		s = amp + 1;
	}
}

static bool state_equal(const char *got, const char *want)
{
	size_t n = strlen(want);

	return strlen(got) == n && gnutls_memcmp(got, want, n) == 0;
}

/* Decide on an answer (from the browser or pasted): the state first, so
 * a forged request cannot even put its text on the terminal. */
static bool answer_check(const struct answer *a, const char *expected_state, char *code,
			 size_t code_size, struct result *r)
{
	char err[4 * ERROR_MAX + 1], desc[4 * 200 + 1];

	if (a->bad)
		return result_fail(r, RESULT_PROTOCOL,
				   _("the authorization answer is malformed (a broken or repeated parameter)"));
	if (!a->has_state || !state_equal(a->state, expected_state))
		return result_fail(r, RESULT_NOPERM,
				   _("the authorization answer does not carry the state relaymail sent "
				     "(possibly forged): refused"));
	if (a->has_error) {
		log_escape(err, sizeof err, a->error);
		log_escape(desc, sizeof desc, a->desc);
		if (desc[0] == '\0')
			return result_fail(r, RESULT_NOPERM, _("the authorization was refused: %s"), err);
		return result_fail(r, RESULT_NOPERM, _("the authorization was refused: %s (%s)"), err, desc);
	}
	if (!a->has_code || a->code[0] == '\0')
		return result_fail(r, RESULT_PROTOCOL, _("the authorization answer has no code"));
	if (strlen(a->code) >= code_size)
		return result_fail(r, RESULT_PROTOCOL, _("the authorization code is too long"));
	memcpy(code, a->code, strlen(a->code) + 1);
	return true;
}

/* Decide, and remember that waiting is over. */
static void waiter_finish(struct waiter *w)
{
	w->done = true;
	w->ok = answer_check(&w->ans, w->state, w->code, w->code_size, w->r);
}

static void client_reply(int fd, int status, const char *text)
{
	char body[1024], msg[2048];
	int blen, mlen;

	blen = snprintf(body, sizeof body,
			"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>relaymail</title>"
			"</head><body><p>%s</p></body></html>\n", text);
	if (blen < 0 || (size_t)blen >= sizeof body)
		return;
	mlen = snprintf(msg, sizeof msg,
			"HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
			"Content-Length: %d\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n"
			"Connection: close\r\n\r\n%s", status,
			status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request", blen, body);
	/* A page this small fits the socket buffer; a client that does not
	 * read it loses nothing of ours. */
	if (mlen > 0 && (size_t)mlen < sizeof msg)
		(void)!send(fd, msg, (size_t)mlen, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void client_drop(struct client *cl)
{
	if (cl->fd >= 0) {
		shutdown(cl->fd, SHUT_WR);
		close(cl->fd);
	}
	explicit_bzero(cl->buf, cl->len);
	cl->fd = -1;
	cl->len = 0;
}

/* "GET /?query HTTP/1.x": the status to answer, and the query. */
static int request_target(const char *line, size_t n, const char **query, size_t *qlen)
{
	const char *target, *sp;
	size_t tlen;

	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (n < 4 || memcmp(line, "GET ", 4) != 0)
		return 400;
	target = line + 4;
	sp = memchr(target, ' ', n - 4);
	if (sp == NULL || (size_t)(line + n - (sp + 1)) != 8 || memcmp(sp + 1, "HTTP/1.", 7) != 0)
		return 400;
	tlen = (size_t)(sp - target);
	if (tlen == 0 || target[0] != '/' || (tlen > 1 && target[1] != '?'))
		return 404;
	*query = tlen > 1 ? target + 2 : target + tlen;
	*qlen = tlen > 1 ? tlen - 2 : 0;
	return 200;
}

static void client_request(struct waiter *w, struct client *cl)
{
	const char *nl = memchr(cl->buf, '\n', cl->len);
	const char *query = NULL;
	size_t qlen = 0;
	int status = request_target(cl->buf, (size_t)(nl - cl->buf), &query, &qlen);

	if (status == 200) {
		answer_parse(&w->ans, query, qlen);
		if (!w->ans.has_code && !w->ans.has_error && !w->ans.bad)
			status = 404;
	}
	if (status != 200) {
		client_reply(cl->fd, status, status == 404 ? _("Not found.") : _("Bad request."));
	} else {
		waiter_finish(w);
		client_reply(cl->fd, 200, w->ok ? _("relaymail has received the authorization. "
						    "You can close this window.")
						 : _("relaymail refused this answer; the terminal says why. "
						     "You can close this window."));
	}
	client_drop(cl);
}

/* Reads what the client sent; the request is handled once its head
 * (request line and headers) is complete, so that closing does not reset
 * a connection with unread data. */
static void client_read(struct waiter *w, struct client *cl)
{
	ssize_t n = read(cl->fd, cl->buf + cl->len, sizeof cl->buf - cl->len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_drop(cl);
		return;
	}
	cl->len += (size_t)n;
	if (memmem(cl->buf, cl->len, "\r\n\r\n", 4) != NULL || memmem(cl->buf, cl->len, "\n\n", 2) != NULL)
		client_request(w, cl);
	else if (cl->len == sizeof cl->buf) {
		client_reply(cl->fd, 400, _("Bad request."));
		client_drop(cl);
	}
}

static void client_accept(struct waiter *w, int listen_fd)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct client *slot = &w->clients[0];

	if (fd < 0)
		return;
	/* A free slot, else the client that has waited longest goes. */
	for (size_t i = 0; i < CLIENTS_MAX; i++) {
		if (w->clients[i].fd < 0) {
			slot = &w->clients[i];
			break;
		}
		if (w->clients[i].deadline < slot->deadline)
			slot = &w->clients[i];
	}
	client_drop(slot);
	slot->fd = fd;
	slot->deadline = now_ms() + CLIENT_TIMEOUT_MS;
}

/* One pasted line: the address the browser was sent to, or its query. */
static void input_line(struct waiter *w, char *line, size_t n)
{
	const char *q;

	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	while (n > 0 && (line[0] == ' ' || line[0] == '\t')) {
		line++;
		n--;
	}
	if (n == 0)
		return;
	q = memchr(line, '?', n);
	if (q != NULL) {
		n -= (size_t)(q + 1 - line);
		line = (char *)q + 1;
	}
	answer_parse(&w->ans, line, n);
	if (!w->ans.has_code && !w->ans.has_error && !w->ans.bad) {
		w->done = true;
		w->ok = result_fail(w->r, RESULT_PROTOCOL,
				    _("the pasted line carries no code: paste the whole address "
				      "the browser was sent to"));
		return;
	}
	waiter_finish(w);
}

static void input_read(struct waiter *w)
{
	struct input *in = &w->in;
	ssize_t n = read(in->fd, in->buf + in->len, OAUTH_REDIRECT_LINE_MAX - in->len);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		w->done = true;
		w->ok = result_fail(w->r, RESULT_OSERR, _("cannot read the pasted address: %s"),
				    strerror(errno));
		return;
	}
	if (n == 0) {
		/* The last line may lack its newline. */
		in->fd = -1;
		if (in->len > 0)
			input_line(w, in->buf, in->len);
		if (!w->done) {
			w->done = true;
			w->ok = result_fail(w->r, RESULT_TEMPFAIL,
					    _("the input was closed before an authorization answer arrived"));
		}
		return;
	}
	in->len += (size_t)n;
	while (!w->done && (nl = memchr(in->buf, '\n', in->len)) != NULL) {
		size_t used = (size_t)(nl + 1 - in->buf);

		input_line(w, in->buf, used - 1);
		memmove(in->buf, in->buf + used, in->len - used);
		explicit_bzero(in->buf + in->len - used, used);
		in->len -= used;
	}
	if (!w->done && in->len == OAUTH_REDIRECT_LINE_MAX) {
		w->done = true;
		w->ok = result_fail(w->r, RESULT_PROTOCOL, _("the pasted line is too long"));
	}
}

/* One poll round.  Returns false when the time is up. */
static bool wait_round(struct waiter *w, int listen_fd, long long deadline)
{
	struct pollfd pfd[CLIENTS_MAX + 2];
	long long now = now_ms(), until = deadline;
	int rc;

	if (now >= deadline)
		return false;
	pfd[0] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = w->in.fd, .events = POLLIN };
	for (size_t i = 0; i < CLIENTS_MAX; i++) {
		pfd[i + 2] = (struct pollfd){ .fd = w->clients[i].fd, .events = POLLIN };
		if (w->clients[i].fd >= 0 && w->clients[i].deadline < until)
			until = w->clients[i].deadline;
	}
	if (until - now > 60000)
		until = now + 60000;
	rc = poll(pfd, CLIENTS_MAX + 2, (int)(until > now ? until - now : 0));
	if (rc < 0 && errno != EINTR) {
		w->done = true;
		w->ok = result_fail(w->r, RESULT_OSERR, _("cannot wait for the authorization: %s"),
				    strerror(errno));
		return true;
	}
	now = now_ms();
	for (size_t i = 0; i < CLIENTS_MAX; i++)
		if (w->clients[i].fd >= 0 && w->clients[i].deadline <= now)
			client_drop(&w->clients[i]);
	if (rc <= 0)
		return true;
	if (pfd[1].revents != 0)
		input_read(w);
	for (size_t i = 0; !w->done && i < CLIENTS_MAX; i++)
		if (pfd[i + 2].revents != 0 && w->clients[i].fd == pfd[i + 2].fd)
			client_read(w, &w->clients[i]);
	if (!w->done && (pfd[0].revents & POLLIN))
		client_accept(w, listen_fd);
	return true;
}

bool oauth_redirect_wait(struct oauth_redirect *rd, int input_fd, const char *expected_state,
			 unsigned timeout_s, char *code, size_t code_size, struct result *r)
{
	struct waiter *w = calloc(1, sizeof *w);
	long long deadline = now_ms() + (long long)timeout_s * 1000;
	bool ok;

	if (w == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	for (size_t i = 0; i < CLIENTS_MAX; i++)
		w->clients[i].fd = -1;
	w->in.fd = input_fd;
	w->state = expected_state;
	w->code = code;
	w->code_size = code_size;
	w->r = r;
	while (!w->done) {
		if (!wait_round(w, rd->listen_fd, deadline)) {
			result_fail(r, RESULT_TEMPFAIL, _("no authorization answer within %u s"), timeout_s);
			break;
		}
	}
	for (size_t i = 0; i < CLIENTS_MAX; i++)
		client_drop(&w->clients[i]);
	ok = w->done && w->ok;
	explicit_bzero(w, sizeof *w);
	free(w);
	return ok;
}
