#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "i18n.h"
#include "log.h"
#include "scram.h"

#define KEY_LEN 32            /* SHA-256 output */
#define NONCE_RANDOM 24       /* bytes; 32 characters of base64 */
#define NONCE_MAX 128
#define BINDING_MAX 64        /* tls-exporter is 32 bytes */
#define ERROR_SHOWN 256       /* how much of a server's e= text is quoted */
#define B64_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

enum scram_state { WANT_SERVER_FIRST, WANT_SERVER_FINAL, DONE };

struct scram {
	enum scram_state state;
	char *password;
	char gs2[24];
	unsigned char binding[BINDING_MAX];
	size_t binding_len;
	char *client_first;     /* gs2 header + client-first-message-bare */
	size_t bare_offset;
	size_t nonce_offset;   /* our nonce, inside client_first */
	char *client_final;
	char *auth_message;
	size_t auth_len;
	unsigned char salted[KEY_LEN], client_key[KEY_LEN], stored_key[KEY_LEN];
	unsigned char server_key[KEY_LEN], client_sig[KEY_LEN], server_sig[KEY_LEN];
};

static void wipe_free(char *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

static void wipe_string(char *p)
{
	if (p != NULL)
		wipe_free(p, strlen(p));
}

void scram_free(struct scram *s)
{
	if (s == NULL)
		return;
	wipe_string(s->password);
	wipe_string(s->client_first);
	wipe_string(s->client_final);
	wipe_free(s->auth_message, s->auth_len);
	explicit_bzero(s, sizeof *s);
	free(s);
}

static bool has_control(const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

/* RFC 5802 printable: %x21-2B / %x2D-7E, the alphabet of nonces. */
static bool nonce_chars(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return false;
	return true;
}

/* base64 of data as a malloc'd string. */
static char *b64(const unsigned char *data, size_t len)
{
	gnutls_datum_t in = { (unsigned char *)data, (unsigned)len }, enc = { NULL, 0 };
	char *out;

	if (gnutls_base64_encode2(&in, &enc) < 0)
		return NULL;
	out = malloc(enc.size + 1);
	if (out != NULL) {
		memcpy(out, enc.data, enc.size);
		out[enc.size] = '\0';
	}
	gnutls_free(enc.data);
	return out;
}

/* Decode len bytes of base64 into out (at most size bytes); the alphabet is
 * checked first so that nothing outside it (spaces, line breaks) passes. */
static bool unb64(const char *text, size_t len, unsigned char *out, size_t size, size_t *got)
{
	gnutls_datum_t in = { (unsigned char *)text, (unsigned)len }, dec = { NULL, 0 };
	bool ok;

	if (len == 0 || len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\0' || strchr(B64_ALPHABET, text[i]) == NULL)
			return false;
	if (gnutls_base64_decode2(&in, &dec) < 0)
		return false;
	ok = dec.size > 0 && dec.size <= size;
	if (ok) {
		memcpy(out, dec.data, dec.size);
		*got = dec.size;
	}
	gnutls_free(dec.data);
	return ok;
}

/* ',' and '=' in a saslname become "=2C" and "=3D" (RFC 5802 5.1). */
static void escape_user(const char *user, char *out)
{
	for (; *user != '\0'; user++) {
		if (*user == ',' || *user == '=') {
			memcpy(out, *user == ',' ? "=2C" : "=3D", 3);
			out += 3;
		} else {
			*out++ = *user;
		}
	}
	*out = '\0';
}

static bool set_gs2(struct scram *s, const unsigned char *binding, size_t len,
		    bool client_supports_binding, struct result *r)
{
	if (binding == NULL) {
		strcpy(s->gs2, client_supports_binding ? "y,," : "n,,");
		return true;
	}
	if (len == 0 || len > sizeof s->binding)
		return result_fail(r, RESULT_NOPERM, _("SCRAM: the TLS channel binding cannot be used"));
	strcpy(s->gs2, "p=tls-exporter,,");
	memcpy(s->binding, binding, len);
	s->binding_len = len;
	return true;
}

static bool build_client_first(struct scram *s, const char *user, const char *nonce,
			       struct result *r)
{
	size_t gs2 = strlen(s->gs2), size = gs2 + 2 + 3 * strlen(user) + 3 + strlen(nonce) + 1;
	char *escaped = malloc(3 * strlen(user) + 1);

	s->client_first = malloc(size);
	if (escaped == NULL || s->client_first == NULL) {
		free(escaped);
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	}
	escape_user(user, escaped);
	snprintf(s->client_first, size, "%sn=%s,r=%s", s->gs2, escaped, nonce);
	s->bare_offset = gs2;
	s->nonce_offset = strlen(s->client_first) - strlen(nonce);
	wipe_string(escaped);
	return true;
}

bool scram_new_with_nonce(const char *user, const char *password,
			  const unsigned char *channel_binding, size_t binding_len,
			  bool client_supports_binding, const char *client_nonce, struct scram **out,
			  struct result *r)
{
	struct scram *s = NULL;
	size_t nonce_len = strlen(client_nonce);

	*out = NULL;
	if (*user == '\0' || has_control(user))
		return result_fail(r, RESULT_CONFIG,
				   _("SCRAM: the user name is empty or contains control characters"));
	if (nonce_len == 0 || nonce_len > NONCE_MAX || !nonce_chars(client_nonce, nonce_len))
		return result_fail(r, RESULT_SOFTWARE, _("SCRAM: invalid client nonce"));
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	if (!set_gs2(s, channel_binding, binding_len, client_supports_binding, r))
		goto fail;
	s->password = strdup(password);
	if (s->password == NULL) {
		result_fail(r, RESULT_OSERR, _("out of memory"));
		goto fail;
	}
	if (!build_client_first(s, user, client_nonce, r))
		goto fail;
	*out = s;
	return true;
fail:
	scram_free(s);
	return false;
}

bool scram_new(const char *user, const char *password, const unsigned char *channel_binding,
	       size_t binding_len, bool client_supports_binding, struct scram **out,
	       struct result *r)
{
	unsigned char random[NONCE_RANDOM];
	char *nonce;
	bool ok;
	int rc;

	*out = NULL;
	rc = gnutls_rnd(GNUTLS_RND_NONCE, random, sizeof random);
	if (rc < 0)
		return result_fail(r, RESULT_OSERR, _("SCRAM: no random numbers: %s"),
				   gnutls_strerror(rc));
	/* base64 has no ',' so the nonce is valid as it is. */
	nonce = b64(random, sizeof random);
	if (nonce == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	ok = scram_new_with_nonce(user, password, channel_binding, binding_len,
				  client_supports_binding, nonce, out, r);
	free(nonce);
	return ok;
}

const char *scram_client_first(struct scram *s)
{
	return s->client_first;
}

/* One "name=value" attribute at *p; value up to the next ',' or the end. */
static bool attribute(const char **p, const char *end, char name, const char **value,
		      size_t *len)
{
	const char *comma;

	if (end - *p < 2 || (*p)[0] != name || (*p)[1] != '=')
		return false;
	*value = *p + 2;
	comma = memchr(*value, ',', (size_t)(end - *value));
	*len = (size_t)((comma != NULL ? comma : end) - *value);
	*p = comma != NULL ? comma + 1 : end;
	/* a trailing ',' announces an attribute that never comes */
	return comma == NULL || comma + 1 < end;
}

/* Optional extensions after the last known attribute: "X=...", each. */
static bool extensions_ok(const char *p, const char *end)
{
	const char *value;
	size_t len;

	while (p < end) {
		char name = *p;

		if (!((name >= 'a' && name <= 'z') || (name >= 'A' && name <= 'Z')) ||
		    !attribute(&p, end, name, &value, &len))
			return false;
	}
	return true;
}

static bool parse_iterations(const char *text, size_t len, unsigned long long *out)
{
	unsigned long long n = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return false;
		n = n * 10 + (unsigned long long)(text[i] - '0');
	}
	*out = n;
	return true;
}

static bool malformed(struct result *r, const char *what)
{
	return result_fail(r, RESULT_PROTOCOL, _("SCRAM: malformed %s in the relay's challenge"),
			   what);
}

struct server_first {
	const char *nonce;
	size_t nonce_len;
	unsigned char salt[SCRAM_MESSAGE_MAX];
	size_t salt_len;
	unsigned long long iterations;
};

static bool check_nonce(const struct scram *s, const struct server_first *f, struct result *r)
{
	const char *ours = s->client_first + s->nonce_offset;
	size_t ours_len = strlen(ours);

	if (!nonce_chars(f->nonce, f->nonce_len))
		return malformed(r, "r=");
	if (f->nonce_len <= ours_len || memcmp(f->nonce, ours, ours_len) != 0)
		return result_fail(r, RESULT_NOPERM,
				   _("SCRAM: the relay's nonce does not extend ours (possible "
				     "replay or impostor)"));
	return true;
}

static bool parse_server_first(const struct scram *s, const char *msg, size_t len,
			       struct server_first *f, struct result *r)
{
	const char *p = msg, *end = msg + len, *value;
	size_t vlen;

	if (len >= 2 && msg[0] == 'm' && msg[1] == '=')
		return result_fail(r, RESULT_NOPERM,
				   _("SCRAM: the relay requires an extension relaymail does not "
				     "support (m=)"));
	if (!attribute(&p, end, 'r', &f->nonce, &f->nonce_len) || p == end)
		return malformed(r, "r=");
	if (!check_nonce(s, f, r))
		return false;
	if (!attribute(&p, end, 's', &value, &vlen) || p == end ||
	    !unb64(value, vlen, f->salt, sizeof f->salt, &f->salt_len))
		return malformed(r, "s=");
	if (!attribute(&p, end, 'i', &value, &vlen) ||
	    !parse_iterations(value, vlen, &f->iterations))
		return malformed(r, "i=");
	if (!extensions_ok(p, end))
		return malformed(r, "extension");
	if (f->iterations < SCRAM_MIN_ITERATIONS || f->iterations > SCRAM_MAX_ITERATIONS)
		return result_fail(r, RESULT_NOPERM,
				   _("SCRAM: the relay asks for %llu iterations, outside %d to %d"),
				   f->iterations, SCRAM_MIN_ITERATIONS, SCRAM_MAX_ITERATIONS);
	return true;
}

static bool hmac(const unsigned char *key, const void *text, size_t len, unsigned char *out)
{
	return gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, KEY_LEN, text, len, out) >= 0;
}

/* SaltedPassword, ClientKey, StoredKey, ServerKey (RFC 5802 3). */
static bool derive_keys(struct scram *s, const struct server_first *f, struct result *r)
{
	gnutls_datum_t key = { (unsigned char *)s->password, (unsigned)strlen(s->password) };
	gnutls_datum_t salt = { (unsigned char *)f->salt, (unsigned)f->salt_len };
	int rc;

	rc = gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &salt, (unsigned)f->iterations, s->salted,
			   KEY_LEN);
	if (rc < 0)
		return result_fail(r, RESULT_OSERR, _("SCRAM: key derivation failed: %s"),
				   gnutls_strerror(rc));
	if (!hmac(s->salted, "Client Key", 10, s->client_key) ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, s->client_key, KEY_LEN, s->stored_key) < 0 ||
	    !hmac(s->salted, "Server Key", 10, s->server_key))
		return result_fail(r, RESULT_OSERR, _("SCRAM: key derivation failed: %s"), "HMAC");
	return true;
}

