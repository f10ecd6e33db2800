/* HTTPS POST of a form to an OAuth endpoint, through libcurl (built with
 * GnuTLS), which is opened with dlopen() at the first request: a plain
 * send never loads it.
 *
 * Only https:// URLs; no redirects are followed; no proxy from the
 * environment; the certificate is verified against ca_file (PEM bundle) or
 * the system trust store, and the host name checked, unless verify is
 * false.  The whole request (connect, TLS, request, answer) is bounded by
 * timeout_s; the answer body by HTTP_BODY_MAX bytes.
 *
 * The request body and the answer carry secrets (client secret, refresh
 * and access tokens): every buffer that held them is wiped before it is
 * freed, and nothing of them is ever logged.
 *
 * libcurl initialises itself globally in the first curl_easy_init() of the
 * process, which older libcurls do not make thread-safe: the first
 * http_post_form() must not run concurrently with another one (the service
 * calls it under its token lock).  libcurl then stays loaded.
 *
 * Errors: RESULT_CONFIG (libcurl cannot be loaded: the message names the
 * Debian package; a URL that is not https), RESULT_NOPERM (certificate or
 * TLS policy), RESULT_TEMPFAIL (name resolution, connect, timeout, reset,
 * an answer over HTTP_BODY_MAX), RESULT_OSERR.  An HTTP status of any kind
 * is not an error: the caller reads status and body.
 */
#ifndef RELAYMAIL_HTTP_H
#define RELAYMAIL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"

#define HTTP_BODY_MAX (64 * 1024)

struct http_field {
	const char *name;       /* form field name, URL-encoded by http.c */
	const char *value;      /* its value, URL-encoded by http.c; may be a secret */
};

struct http_request {
	const char *url;                /* https://... */
	const struct http_field *fields;
	size_t n_fields;
	const char *ca_file;            /* NULL: system trust store */
	bool verify;
	unsigned timeout_s;
};

struct http_response {
	long status;                    /* 200, 400, ... */
	char *body;                     /* NUL-terminated, owned; NULL when none */
	size_t len;
};

/* POST application/x-www-form-urlencoded, Accept: application/json. */
bool http_post_form(const struct http_request *req, struct http_response *resp, struct result *r);

/* Wipe and free the body. */
void http_response_free(struct http_response *resp);

/* Percent-encode (RFC 3986 unreserved kept) into a new string the caller
 * frees; NULL when out of memory.  Used for URLs relaymail builds
 * (authorization request) without loading libcurl. */
char *http_urlencode(const char *text);

#endif
