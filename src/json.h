/* The JSON of OAuth answers (RFC 6749 token responses, RFC 8628 device
 * authorization responses, error answers) and of the SASL error challenge
 * (RFC 7628 section 3.2.2): one object whose members relaymail reads.
 *
 * Parsed by json-c, opened with dlopen() when an answer must be read, so a
 * plain send never loads it.  Input is hostile: depth is bounded
 * (JSON_MAX_DEPTH), the text must be exactly one object with nothing but
 * white space after it, and it may be at most HTTP_BODY_MAX bytes.
 * Strings of the object are wiped before the object is freed (they may
 * be tokens).
 *
 * Errors: RESULT_CONFIG (json-c cannot be loaded: the message names the
 * Debian package), RESULT_PROTOCOL (not one JSON object), RESULT_OSERR.
 */
#ifndef RELAYMAIL_JSON_H
#define RELAYMAIL_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"

#define JSON_MAX_DEPTH 16

struct json;

bool json_parse_object(const char *text, size_t len, struct json **out, struct result *r);

/* The top-level member name as a string, or NULL when absent or not a
 * string.  Borrowed from obj. */
const char *json_string(const struct json *obj, const char *name);

/* The top-level member as an integer: a JSON number without fraction, or
 * a string of digits ("3600": some servers send that).  false when absent,
 * of another type or out of long long range. */
bool json_integer(const struct json *obj, const char *name, long long *out);

/* Wipes the strings, then frees; NULL is fine. */
void json_free(struct json *obj);

#endif
