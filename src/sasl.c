#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "i18n.h"
#include "sasl.h"

/* Move a datum GnuTLS allocated into a NUL-terminated buffer of ours; the
 * datum is wiped and freed either way. */
static bool take_datum(gnutls_datum_t *d, char **out, size_t *out_len, struct result *r)
{
	*out = malloc(d->size + 1);
	if (*out != NULL) {
		memcpy(*out, d->data, d->size);
		(*out)[d->size] = '\0';
		if (out_len != NULL)
			*out_len = d->size;
	}
	explicit_bzero(d->data, d->size);
	gnutls_free(d->data);
	if (*out == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	return true;
}

static bool encode(const unsigned char *data, size_t len, char **out, struct result *r)
{
	gnutls_datum_t in = { (unsigned char *)data, (unsigned)len }, enc = { NULL, 0 };

	*out = NULL;
	if (gnutls_base64_encode2(&in, &enc) < 0)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	return take_datum(&enc, out, NULL, r);
}

bool sasl_plain(const char *user, const char *password, char **out, struct result *r)
{
	size_t ulen = strlen(user), plen = strlen(password), len = ulen + plen + 2;
	unsigned char *buf = malloc(len);
	bool ok;

	if (buf == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	buf[0] = '\0';
	memcpy(buf + 1, user, ulen);
	buf[1 + ulen] = '\0';
	memcpy(buf + 2 + ulen, password, plen);
	ok = encode(buf, len, out, r);
	explicit_bzero(buf, len);
	free(buf);
	return ok;
}

bool sasl_base64(const char *text, char **out, struct result *r)
{
	return encode((const unsigned char *)text, strlen(text), out, r);
}

/* Join parts into one wiped-after-use buffer and encode it. */
static bool encode_parts(const char *const *parts, size_t n, char **out, struct result *r)
{
	size_t len = 0, at = 0;
	unsigned char *buf;
	bool ok;

	for (size_t i = 0; i < n; i++)
		len += strlen(parts[i]);
	if ((buf = malloc(len + 1)) == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + at, parts[i], strlen(parts[i]));
		at += strlen(parts[i]);
	}
	ok = encode(buf, len, out, r);
	explicit_bzero(buf, len);
	free(buf);
	return ok;
}

bool sasl_xoauth2(const char *user, const char *token, char **out, struct result *r)
{
	const char *parts[] = { "user=", user, "\001auth=Bearer ", token, "\001\001" };

	return encode_parts(parts, sizeof parts / sizeof parts[0], out, r);
}

/* RFC 5801 saslname: ',' and '=' escaped. */
static bool escape_saslname(const char *name, char *buf, size_t size)
{
	size_t at = 0;

	for (; *name; name++) {
		const char *piece = *name == ',' ? "=2C" : *name == '=' ? "=3D" : NULL;
		size_t n = piece ? 3 : 1;

		if (at + n >= size)
			return false;
		memcpy(buf + at, piece ? piece : name, n);
		at += n;
	}
	buf[at] = '\0';
	return true;
}

bool sasl_oauthbearer(const char *user, const char *host, unsigned port, const char *token,
		      char **out, struct result *r)
{
	char name[3 * 1024], port_text[16];
	const char *parts[] = { "n,a=", name, ",\001host=", host, "\001port=", port_text,
				"\001auth=Bearer ", token, "\001\001" };

	if (!escape_saslname(user, name, sizeof name))
		return result_fail(r, RESULT_CONFIG, _("the user name is too long for OAUTHBEARER"));
	snprintf(port_text, sizeof port_text, "%u", port);
	return encode_parts(parts, sizeof parts / sizeof parts[0], out, r);
}

bool sasl_decode(const char *text, size_t len, char **out, size_t *out_len, struct result *r)
{
	gnutls_datum_t in = { (unsigned char *)text, (unsigned)len }, dec = { NULL, 0 };
	int rc;

	*out = NULL;
	*out_len = 0;
	if (len == 0) {
		*out = calloc(1, 1);
		return *out != NULL || result_fail(r, RESULT_OSERR, _("out of memory"));
	}
	if ((rc = gnutls_base64_decode2(&in, &dec)) < 0)
		return result_fail(r, rc == GNUTLS_E_MEMORY_ERROR ? RESULT_OSERR : RESULT_PROTOCOL,
				   _("the server's challenge is not base64"));
	return take_datum(&dec, out, out_len, r);
}

void sasl_free(char *response)
{
	if (response == NULL)
		return;
	explicit_bzero(response, strlen(response));
	free(response);
}
