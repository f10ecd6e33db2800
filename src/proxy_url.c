#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "i18n.h"
#include "log.h"
#include "proxy_url.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 3986 percent-decoding of the userinfo into out (size bytes); no
 * control characters. */
static bool decode_user(const char *s, size_t len, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= len)
				return false;
			if (hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return false;
			c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		}
		/* It goes into messages and the SOCKS5 request as it is. */
		if (c < 0x20 || c == 0x7f || n + 1 >= size)
			return false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return n > 0;
}

static bool parse_hostport(const char *s, size_t len, struct proxy_url *out, char *why, size_t size)
{
	const char *colon, *end = s + len;
	unsigned char addr[16];
	char shown[4 * sizeof out->host];     /* the host as messages show it */
	unsigned long port;
	char *stop;

	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL || (size_t)(close - s - 1) >= sizeof out->host)
			return snprintf(why, size, "%s", _("an IPv6 address needs its closing bracket")), false;
		memcpy(out->host, s + 1, (size_t)(close - s - 1));
		out->host[close - s - 1] = '\0';
		if (inet_pton(AF_INET6, out->host, addr) != 1)
			return snprintf(why, size, _("[%s] is not an IPv6 address"),
					log_escape(shown, sizeof shown, out->host)), false;
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memrchr(s, ':', len);
		if (colon != NULL && memchr(s, ':', (size_t)(colon - s)) != NULL)
			return snprintf(why, size, "%s", _("an IPv6 address must be in brackets: [::1]:1080")), false;
		if (colon == NULL)
			return snprintf(why, size, "%s", _("the port is required: host:port")), false;
		if (colon == s || (size_t)(colon - s) >= sizeof out->host)
			return snprintf(why, size, "%s", _("the host name is empty or too long")), false;
		memcpy(out->host, s, (size_t)(colon - s));
		out->host[colon - s] = '\0';
		if (strspn(out->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
		    strlen(out->host))
			return snprintf(why, size, _("'%s' is not a host name"),
					log_escape(shown, sizeof shown, out->host)), false;
	}
	if (colon == NULL || colon + 1 >= end)
		return snprintf(why, size, "%s", _("the port is required: host:port")), false;
	errno = 0;
	port = strtoul(colon + 1, &stop, 10);
	if (colon[1] < '0' || colon[1] > '9' || stop != end || port == 0 || port > 65535)
		return snprintf(why, size, "%s", _("the port must be a number from 1 to 65535")), false;
	out->port = (unsigned)port;
	return true;
}

bool proxy_parse(const char *url, struct proxy_url *out, char *why, size_t size)
{
	const char *rest, *at, *slash;
	size_t len;

	memset(out, 0, sizeof *out);
	if (strncasecmp(url, "socks5h://", 10) == 0) {
		out->scheme = PROXY_SOCKS5H;
		rest = url + 10;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		out->scheme = PROXY_HTTP;
		rest = url + 7;
	} else {
		return snprintf(why, size, "%s", _("it must start with socks5h:// or http://")), false;
	}
	len = strlen(rest);
	slash = memchr(rest, '/', len);
	if (slash != NULL && slash[1] != '\0')
		return snprintf(why, size, "%s", _("a proxy has no path")), false;
	if (slash != NULL)
		len = (size_t)(slash - rest);
	at = memrchr(rest, '@', len);
	if (at != NULL) {
		if (memchr(rest, ':', (size_t)(at - rest)) != NULL)
			return snprintf(why, size, "%s",
					_("the password does not belong in the URL: set proxy_password_file or proxy_password_command")),
			       false;
		if (!decode_user(rest, (size_t)(at - rest), out->user, sizeof out->user) ||
		    strchr(out->user, ':') != NULL)
			return snprintf(why, size, "%s", _("the user name is empty, too long, badly percent-encoded or holds a colon")), false;
		len -= (size_t)(at + 1 - rest);
		rest = at + 1;
	}
	return parse_hostport(rest, len, out, why, size);
}

const char *proxy_label(const struct proxy_url *u, char *buf, size_t size)
{
	if (strchr(u->host, ':') != NULL)
		snprintf(buf, size, _("proxy [%s]:%u"), u->host, u->port);
	else
		snprintf(buf, size, _("proxy %s:%u"), u->host, u->port);
	return buf;
}
