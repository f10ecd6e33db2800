/* LD_PRELOAD shim for the benchmark: every TCP socket gets TCP_NODELAY, to
 * compare relaymail with msmtp as if msmtp did not leave Nagle on. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <stddef.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol)
{
	static int (*real_socket)(int, int, int);
	int fd, one = 1;

	if (real_socket == NULL)
		*(void **)&real_socket = dlsym(RTLD_NEXT, "socket");
	fd = real_socket(domain, type, protocol);
	if (fd >= 0 && (domain == AF_INET || domain == AF_INET6) && (type & 0xf) == SOCK_STREAM)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}
