/* Name resolution and TCP connection, with a timeout per address.
 *
 * net_connect() tries every address of host in getaddrinfo() order and
 * returns a blocking, connected socket with TCP_NODELAY set (the caller owns
 * it).  Errors: RESULT_NOHOST (name does not exist), RESULT_TEMPFAIL
 * (DNS try-again, refused, unreachable, timed out).
 */
#ifndef RELAYMAIL_NET_H
#define RELAYMAIL_NET_H

#include "result.h"

bool net_connect(const char *host, unsigned port, unsigned timeout_s, int *fd_out,
		 struct result *r);

#endif
