/* libFuzzer target: the proxy setting's parser (proxy_parse).  Asserts
 * that what it accepts is usable as it stands: a host that is a name or an
 * IPv6 literal, a port in range, a user without control characters, and a
 * label that parses back to the same proxy. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool printable(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(size + 1), why[512], label[300], again[320];
	struct proxy_url u, v;

	if (url == NULL)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	if (proxy_parse(url, &u, why, sizeof why)) {
		assert(u.host[0] != '\0' && printable(u.host));
		assert(u.port >= 1 && u.port <= 65535);
		assert(printable(u.user));
		assert(u.scheme == PROXY_SOCKS5H || u.scheme == PROXY_HTTP);
		/* The label without its word is host:port again. */
		proxy_label(&u, label, sizeof label);
		snprintf(again, sizeof again, "%s%s", u.scheme == PROXY_HTTP ? "http://" : "socks5h://",
			 strchr(label, ' ') + 1);
		assert(proxy_parse(again, &v, why, sizeof why));
		assert(strcmp(u.host, v.host) == 0 && u.port == v.port);
	} else {
		assert(why[0] != '\0' && strchr(why, '\n') == NULL);
	}
	free(url);
	return 0;
}
