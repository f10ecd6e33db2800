#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "i18n.h"
#include "sasl.h"

static bool encode(const unsigned char *data, size_t len, char **out, struct result *r)
{
	gnutls_datum_t in = { (unsigned char *)data, (unsigned)len }, enc = { NULL, 0 };

	*out = NULL;
	if (gnutls_base64_encode2(&in, &enc) < 0)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	*out = malloc(enc.size + 1);
	if (*out != NULL) {
		memcpy(*out, enc.data, enc.size);
		(*out)[enc.size] = '\0';
	}
	explicit_bzero(enc.data, enc.size);
	gnutls_free(enc.data);
	if (*out == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	return true;
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

void sasl_free(char *response)
{
	if (response == NULL)
		return;
	explicit_bzero(response, strlen(response));
	free(response);
}
