#include "autoconfig.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The setopt/getinfo type-checking macros of typecheck-gcc.h would expand
 * api->curl_easy_setopt(...) as well; the typed wrappers below (opt_long,
 * opt_str, opt_ptr) take over their job. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "http.h"
#include "i18n.h"
#include "log.h"

/* libcurl (and through it GnuTLS's HTTP use, nghttp2, ...) is opened only
 * when a token must be fetched.  RTLD_NODELETE: the dlclose() at the end of
 * a request only drops our reference, libcurl's global state (initialised
 * by the first curl_easy_init()) is never torn down under a running
 * program. */
#define CURL_API(X) \
	X(curl_easy_init) X(curl_easy_setopt) X(curl_easy_perform) X(curl_easy_getinfo) \
	X(curl_easy_cleanup) X(curl_easy_escape) X(curl_easy_strerror) X(curl_free) \
	X(curl_slist_append) X(curl_slist_free_all)

struct curl_api {
#define CURL_API_FIELD(name) __typeof__(&name) name;
	CURL_API(CURL_API_FIELD)
#undef CURL_API_FIELD
};

/* One request: everything it owns, so the cleanup is in one place. */
struct http_call {
	void *lib;
	struct curl_api api;
	CURL *curl;
	struct curl_slist *headers;
	char *form;                     /* the request body: secrets */
	size_t form_len;
	char *buf;                      /* the answer: secrets */
	size_t len, cap;
	bool too_large;
	char host[256];                 /* printable, for messages */
	char errbuf[CURL_ERROR_SIZE];
};

static const char *const curl_libs[] = { "libcurl-gnutls.so.4", "libcurl.so.4" };

