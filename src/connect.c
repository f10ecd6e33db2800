#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "connect.h"
#include "i18n.h"
#include "log.h"

/* The attempts in flight and when each began. */
struct race {
	struct pollfd pfd[CONNECT_ATTEMPTS_MAX];
	size_t attempt[CONNECT_ATTEMPTS_MAX];   /* index in the report of pfd[i] */
	long long began[CONNECT_ATTEMPTS_MAX];
	size_t pending;
	int winner_fd;
	struct sockaddr_storage src;
	socklen_t srclen;                       /* 0: no source_ip */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum connect_outcome outcome_of(int err)
{
	switch (err) {
	case ECONNREFUSED: return CONNECT_REFUSED;
	case ETIMEDOUT: return CONNECT_TIMED_OUT;
	case ENETUNREACH: case EHOSTUNREACH: case ENETDOWN: case EHOSTDOWN: return CONNECT_UNREACHABLE;
	default: return CONNECT_FAILED;
	}
}

/* source_ip decides the family; false when it is not numeric (config.c
 * checked it already). */
static bool parse_source(const char *ip, struct race *race)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)&race->src;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&race->src;

	memset(&race->src, 0, sizeof race->src);
	race->srclen = 0;
	if (ip == NULL)
		return true;
	if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		race->srclen = sizeof *v4;
	} else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		race->srclen = sizeof *v6;
	}
	return race->srclen != 0;
}

static bool family_allowed(int af, const struct connect_params *p, const struct race *race)
{
	if ((af == AF_INET && p->family == IP_FAMILY_IPV6) || (af == AF_INET6 && p->family == IP_FAMILY_IPV4))
		return false;
	return race->srclen == 0 || race->src.ss_family == af;
}

/* RFC 8305 section 4: IPv6 first, then alternate families, each family
 * in getaddrinfo()'s (RFC 6724) order. */
static size_t order_addresses(const struct addrinfo *list, const struct connect_params *p,
			      const struct race *race, const struct addrinfo **out,
			      struct connect_report *rep)
{
	const struct addrinfo *v6[CONNECT_ATTEMPTS_MAX], *v4[CONNECT_ATTEMPTS_MAX];
	size_t n6 = 0, n4 = 0, n = 0;

	for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		rep->had_v4 |= ai->ai_family == AF_INET;
		rep->had_v6 |= ai->ai_family == AF_INET6;
		if (!family_allowed(ai->ai_family, p, race))
			rep->filtered++;
		else if (ai->ai_family == AF_INET6 && n6 < CONNECT_ATTEMPTS_MAX)
			v6[n6++] = ai;
		else if (ai->ai_family == AF_INET && n4 < CONNECT_ATTEMPTS_MAX)
			v4[n4++] = ai;
	}
	for (size_t i = 0; n < CONNECT_ATTEMPTS_MAX && (i < n6 || i < n4); i++) {
		if (i < n6)
			out[n++] = v6[i];
		if (i < n4 && n < CONNECT_ATTEMPTS_MAX)
			out[n++] = v4[i];
	}
	return n;
}

/* A non-blocking socket with the connect under way (*done: already
 * connected), or -1 with errno set. */