/* "c=base64(gs2 header + binding),r=nonce": client-final-message-without-proof. */
static char *final_without_proof(const struct scram *s, const struct server_first *f)
{
	size_t gs2 = strlen(s->gs2), size;
	unsigned char cbind[sizeof s->gs2 + BINDING_MAX];
	char *c, *out = NULL;

	memcpy(cbind, s->gs2, gs2);
	memcpy(cbind + gs2, s->binding, s->binding_len);
	c = b64(cbind, gs2 + s->binding_len);
	if (c == NULL)
		return NULL;
	size = 2 + strlen(c) + 3 + f->nonce_len + 1;
	out = malloc(size);
	if (out != NULL)
		snprintf(out, size, "c=%s,r=%.*s", c, (int)f->nonce_len, f->nonce);
	free(c);
	return out;
}

/* AuthMessage = client-first-bare "," server-first "," final-without-proof;
 * then the signatures, and the proof appended to the final message. */
static bool sign(struct scram *s, const char *server_first, size_t len, char *without_proof,
		 struct result *r)
{
	const char *bare = s->client_first + s->bare_offset;
	unsigned char proof[KEY_LEN];
	char *p64 = NULL;
	size_t size;

	s->auth_len = strlen(bare) + 1 + len + 1 + strlen(without_proof);
	s->auth_message = malloc(s->auth_len + 1);
	if (s->auth_message == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	snprintf(s->auth_message, s->auth_len + 1, "%s,%.*s,%s", bare, (int)len, server_first,
		 without_proof);
	if (!hmac(s->stored_key, s->auth_message, s->auth_len, s->client_sig) ||
	    !hmac(s->server_key, s->auth_message, s->auth_len, s->server_sig))
		return result_fail(r, RESULT_OSERR, _("SCRAM: key derivation failed: %s"), "HMAC");
	for (size_t i = 0; i < KEY_LEN; i++)
		proof[i] = s->client_key[i] ^ s->client_sig[i];
	p64 = b64(proof, sizeof proof);
	explicit_bzero(proof, sizeof proof);
	size = strlen(without_proof) + 3 + (p64 != NULL ? strlen(p64) : 0) + 1;
	s->client_final = p64 != NULL ? malloc(size) : NULL;
	if (s->client_final != NULL)
		snprintf(s->client_final, size, "%s,p=%s", without_proof, p64);
	wipe_string(p64);
	if (s->client_final == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	return true;
}

static bool bounded(const char *msg, size_t len, struct result *r)
{
	if (len > SCRAM_MESSAGE_MAX || memchr(msg, '\0', len) != NULL)
		return result_fail(r, RESULT_PROTOCOL,
				   _("SCRAM: the relay's message is too long or contains NUL bytes"));
	return true;
}

bool scram_client_final(struct scram *s, const char *server_first, size_t len,
			const char **client_final, struct result *r)
{
	struct server_first *f = NULL;
	char *without_proof = NULL;
	bool ok = false;

	*client_final = NULL;
	if (s->state != WANT_SERVER_FIRST)
		return result_fail(r, RESULT_SOFTWARE, _("SCRAM: steps called out of order"));
	s->state = DONE;
	if (!bounded(server_first, len, r))
		return false;
	f = calloc(1, sizeof *f);
	if (f == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	if (!parse_server_first(s, server_first, len, f, r) || !derive_keys(s, f, r))
		goto out;
	without_proof = final_without_proof(s, f);
	if (without_proof == NULL) {
		result_fail(r, RESULT_OSERR, _("out of memory"));
		goto out;
	}
	if (!sign(s, server_first, len, without_proof, r))
		goto out;
	s->state = WANT_SERVER_FINAL;
	*client_final = s->client_final;
	ok = true;
out:
	free(without_proof);
	explicit_bzero(f, sizeof *f);
	free(f);
	return ok;
}

static bool server_error(const char *value, size_t len, struct result *r)
{
	char raw[ERROR_SHOWN + 1], shown[4 * ERROR_SHOWN + 1];

	if (len > ERROR_SHOWN)
		len = ERROR_SHOWN;
	memcpy(raw, value, len);
	raw[len] = '\0';
	return result_fail(r, RESULT_NOPERM, _("SCRAM: the relay refused the authentication: %s"),
			   log_escape(shown, sizeof shown, raw));
}

bool scram_verify_server(struct scram *s, const char *server_final, size_t len, struct result *r)
{
	const char *p = server_final, *end = server_final + len, *value;
	unsigned char sig[KEY_LEN];
	size_t vlen, got = 0;
	bool ok;

	if (s->state != WANT_SERVER_FINAL)
		return result_fail(r, RESULT_SOFTWARE, _("SCRAM: steps called out of order"));
	s->state = DONE;
	if (!bounded(server_final, len, r))
		return false;
	if (attribute(&p, end, 'e', &value, &vlen))
		return server_error(value, vlen, r);
	if (!attribute(&p, end, 'v', &value, &vlen) || !unb64(value, vlen, sig, sizeof sig, &got) ||
	    !extensions_ok(p, end))
		return result_fail(r, RESULT_PROTOCOL,
				   _("SCRAM: malformed final message from the relay"));
	ok = got == KEY_LEN && gnutls_memcmp(sig, s->server_sig, KEY_LEN) == 0;
	explicit_bzero(sig, sizeof sig);
	if (!ok)
		return result_fail(r, RESULT_NOPERM,
				   _("SCRAM: the relay could not prove that it knows the password "
				     "(possible impostor); nothing was sent"));
	return true;
}

bool cram_md5_response(const char *user, const char *password, const char *challenge,
		       size_t len, char **out, struct result *r)
{
	unsigned char digest[16];
	char hex[2 * sizeof digest + 1];
	gnutls_datum_t d = { digest, sizeof digest };
	size_t hex_len = sizeof hex, size = strlen(user) + 1 + 2 * sizeof digest + 1;
	int rc;

	*out = NULL;
	if (*user == '\0' || has_control(user))
		return result_fail(r, RESULT_CONFIG,
				   _("CRAM-MD5: the user name is empty or contains control "
				     "characters"));
	if (len > SCRAM_MESSAGE_MAX)
		return result_fail(r, RESULT_PROTOCOL, _("CRAM-MD5: the relay's challenge is too long"));
	rc = gnutls_hmac_fast(GNUTLS_MAC_MD5, password, strlen(password), challenge, len, digest);
	if (rc >= 0)
		rc = gnutls_hex_encode(&d, hex, &hex_len);
	explicit_bzero(digest, sizeof digest);
	if (rc < 0)
		return result_fail(r, RESULT_OSERR, _("CRAM-MD5: HMAC failed: %s"),
				   gnutls_strerror(rc));
	*out = malloc(size);
	if (*out != NULL)
		snprintf(*out, size, "%s %s", user, hex);
	explicit_bzero(hex, sizeof hex);
	if (*out == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	return true;
}