static bool curl_api_load(struct http_call *c, struct result *r)
{
	for (size_t i = 0; c->lib == NULL && i < sizeof curl_libs / sizeof *curl_libs; i++)
		c->lib = dlopen(curl_libs[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (c->lib == NULL)
		return result_fail(r, RESULT_CONFIG,
				   _("libcurl cannot be loaded (%s): install the Debian package libcurl3-gnutls"),
				   dlerror());
#define CURL_API_LOAD(name) \
	if ((*(void **)&c->api.name = dlsym(c->lib, #name)) == NULL) \
		return result_fail(r, RESULT_CONFIG, _("libcurl lacks %s"), #name);
	CURL_API(CURL_API_LOAD)
#undef CURL_API_LOAD
	return true;
}

/* The host part of url for messages: no scheme, user info, path or query
 * (those may carry secrets or noise), control bytes made harmless. */
static void url_host(const char *url, char *out, size_t size)
{
	const char *p = strstr(url, "://");
	size_t n;
	const char *at;

	p = p ? p + 3 : url;
	n = strcspn(p, "/?#");
	at = memchr(p, '@', n);
	while (at != NULL) {
		n -= (size_t)(at + 1 - p);
		p = at + 1;
		at = memchr(p, '@', n);
	}
	log_printable(out, size, p, n);
}

static bool opt_long(struct http_call *c, CURLoption o, long v)
{
	return c->api.curl_easy_setopt(c->curl, o, v) == CURLE_OK;
}

static bool opt_str(struct http_call *c, CURLoption o, const char *v)
{
	return c->api.curl_easy_setopt(c->curl, o, v) == CURLE_OK;
}

static bool opt_ptr(struct http_call *c, CURLoption o, void *v)
{
	return c->api.curl_easy_setopt(c->curl, o, v) == CURLE_OK;
}

static bool opt_write(struct http_call *c, curl_write_callback f)
{
	return c->api.curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, f) == CURLE_OK;
}

/* The answer is bounded; growing copies and wipes instead of realloc(),
 * which would leave the old bytes (a token) in freed memory. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_call *c = arg;
	size_t n = size * nmemb;
	char *grown;

	if (n > HTTP_BODY_MAX - c->len) {
		c->too_large = true;
		return 0;
	}
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;

		while (cap < c->len + n + 1)
			cap *= 2;
		grown = malloc(cap);
		if (grown == NULL)
			return 0;
		if (c->buf != NULL) {
			memcpy(grown, c->buf, c->len);
			explicit_bzero(c->buf, c->len);
			free(c->buf);
		}
		c->buf = grown;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, data, n);
	c->len += n;
	c->buf[c->len] = '\0';
	return n;
}

static void wipe_free(char *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

/* Appends text escaped by libcurl, then sep unless it is NUL, to c->form;
 * while c->form is NULL, only adds the length to *need. */
static bool form_part(struct http_call *c, const char *text, char sep, size_t *need)
{
	char *e = c->api.curl_easy_escape(c->curl, text ? text : "", 0);
	bool ok = true;
	size_t n;

	if (e == NULL)
		return false;
	n = strlen(e);
	if (c->form == NULL) {
		*need += n + 1;
	} else if (c->form_len + n + 2 <= *need) {
		memcpy(c->form + c->form_len, e, n);
		c->form_len += n;
		if (sep != '\0')
			c->form[c->form_len++] = sep;
	} else {
		ok = false;
	}
	explicit_bzero(e, n);
	c->api.curl_free(e);
	return ok;
}

static bool form_fields(struct http_call *c, const struct http_request *req, size_t *need)
{
	for (size_t i = 0; i < req->n_fields; i++)
		if (!form_part(c, req->fields[i].name, '=', need) ||
		    !form_part(c, req->fields[i].value, i + 1 < req->n_fields ? '&' : '\0', need))
			return false;
	return true;
}

/* name=value&... : measured, then written. */
static bool form_build(struct http_call *c, const struct http_request *req, struct result *r)
{
	size_t need = 1;

	if (!form_fields(c, req, &need) || (c->form = malloc(need)) == NULL ||
	    !form_fields(c, req, &need))
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	c->form[c->form_len] = '\0';
	return true;
}

/* Only https, also for a redirect (which is not followed anyway).  The
 * string options came with 7.85; older libcurls know the bitmask ones. */
static bool restrict_protocols(struct http_call *c)
{
	if (opt_str(c, CURLOPT_PROTOCOLS_STR, "https") &&
	    opt_str(c, CURLOPT_REDIR_PROTOCOLS_STR, "https"))
		return true;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	return opt_long(c, CURLOPT_PROTOCOLS, CURLPROTO_HTTPS) &&
	       opt_long(c, CURLOPT_REDIR_PROTOCOLS, CURLPROTO_HTTPS);
#pragma GCC diagnostic pop
}

static bool set_options(struct http_call *c, const struct http_request *req)
{
	/* 0 would mean "no limit" to libcurl. */
	long ms = req->timeout_s > 0 ? (long)req->timeout_s * 1000 : 1000;
	bool ok = restrict_protocols(c) &&
		opt_str(c, CURLOPT_URL, req->url) &&
		opt_long(c, CURLOPT_FOLLOWLOCATION, 0) &&
		opt_str(c, CURLOPT_NOPROXY, "*") &&
		opt_long(c, CURLOPT_NOSIGNAL, 1) &&
		opt_long(c, CURLOPT_TIMEOUT_MS, ms) &&
		opt_long(c, CURLOPT_CONNECTTIMEOUT_MS, ms) &&
		opt_str(c, CURLOPT_USERAGENT, "relaymail/" PACKAGE_VERSION) &&
		opt_ptr(c, CURLOPT_HTTPHEADER, c->headers) &&
		opt_long(c, CURLOPT_POSTFIELDSIZE, (long)c->form_len) &&
		opt_str(c, CURLOPT_POSTFIELDS, c->form) &&
		opt_long(c, CURLOPT_MAXFILESIZE, HTTP_BODY_MAX) &&
		opt_write(c, on_body) &&
		opt_ptr(c, CURLOPT_WRITEDATA, c) &&
		opt_ptr(c, CURLOPT_ERRORBUFFER, c->errbuf) &&
		opt_long(c, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2) &&
		opt_long(c, CURLOPT_SSL_VERIFYPEER, req->verify ? 1 : 0) &&
		opt_long(c, CURLOPT_SSL_VERIFYHOST, req->verify ? 2 : 0);

	if (ok && req->ca_file != NULL)
		ok = opt_str(c, CURLOPT_CAINFO, req->ca_file) && opt_str(c, CURLOPT_CAPATH, NULL);
	return ok;
}

/* libcurl's own one-line reason, made printable. */
static const char *reason(struct http_call *c, CURLcode rc, char *out, size_t size)
{
	const char *why = c->errbuf[0] ? c->errbuf : c->api.curl_easy_strerror(rc);

	return log_printable(out, size, why, strcspn(why, "\r\n"));
}

static bool fail_transfer(struct http_call *c, const struct http_request *req, CURLcode rc,
			  struct result *r)
{
	char why[CURL_ERROR_SIZE];

	reason(c, rc, why, sizeof why);
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return result_fail(r, RESULT_TEMPFAIL,
				   _("OAuth endpoint %s: timed out after %u s"), c->host, req->timeout_s);
	case CURLE_FILESIZE_EXCEEDED:
		return result_fail(r, RESULT_TEMPFAIL, _("OAuth endpoint %s: answer too large (over %d bytes)"),
				   c->host, HTTP_BODY_MAX);
	case CURLE_WRITE_ERROR:
		if (c->too_large)
			return result_fail(r, RESULT_TEMPFAIL,
					   _("OAuth endpoint %s: answer too large (over %d bytes)"),
					   c->host, HTTP_BODY_MAX);
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	case CURLE_OUT_OF_MEMORY:
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	case CURLE_URL_MALFORMAT:
		return result_fail(r, RESULT_CONFIG, _("OAuth endpoint %s: malformed address"), c->host);
	case CURLE_SSL_CACERT_BADFILE:
		return result_fail(r, RESULT_CONFIG, _("OAuth endpoint %s: cannot use the CA file: %s"),
				   c->host, why);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
		return result_fail(r, RESULT_NOPERM, _("OAuth endpoint %s: certificate refused: %s"),
				   c->host, why);
	default:
		return result_fail(r, RESULT_TEMPFAIL, _("OAuth endpoint %s: %s"), c->host, why);
	}
}

static void call_end(struct http_call *c)
{
	if (c->curl != NULL)
		c->api.curl_easy_cleanup(c->curl);
	if (c->headers != NULL)
		c->api.curl_slist_free_all(c->headers);
	wipe_free(c->form, c->form_len);
	wipe_free(c->buf, c->len);
	if (c->lib != NULL)
		dlclose(c->lib);
	explicit_bzero(c, sizeof *c);
}

static bool call_run(struct http_call *c, const struct http_request *req, struct result *r)
{
	CURLcode rc;

	if (!curl_api_load(c, r))
		return false;
	/* curl_easy_init() initialises libcurl the first time (see http.h). */
	c->curl = c->api.curl_easy_init();
	if (c->curl == NULL)
		return result_fail(r, RESULT_OSERR, _("cannot start libcurl"));
	c->headers = c->api.curl_slist_append(NULL, "Accept: application/json");
	if (c->headers == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	if (!form_build(c, req, r))
		return false;
	if (!set_options(c, req))
		return result_fail(r, RESULT_CONFIG, _("OAuth endpoint %s: libcurl refuses the options"),
				   c->host);
	rc = c->api.curl_easy_perform(c->curl);
	if (rc != CURLE_OK)
		return fail_transfer(c, req, rc, r);
	return true;
}

bool http_post_form(const struct http_request *req, struct http_response *resp, struct result *r)
{
	struct http_call c;
	bool ok;

	memset(&c, 0, sizeof c);
	memset(resp, 0, sizeof *resp);
	url_host(req->url, c.host, sizeof c.host);
	if (strncmp(req->url, "https://", 8) != 0)
		return result_fail(r, RESULT_CONFIG,
				   _("OAuth endpoint %s: only https:// addresses are allowed"), c.host);
	ok = call_run(&c, req, r);
	if (ok && c.api.curl_easy_getinfo(c.curl, CURLINFO_RESPONSE_CODE, &resp->status) != CURLE_OK)
		ok = result_fail(r, RESULT_SOFTWARE, _("OAuth endpoint %s: libcurl gives no HTTP status"),
				 c.host);
	if (ok && c.len > 0) {
		resp->body = c.buf;
		resp->len = c.len;
		c.buf = NULL;
		c.len = 0;
	}
	call_end(&c);
	return ok;
}

void http_response_free(struct http_response *resp)
{
	if (resp == NULL)
		return;
	wipe_free(resp->body, resp->len);
	resp->body = NULL;
	resp->len = 0;
}

char *http_urlencode(const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(text);
	char *out = malloc(3 * n + 1);
	size_t o = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)text[i];

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return out;
}