static int start_attempt(const struct addrinfo *ai, const struct race *race, bool *done)
{
	int fd, one = 1, err;

	*done = false;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -1;
	/* Without it Nagle and delayed ACKs stall every small TLS record. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (race->srclen != 0) {
		/* The port is chosen at connect(), per destination: many
		 * connections from one source_ip do not exhaust the ports. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		if (bind(fd, (const struct sockaddr *)&race->src, race->srclen) != 0)
			goto fail;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		*done = true;
	else if (errno != EINPROGRESS)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

static void record(struct connect_report *rep, size_t i, enum connect_outcome o, int err, long long began)
{
	rep->at[i].outcome = o;
	rep->at[i].err = err;
	rep->at[i].ms = (unsigned)(now_ms() - began);
}

static void drop_pending(struct race *race, size_t k)
{
	race->pending--;
	race->pfd[k] = race->pfd[race->pending];
	race->attempt[k] = race->attempt[race->pending];
	race->began[k] = race->began[race->pending];
}

/* Starts attempt i; false when it failed at once (recorded). */
static bool launch(const struct addrinfo *ai, size_t i, struct race *race, struct connect_report *rep)
{
	struct connect_attempt *a = &rep->at[i];
	long long began = now_ms();
	bool done;
	int fd;

	getnameinfo(ai->ai_addr, ai->ai_addrlen, a->addr, sizeof a->addr, NULL, 0, NI_NUMERICHOST);
	a->port = ntohs(ai->ai_family == AF_INET6 ? ((const struct sockaddr_in6 *)ai->ai_addr)->sin6_port
			: ((const struct sockaddr_in *)ai->ai_addr)->sin_port);
	rep->n = i + 1;
	fd = start_attempt(ai, race, &done);
	if (fd < 0) {
		record(rep, i, outcome_of(errno), errno, began);
		return false;
	}
	if (done) {
		record(rep, i, CONNECT_CONNECTED, 0, began);
		rep->chosen = (int)i;
		race->winner_fd = fd;
		return true;
	}
	race->pfd[race->pending] = (struct pollfd){ .fd = fd, .events = POLLOUT };
	race->attempt[race->pending] = i;
	race->began[race->pending] = began;
	race->pending++;
	return true;
}

/* Looks at the attempts poll() woke for; true when one connected. */
static bool collect(struct race *race, struct connect_report *rep, bool *failed)
{
	for (size_t k = 0; k < race->pending;) {
		socklen_t len = sizeof(int);
		int err = 0;

		if (race->pfd[k].revents == 0) {
			k++;
			continue;
		}
		if (getsockopt(race->pfd[k].fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err == 0) {
			record(rep, race->attempt[k], CONNECT_CONNECTED, 0, race->began[k]);
			rep->chosen = (int)race->attempt[k];
			race->winner_fd = race->pfd[k].fd;
			drop_pending(race, k);
			return true;
		}
		record(rep, race->attempt[k], outcome_of(err), err, race->began[k]);
		close(race->pfd[k].fd);
		drop_pending(race, k);
		*failed = true;
	}
	return false;
}

/* The others lost (CONNECT_CANCELLED) or ran out of time. */
static void close_pending(struct race *race, struct connect_report *rep, enum connect_outcome o)
{
	while (race->pending > 0) {
		size_t k = race->pending - 1;

		record(rep, race->attempt[k], o, o == CONNECT_TIMED_OUT ? ETIMEDOUT : 0, race->began[k]);
		close(race->pfd[k].fd);
		race->pending--;
	}
}

static void race_run(const struct addrinfo **order, size_t n, long long deadline,
		     struct race *race, struct connect_report *rep)
{
	long long next_at = 0, now;
	size_t next = 0;
	bool failed;
	int wait, rc;

	while (race->winner_fd < 0) {
		now = now_ms();
		if (now >= deadline) {
			close_pending(race, rep, CONNECT_TIMED_OUT);
			return;
		}
		if (next < n && (now >= next_at || race->pending == 0)) {
			/* RFC 8305 section 5: the next attempt starts after the
			 * Connection Attempt Delay, or at once when one fails. */
			next_at = launch(order[next], next, race, rep) ? now + CONNECT_ATTEMPT_DELAY_MS : now;
			next++;
			continue;
		}
		if (race->pending == 0)
			return;
		wait = (int)(deadline - now);
		if (next < n && next_at - now < wait)
			wait = (int)(next_at - now);
		rc = poll(race->pfd, race->pending, wait);
		if (rc <= 0)
			continue;       /* EINTR or the time to start the next one */
		failed = false;
		if (!collect(race, rep, &failed) && failed)
			next_at = now_ms();
	}
}

bool connect_happy(const struct addrinfo *list, const struct connect_params *p, int *fd_out,
		   struct connect_report *rep)
{
	const struct addrinfo *order[CONNECT_ATTEMPTS_MAX];
	struct race race = { .pending = 0, .winner_fd = -1 };
	size_t n;

	memset(rep, 0, sizeof *rep);
	rep->chosen = -1;
	*fd_out = -1;
	if (!parse_source(p->source_ip, &race))
		return false;
	n = order_addresses(list, p, &race, order, rep);
	race_run(order, n, now_ms() + (long long)p->timeout_s * 1000, &race, rep);
	close_pending(&race, rep, CONNECT_CANCELLED);
	if (race.winner_fd < 0)
		return false;
	if (fcntl(race.winner_fd, F_SETFL, fcntl(race.winner_fd, F_GETFL) & ~O_NONBLOCK) != 0) {
		rep->at[rep->chosen].outcome = CONNECT_FAILED;
		rep->at[rep->chosen].err = errno;
		rep->chosen = -1;
		close(race.winner_fd);
		return false;
	}
	*fd_out = race.winner_fd;
	return true;
}

static const char *family_name(int af)
{
	return af == AF_INET ? "IPv4" : "IPv6";
}

/* Nothing to try: say which setting left nothing. */
static const char *why_none(const struct connect_report *rep, const struct connect_params *p,
			    char *buf, size_t size)
{
	struct race race;
	int src_af;

	if (!parse_source(p->source_ip, &race)) {
		snprintf(buf, size, _("source_ip %s is not an IP address"), p->source_ip);
		return buf;
	}
	src_af = race.srclen ? race.src.ss_family : AF_UNSPEC;
	if (src_af != AF_UNSPEC && p->family != IP_FAMILY_ANY &&
	    (src_af == AF_INET) != (p->family == IP_FAMILY_IPV4))
		snprintf(buf, size, _("ip_family = %s and source_ip %s (%s) exclude each other"),
			 p->family == IP_FAMILY_IPV4 ? "ipv4" : "ipv6", p->source_ip, family_name(src_af));
	else if (src_af != AF_UNSPEC)
		snprintf(buf, size, _("no %s address (source_ip %s is an %s address, so only %s addresses are tried)"),
			 family_name(src_af), p->source_ip, family_name(src_af), family_name(src_af));
	else if (p->family != IP_FAMILY_ANY)
		snprintf(buf, size, _("no %s address (ip_family = %s)"),
			 family_name(p->family == IP_FAMILY_IPV4 ? AF_INET : AF_INET6),
			 p->family == IP_FAMILY_IPV4 ? "ipv4" : "ipv6");
	else
		snprintf(buf, size, "%s", _("no IPv4 or IPv6 address"));
	(void)rep;
	return buf;
}

const char *connect_reason(const struct connect_report *rep, const struct connect_params *p,
			   char *buf, size_t size)
{
	size_t used = 0;

	if (rep->n == 0)
		return why_none(rep, p, buf, size);
	if (rep->n == 1) {
		snprintf(buf, size, "%s", strerror(rep->at[0].err ? rep->at[0].err : ETIMEDOUT));
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < rep->n && used < size; i++) {
		int w = snprintf(buf + used, size - used, "%s%s: %s", i ? "; " : "", rep->at[i].addr,
				 strerror(rep->at[i].err ? rep->at[i].err : ETIMEDOUT));

		if (w < 0)
			break;
		used += (size_t)w;
	}
	return buf;
}

static const char *outcome_text(const struct connect_attempt *a)
{
	switch (a->outcome) {
	case CONNECT_CONNECTED: return _("connected");
	case CONNECT_REFUSED: return _("refused");
	case CONNECT_TIMED_OUT: return _("timed out");
	case CONNECT_UNREACHABLE: return _("unreachable");
	case CONNECT_CANCELLED: return _("cancelled (another address answered first)");
	case CONNECT_FAILED: break;
	}
	return strerror(a->err);
}

const char *connect_describe(const struct connect_report *rep, size_t i, char *buf, size_t size)
{
	const struct connect_attempt *a = &rep->at[i];

	const char *chosen = (int)i == rep->chosen ? _(" (chosen)") : "";

	/* TRANSLATORS: "::1 port 587: refused after 3 ms" */
	if (!rep->via_proxy)
		snprintf(buf, size, _("%s port %u: %s after %u ms%s"), a->addr, a->port, outcome_text(a),
			 a->ms, chosen);
	else    /* TRANSLATORS: "proxy 127.0.0.1 port 1080: connected after 0 ms (chosen)" */
		snprintf(buf, size, _("proxy %s port %u: %s after %u ms%s"), a->addr, a->port,
			 outcome_text(a), a->ms, chosen);
	return buf;
}

void connect_report_trace(const struct connect_report *rep)
{
	char line[256], text[300];

	for (size_t i = 0; i < rep->n; i++) {
		snprintf(text, sizeof text, _("connect %s"), connect_describe(rep, i, line, sizeof line));
		log_trace("---", text, strlen(text));
	}
}
