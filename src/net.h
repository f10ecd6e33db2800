/* Name resolution and TCP connection (connect.c: Happy Eyeballs).
 *
 * net_connect() resolves host and connects to the first of its addresses
 * to answer (connect_happy(): ip_family, source_ip, connect_timeout for all
 * attempts together); it returns a blocking, connected socket with
 * TCP_NODELAY set (the caller owns it).  rep lists the attempts, also on
 * failure.  hop is NULL for the relay, or names the hop in messages
 * ("proxy [::1]:1080").  Errors: RESULT_TEMPFAIL (the name does not
 * resolve: NXDOMAIN, SERVFAIL or try-again, since an outage looks like a
 * missing name; refused, unreachable, timed out; no address left by
 * ip_family or source_ip).  RESULT_NOHOST is no longer returned.
 */
#ifndef RELAYMAIL_NET_H
#define RELAYMAIL_NET_H

#include "connect.h"
#include "result.h"

bool net_connect(const char *host, unsigned port, const struct connect_params *cp, const char *hop,
		 int *fd_out, struct connect_report *rep, struct result *r);

#endif
