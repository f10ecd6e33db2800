#include "autoconfig.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "http.h"
#include "i18n.h"
#include "json.h"

/* json-c is loaded only when an OAuth answer or a SASL error challenge must
 * be read: a plain send never pays for it. */
#define JSON_API(X) \
	X(json_tokener_new_ex) X(json_tokener_free) X(json_tokener_set_flags) \
	X(json_tokener_parse_ex) X(json_tokener_get_error) X(json_tokener_get_parse_end) \
	X(json_tokener_error_desc) X(json_object_put) X(json_object_get_type) \
	X(json_object_object_get_ex) X(json_object_get_string) X(json_object_get_string_len) \
	X(json_object_get_int64) X(json_object_array_length) X(json_object_array_get_idx) \
	X(json_object_iter_begin) X(json_object_iter_end) X(json_object_iter_equal) \
	X(json_object_iter_next) X(json_object_iter_peek_value)

struct json_api {
#define JSON_API_FIELD(name) __typeof__(&name) name;
	JSON_API(JSON_API_FIELD)
#undef JSON_API_FIELD
};

struct json {
	void *lib;
	struct json_api api;
	struct json_object *root;
};

/* Nested members are wiped too, but walking them is bounded like parsing. */
#define JSON_WIPE_DEPTH (JSON_MAX_DEPTH + 1)

static bool json_api_load(struct json *j, struct result *r)
{
	j->lib = dlopen("libjson-c.so.5", RTLD_NOW | RTLD_LOCAL);
	if (j->lib == NULL)
		return result_fail(r, RESULT_CONFIG,
				   _("json-c cannot be loaded (%s): install the Debian package libjson-c5"),
				   dlerror());
#define JSON_API_LOAD(name) \
	if ((*(void **)&j->api.name = dlsym(j->lib, #name)) == NULL) \
		return result_fail(r, RESULT_CONFIG, _("json-c lacks %s"), #name);
	JSON_API(JSON_API_LOAD)
#undef JSON_API_LOAD
	return true;
}

/* The tokener's scratch buffer holds the last string it read, which may be
 * a token.  struct json_tokener and struct printbuf are public in json-c
 * 0.16 (marked "do not access"); when a later json-c makes them opaque this
 * has to go, and the copy stays in freed memory. */
static void tokener_wipe(struct json_tokener *tok)
{
	if (tok->pb != NULL && tok->pb->buf != NULL && tok->pb->size > 0)
		explicit_bzero(tok->pb->buf, (size_t)tok->pb->size);
}

static bool only_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

static bool json_tokenize(struct json *j, const char *text, size_t len, struct result *r)
{
	const struct json_api *api = &j->api;
	struct json_tokener *tok = api->json_tokener_new_ex(JSON_MAX_DEPTH);
	enum json_tokener_error err;
	bool ok = false;

	if (tok == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	/* Strict: no single quotes, comments, NaN or trailing commas; the
	 * answer comes from a server that speaks standard JSON or is hostile. */
	api->json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	j->root = api->json_tokener_parse_ex(tok, text, (int)len);
	err = api->json_tokener_get_error(tok);
	if (err != json_tokener_success || j->root == NULL) {
		result_fail(r, RESULT_PROTOCOL, _("the answer is not valid JSON: %s"),
			    err == json_tokener_continue ? _("it ends too early")
							 : api->json_tokener_error_desc(err));
	} else if (!only_space(text + api->json_tokener_get_parse_end(tok),
			       len - api->json_tokener_get_parse_end(tok))) {
		result_fail(r, RESULT_PROTOCOL, _("the answer has data after the JSON object"));
	} else if (api->json_object_get_type(j->root) != json_type_object) {
		result_fail(r, RESULT_PROTOCOL, _("the answer is not a JSON object"));
	} else {
		ok = true;
	}
	tokener_wipe(tok);
	api->json_tokener_free(tok);
	return ok;
}

bool json_parse_object(const char *text, size_t len, struct json **out, struct result *r)
{
	struct json *j = NULL;

	*out = NULL;
	if (len > HTTP_BODY_MAX)
		return result_fail(r, RESULT_PROTOCOL, _("the answer is too large (over %d bytes)"),
				   HTTP_BODY_MAX);
	if (memchr(text, '\0', len) != NULL)
		return result_fail(r, RESULT_PROTOCOL, _("the answer contains a NUL byte"));
	j = calloc(1, sizeof *j);
	if (j == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	if (!json_api_load(j, r) || !json_tokenize(j, text, len, r)) {
		json_free(j);
		return false;
	}
	*out = j;
	return true;
}

static struct json_object *member(const struct json *j, const char *name)
{
	struct json_object *v = NULL;

	if (j == NULL || j->root == NULL ||
	    !j->api.json_object_object_get_ex(j->root, name, &v) || v == NULL)
		return NULL;
	return v;
}

const char *json_string(const struct json *obj, const char *name)
{
	struct json_object *v = member(obj, name);
	const char *s;

	if (v == NULL || obj->api.json_object_get_type(v) != json_type_string)
		return NULL;
	s = obj->api.json_object_get_string(v);
	/* "\u0000" inside a string would cut a token short without a word. */
	if (s == NULL || strlen(s) != (size_t)obj->api.json_object_get_string_len(v))
		return NULL;
	return s;
}

static bool digits_value(const char *s, long long *out)
{
	size_t n = strlen(s);
	long long v = 0;

	/* 18 digits always fit in a long long: no overflow check needed. */
	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool json_integer(const struct json *obj, const char *name, long long *out)
{
	struct json_object *v = member(obj, name);
	int64_t n;

	if (v == NULL)
		return false;
	switch (obj->api.json_object_get_type(v)) {
	case json_type_int:
		/* json-c clamps numbers beyond int64 to its limits: the limits
		 * themselves are refused, as they may stand for anything. */
		n = obj->api.json_object_get_int64(v);
		if (n == INT64_MAX || n == INT64_MIN)
			return false;
		*out = (long long)n;
		return true;
	case json_type_string:
		return json_string(obj, name) != NULL && digits_value(json_string(obj, name), out);
	default:
		return false;
	}
}

static void wipe_value(const struct json_api *api, struct json_object *v, int depth)
{
	if (v == NULL || depth > JSON_WIPE_DEPTH)
		return;
	switch (api->json_object_get_type(v)) {
	case json_type_string: {
		int len = api->json_object_get_string_len(v);

		/* json-c hands out its own buffer: wiping it in place is the point. */
		if (len > 0)
			explicit_bzero((char *)api->json_object_get_string(v), (size_t)len);
		break;
	}
	case json_type_array:
		for (size_t i = 0; i < api->json_object_array_length(v); i++)
			wipe_value(api, api->json_object_array_get_idx(v, i), depth + 1);
		break;
	case json_type_object: {
		struct json_object_iterator it = api->json_object_iter_begin(v);
		struct json_object_iterator end = api->json_object_iter_end(v);

		for (; !api->json_object_iter_equal(&it, &end); api->json_object_iter_next(&it))
			wipe_value(api, api->json_object_iter_peek_value(&it), depth + 1);
		break;
	}
	default:
		break;
	}
}

void json_free(struct json *obj)
{
	if (obj == NULL)
		return;
	if (obj->root != NULL) {
		wipe_value(&obj->api, obj->root, 0);
		obj->api.json_object_put(obj->root);
	}
	if (obj->lib != NULL)
		dlclose(obj->lib);
	explicit_bzero(obj, sizeof *obj);
	free(obj);
}
