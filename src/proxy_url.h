/* The proxy setting: socks5h:// or http:// URLs, parsed and shown.  Pure
 * string work, apart from the protocol (proxy.c), so that the configuration
 * can check a value and the fuzzer can reach the parser alone. */
#ifndef RELAYMAIL_PROXY_URL_H
#define RELAYMAIL_PROXY_URL_H

#include <stdbool.h>
#include <stddef.h>

enum proxy_scheme { PROXY_SOCKS5H, PROXY_HTTP };

struct proxy_url {
	enum proxy_scheme scheme;
	char user[256];         /* "" when none; percent-decoded */
	char host[256];         /* without the brackets of an IPv6 literal */
	unsigned port;
};

/* socks5h://[user@]host:port or http://[user@]host:port[/]: the port is
 * required, an IPv6 literal is in brackets, the userinfo has no password
 * (why says to use proxy_password_file / proxy_password_command).  False
 * with a translated reason in why. */
bool proxy_parse(const char *url, struct proxy_url *out, char *why, size_t size);

/* "proxy host:port" ("proxy [::1]:1080") for messages. */
const char *proxy_label(const struct proxy_url *u, char *buf, size_t size);

#endif
