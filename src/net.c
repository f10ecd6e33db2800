#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "i18n.h"
#include "net.h"

/* Returns a connected socket or -1 with errno set. */
static int connect_one(const struct addrinfo *ai, unsigned timeout_s)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 0, one = 1, rc;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -1;
	/* Without it Nagle and delayed ACKs stall every small TLS record. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do {
			rc = poll(&pfd, 1, (int)timeout_s * 1000);
		} while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			goto fail;
		if (err != 0) {
			errno = err;
			goto fail;
		}
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

bool net_connect(const char *host, unsigned port, unsigned timeout_s, int *fd_out,
		 struct result *r)
{
	struct addrinfo hints, *list = NULL;
	char service[8];
	int rc, last_errno = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(service, sizeof service, "%u", port);
	rc = getaddrinfo(host, service, &hints, &list);
	if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_FAIL)
		return result_fail(r, RESULT_NOHOST, _("relay host %s: %s"), host, gai_strerror(rc));
	if (rc != 0)
		return result_fail(r, RESULT_TEMPFAIL, _("relay host %s: %s"), host,
				   rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	*fd_out = -1;
	for (const struct addrinfo *ai = list; ai != NULL && *fd_out < 0; ai = ai->ai_next) {
		*fd_out = connect_one(ai, timeout_s);
		if (*fd_out < 0)
			last_errno = errno;
	}
	freeaddrinfo(list);
	if (*fd_out < 0)
		return result_fail(r, RESULT_TEMPFAIL, _("cannot connect to %s port %u: %s"), host, port,
				   strerror(last_errno));
	return true;
}
