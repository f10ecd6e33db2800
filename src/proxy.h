/* The relay through a proxy: SOCKS5 with the relay's name (RFC 1928,
 * "socks5h": the proxy resolves it) and username/password authentication
 * (RFC 1929), or HTTP CONNECT (RFC 9110 9.3.6) with Basic authentication.
 *
 * proxy_connect() reaches the proxy with net_connect() (Happy Eyeballs to
 * the proxy's addresses, ip_family, source_ip), asks it for acct->host
 * port acct->port, and returns the tunnel as a blocking socket (the caller
 * owns it; TLS then runs over it, verified against the relay's name).  The
 * connection and the whole handshake are bounded by connect_timeout.  The
 * proxy password comes from proxy_password_file (a private file, as
 * password_file) or proxy_password_command (as password_command) and is
 * wiped after use.  Every message names the hop that failed.
 *
 * Errors: RESULT_TEMPFAIL (proxy unreachable, timed out, closed, or it
 * could not reach the relay: SOCKS5 replies 1, 3-6, HTTP 5xx), RESULT_NOPERM
 * (authentication refused, or the proxy's rules forbid the relay: SOCKS5
 * reply 2, HTTP 403/407), RESULT_PROTOCOL (the answer is not SOCKS5 / HTTP:
 * the proxy setting points at something else; retrying cannot help, so
 * the message is not queued for days), RESULT_CONFIG (the password source
 * failed, a user without a password or the other way round).
 */
#ifndef RELAYMAIL_PROXY_H
#define RELAYMAIL_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "connect.h"
#include "proxy_url.h"
#include "result.h"

#define PROXY_HTTP_HEADERS_MAX 8192

bool proxy_connect(const struct account *acct, const struct connect_params *cp, bool verbose,
		   int *fd_out, struct connect_report *rep, struct result *r);

/* The status code of an HTTP/1.x status line ("HTTP/1.1 200 OK"), or -1
 * when it is not one.  Pure; exposed for the unit test. */
int proxy_http_status(const char *line, size_t len);

#endif
