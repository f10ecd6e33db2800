#include "autoconfig.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "dns.h"
#include "i18n.h"

#define DNS_API(X) \
	X(ub_ctx_create) X(ub_ctx_delete) X(ub_ctx_set_fwd) X(ub_ctx_resolvconf) \
	X(ub_ctx_hosts) X(ub_resolve) X(ub_resolve_free) X(ub_strerror)

struct dns_api {
#define DNS_API_FIELD(name) __typeof__(&name) name;
	DNS_API(DNS_API_FIELD)
#undef DNS_API_FIELD
};

static bool dns_api_load(struct dns_api *api, char *why, size_t size)
{
	void *lib = dlopen("libunbound.so.8", RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		snprintf(why, size, _("libunbound is not installed (%s)"), dlerror());
		return false;
	}
#define DNS_API_LOAD(name) \
	if ((*(void **)&api->name = dlsym(lib, #name)) == NULL) { \
		snprintf(why, size, _("libunbound lacks %s"), #name); \
		return false; \
	}
	DNS_API(DNS_API_LOAD)
#undef DNS_API_LOAD
	return true;
}

/* TXT rdata: a sequence of <length><bytes> strings, joined (RFC 7208 3.3). */
static char *txt_join(const unsigned char *rdata, int len)
{
	char *text = malloc((size_t)len + 1);
	size_t o = 0;

	if (text == NULL)
		return NULL;
	for (int i = 0; i < len;) {
		int n = rdata[i++];

		if (i + n > len)
			n = len - i;
		for (int k = 0; k < n; k++) {
			unsigned char c = rdata[i + k];

			text[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
		}
		i += n;
	}
	text[o] = '\0';
	return text;
}

enum dns_status dns_lookup_txt(const char *name, struct dns_txt *out, char *why, size_t size)
{
	const char *server = getenv("RELAYMAIL_DNS_SERVER");
	struct dns_api api;
	struct ub_ctx *ctx;
	struct ub_result *res = NULL;
	enum dns_status status = DNS_ERROR;
	int rc;

	out->records = NULL;
	out->n = 0;
	if (!dns_api_load(&api, why, size))
		return DNS_ERROR;
	ctx = api.ub_ctx_create();
	if (ctx == NULL) {
		snprintf(why, size, _("cannot start the DNS resolver"));
		return DNS_ERROR;
	}
	rc = server && *server ? api.ub_ctx_set_fwd(ctx, server)
	     : (api.ub_ctx_hosts(ctx, NULL), api.ub_ctx_resolvconf(ctx, NULL));
	if (rc == 0)
		rc = api.ub_resolve(ctx, name, 16 /* TXT */, 1 /* IN */, &res);
	if (rc != 0) {
		snprintf(why, size, _("DNS lookup of %s failed: %s"), name, api.ub_strerror(rc));
	} else if (!res->havedata) {
		status = DNS_NONE;
	} else {
		size_t n = 0;

		while (res->data[n] != NULL)
			n++;
		out->records = calloc(n + 1, sizeof *out->records);
		for (size_t i = 0; out->records && i < n; i++) {
			out->records[i] = txt_join((const unsigned char *)res->data[i], res->len[i]);
			if (out->records[i] != NULL)
				out->n++;
		}
		status = out->records ? DNS_FOUND : DNS_ERROR;
	}
	if (res != NULL)
		api.ub_resolve_free(res);
	api.ub_ctx_delete(ctx);
	return status;
}

void dns_txt_free(struct dns_txt *txt)
{
	for (size_t i = 0; i < txt->n; i++)
		free(txt->records[i]);
	free(txt->records);
	txt->records = NULL;
	txt->n = 0;
}
