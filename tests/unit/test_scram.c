/* Tests for the SCRAM-SHA-256(-PLUS) and CRAM-MD5 clients (scram.h).
 *
 * The plain exchange is the RFC 7677 section 3 vector.  The expected
 * values for the "y,," and "p=tls-exporter,," exchanges (same user,
 * password, nonces and salt; binding = the bytes 0x00..0x1f) were computed
 * independently with Python's hashlib.pbkdf2_hmac and hmac, following
 * RFC 5802 section 3, and are hard-coded here. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"
#include "scram.h"
#include "tap.h"

#define USER "user"
#define PASSWORD "pencil"
#define NONCE "rOprNGfwEbeRWgbNEkqO"
#define SNONCE NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define SALT ",s=W22ZaJ0SNY7soEsUEjb6gQ=="
#define SERVER_FIRST "r=" SNONCE SALT ",i=4096"
#define CLIENT_FINAL "c=biws,r=" SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static struct scram *start(const unsigned char *binding, size_t len, bool supports)
{
	struct scram *s = NULL;
	struct result r;

	result_clear(&r);
	if (!scram_new_with_nonce(USER, PASSWORD, binding, len, supports, NONCE, &s, &r))
		printf("# scram_new_with_nonce: %s\n", r.msg);
	return s;
}

/* Runs one full exchange; returns the class scram_verify_server() gave. */
static enum result_class exchange(const char *server_first, const char *server_final,
				  const char **final, struct scram **keep)
{
	struct scram *s = start(NULL, 0, false);
	struct result r;
	enum result_class cls;

	result_clear(&r);
	*final = NULL;
	if (s == NULL)
		return RESULT_SOFTWARE;
	if (!scram_client_final(s, server_first, strlen(server_first), final, &r) ||
	    !scram_verify_server(s, server_final, strlen(server_final), &r))
		printf("# %s\n", r.msg);
	cls = r.cls;
	*keep = s;
	return cls;
}

static void test_rfc7677(void)
{
	struct scram *s = NULL;
	const char *final;
	enum result_class cls;

	s = start(NULL, 0, false);
	tap_is_str(s ? scram_client_first(s) : NULL, "n,,n=user,r=" NONCE, "RFC 7677 client-first");
	scram_free(s);
	cls = exchange(SERVER_FIRST, SERVER_FINAL, &final, &s);
	tap_is_str(final, CLIENT_FINAL, "RFC 7677 client-final");
	tap_is_int(cls, RESULT_OK, "RFC 7677 server-final accepted");
	scram_free(s);

	/* 'G' -> 'H' flips the lowest bit of one decoded byte. */
	cls = exchange(SERVER_FIRST, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95H4=", &final, &s);
	tap_is_int(cls, RESULT_NOPERM, "one-bit-wrong server signature refused");
	scram_free(s);
	cls = exchange(SERVER_FIRST, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4", &final, &s);
	tap_is_int(cls, RESULT_PROTOCOL, "truncated server signature refused");
	scram_free(s);
	cls = exchange(SERVER_FIRST, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,x=ext", &final,
		       &s);
	tap_is_int(cls, RESULT_OK, "server-final extension tolerated");
	scram_free(s);
	cls = exchange(SERVER_FIRST, "e=invalid-proof", &final, &s);
	tap_is_int(cls, RESULT_NOPERM, "e=invalid-proof refused");
	scram_free(s);
	cls = exchange(SERVER_FIRST, "", &final, &s);
	tap_is_int(cls, RESULT_PROTOCOL, "empty server-final refused");
	scram_free(s);
}

static void test_server_error_text(void)
{
	struct scram *s = start(NULL, 0, false);
	const char *final = NULL;
	struct result r;

	result_clear(&r);
	tap_ok(s && scram_client_final(s, SERVER_FIRST, strlen(SERVER_FIRST), &final, &r),
	       "e= text: client-final");
	tap_ok(s && !scram_verify_server(s, "e=bad\x1b[31m", 10, &r) &&
		       strstr(r.msg, "SCRAM") != NULL && strstr(r.msg, "bad\\x1B[31m") != NULL &&
		       strchr(r.msg, '\x1b') == NULL,
	       "e= text named, escaped");
	tap_ok(s && !scram_verify_server(s, SERVER_FINAL, strlen(SERVER_FINAL), &r) &&
		       r.cls == RESULT_SOFTWARE,
	       "verify twice refused");
	scram_free(s);
}

struct bad_first {
	const char *name;
	const char *msg;
	enum result_class cls;
};

static const struct bad_first bad_firsts[] = {
	{ "nonce not extending ours", "r=XOprNGfwEbeRWgbNEkqO%hv" SALT ",i=4096", RESULT_NOPERM },
	{ "nonce equal to ours", "r=" NONCE SALT ",i=4096", RESULT_NOPERM },
	{ "nonce shorter than ours", "r=rOprNG" SALT ",i=4096", RESULT_NOPERM },
	{ "nonce with a space", "r=" NONCE "ab cd" SALT ",i=4096", RESULT_PROTOCOL },
	{ "nonce with 8-bit byte", "r=" NONCE "\xc3\xa9" SALT ",i=4096", RESULT_PROTOCOL },
	{ "i=1", "r=" SNONCE SALT ",i=1", RESULT_NOPERM },
	{ "i=4095", "r=" SNONCE SALT ",i=4095", RESULT_NOPERM },
	{ "i=2000000000", "r=" SNONCE SALT ",i=2000000000", RESULT_NOPERM },
	{ "i=99999999999", "r=" SNONCE SALT ",i=99999999999", RESULT_PROTOCOL },
	{ "i=-4096", "r=" SNONCE SALT ",i=-4096", RESULT_PROTOCOL },
	{ "i= +4096", "r=" SNONCE SALT ",i=+4096", RESULT_PROTOCOL },
	{ "i= empty", "r=" SNONCE SALT ",i=", RESULT_PROTOCOL },
	{ "i=4096x", "r=" SNONCE SALT ",i=4096x", RESULT_PROTOCOL },
	{ "m= extension", "m=foo,r=" SNONCE SALT ",i=4096", RESULT_NOPERM },
	{ "missing s=", "r=" SNONCE ",i=4096", RESULT_PROTOCOL },
	{ "missing i=", "r=" SNONCE SALT, RESULT_PROTOCOL },
	{ "missing r=", "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", RESULT_PROTOCOL },
	{ "attributes out of order", "r=" SNONCE ",i=4096" SALT, RESULT_PROTOCOL },
	{ "empty salt", "r=" SNONCE ",s=,i=4096", RESULT_PROTOCOL },
	{ "salt bad base64 char", "r=" SNONCE ",s=W22ZaJ0SNY7s*EsUEjb6gQ==,i=4096", RESULT_PROTOCOL },
	{ "salt bad base64 length", "r=" SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",
	  RESULT_PROTOCOL },
	{ "salt with a line break", "r=" SNONCE ",s=W22ZaJ0S\nNY7soEsUEjb6gQ==,i=4096",
	  RESULT_PROTOCOL },
	{ "trailing comma", "r=" SNONCE SALT ",i=4096,", RESULT_PROTOCOL },
	{ "bad extension name", "r=" SNONCE SALT ",i=4096,1=x", RESULT_PROTOCOL },
	{ "empty message", "", RESULT_PROTOCOL },
	{ "upper-case R", "R=" SNONCE SALT ",i=4096", RESULT_PROTOCOL },
};

static void test_bad_server_first(void)
{
	for (size_t i = 0; i < sizeof bad_firsts / sizeof bad_firsts[0]; i++) {
		const struct bad_first *c = &bad_firsts[i];
		struct scram *s = start(NULL, 0, false);
		const char *final = (const char *)1;
		struct result r;
		char name[100];
		bool ok;

		result_clear(&r);
		ok = s && scram_client_final(s, c->msg, strlen(c->msg), &final, &r);
		tap_ok(!ok && final == NULL && strstr(r.msg, "SCRAM") != NULL, c->name);
		snprintf(name, sizeof name, "%s: class", c->name);
		tap_is_int(r.cls, c->cls, name);
		scram_free(s);
	}
}

static void test_server_first_edges(void)
{
	static const char with_ext[] = "r=" SNONCE SALT ",i=4096,x=anything,y=more";
	static const char nul[] = "r=" SNONCE SALT ",i=4096\0x";
	char *big = malloc(SCRAM_MESSAGE_MAX + 2);
	struct scram *s;
	const char *final;
	struct result r;

	result_clear(&r);
	s = start(NULL, 0, false);
	tap_ok(s && scram_client_final(s, with_ext, strlen(with_ext), &final, &r) &&
		       strncmp(final, "c=biws,r=" SNONCE ",p=", 9 + strlen(SNONCE) + 3) == 0,
	       "optional extensions after i= tolerated");
	tap_ok(s && !scram_client_final(s, with_ext, strlen(with_ext), &final, &r) &&
		       r.cls == RESULT_SOFTWARE,
	       "client-final twice refused");
	scram_free(s);

	s = start(NULL, 0, false);
	tap_ok(s && !scram_client_final(s, nul, sizeof nul - 1, &final, &r) &&
		       r.cls == RESULT_PROTOCOL,
	       "NUL byte in server-first refused");
	scram_free(s);

	s = start(NULL, 0, false);
	/* valid but for its length: an extension pads it */
	if (big != NULL) {
		memset(big, 'a', SCRAM_MESSAGE_MAX + 1);
		memcpy(big, SERVER_FIRST ",x=", strlen(SERVER_FIRST ",x="));
		big[SCRAM_MESSAGE_MAX + 1] = '\0';
	}
	tap_ok(s && big && !scram_client_final(s, big, SCRAM_MESSAGE_MAX + 1, &final, &r) &&
		       r.cls == RESULT_PROTOCOL,
	       "overlong server-first refused");
	scram_free(s);
	free(big);
}

static void test_user_names(void)
{
	struct scram *s = NULL;
	struct result r;

	result_clear(&r);
	tap_ok(scram_new_with_nonce("a,b=c", "pw", NULL, 0, false, "abc", &s, &r),
	       "escaped user accepted");
	tap_is_str(s ? scram_client_first(s) : NULL, "n,,n=a=2Cb=3Dc,r=abc", "user name escaping");
	scram_free(s);
	s = (struct scram *)1;
	tap_ok(!scram_new_with_nonce("a\nb", "pw", NULL, 0, false, "abc", &s, &r) && s == NULL &&
		       r.cls == RESULT_CONFIG,
	       "user name with LF refused");
	tap_ok(!scram_new_with_nonce("a\x7f", "pw", NULL, 0, false, "abc", &s, &r),
	       "user name with DEL refused");
	tap_ok(!scram_new_with_nonce("", "pw", NULL, 0, false, "abc", &s, &r), "empty user refused");
	tap_ok(!scram_new_with_nonce("u", "pw", NULL, 0, false, "a,b", &s, &r),
	       "fixed nonce with ',' refused");
	tap_ok(scram_new_with_nonce("j\xc3\xbcrgen", "pw", NULL, 0, false, "abc", &s, &r),
	       "UTF-8 user name accepted");
	scram_free(s);
}

static void test_random_nonce(void)
{
	struct scram *a = NULL, *b = NULL;
	struct result r;
	const char *fa, *fb;
	size_t prefix = strlen("n,,n=user,r=");

	result_clear(&r);
	tap_ok(scram_new(USER, PASSWORD, NULL, 0, false, &a, &r) &&
		       scram_new(USER, PASSWORD, NULL, 0, false, &b, &r),
	       "scram_new");
	if (a == NULL || b == NULL)
		goto out;
	fa = scram_client_first(a);
	fb = scram_client_first(b);
	/* 24 random bytes are 32 characters of base64. */
	tap_is_int((long)strlen(fa), (long)(prefix + 32), "random nonce length");
	tap_ok(strncmp(fa, "n,,n=user,r=", prefix) == 0 && strchr(fa + prefix, ',') == NULL,
	       "random nonce without ','");
	tap_ok(strcmp(fa, fb) != 0, "two nonces differ");
out:
	scram_free(a);
	scram_free(b);
}

struct bound_case {
	const char *name;
	bool plus, supports;
	const char *first, *final, *server_final;
};

static const struct bound_case bound_cases[] = {
	{ "y,, (client could bind, server did not offer -PLUS)", false, true,
	  "y,,n=user,r=" NONCE,
	  "c=eSws,r=" SNONCE ",p=FoqiHTtQEDE8lz1CdaEe3tK4mS+iMDTl77SPyDS53DY=",
	  "v=dI4KpiQJwBr1+V+K6U1dA6l6I4I9DUNXWND4pcpRU3U=" },
	{ "p=tls-exporter,, with a 32-byte binding", true, true, "p=tls-exporter,,n=user,r=" NONCE,
	  "c=cD10bHMtZXhwb3J0ZXIsLAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f,r=" SNONCE
	  ",p=QC6CS20quADQRb3mT99YUH+n3VJxUvzuK0K0E1Vrs2M=",
	  "v=2GiAgapEppLVlUXbxUDksL3VgYHzuqiK5tR4mhJGgvs=" },
};

static void test_channel_binding(void)
{
	unsigned char binding[32];
	struct result r;

	for (size_t i = 0; i < sizeof binding; i++)
		binding[i] = (unsigned char)i;
	for (size_t i = 0; i < sizeof bound_cases / sizeof bound_cases[0]; i++) {
		const struct bound_case *c = &bound_cases[i];
		struct scram *s = start(c->plus ? binding : NULL, c->plus ? sizeof binding : 0,
					c->supports);
		const char *final = NULL;

		result_clear(&r);
		tap_is_str(s ? scram_client_first(s) : NULL, c->first, c->name);
		tap_ok(s && scram_client_final(s, SERVER_FIRST, strlen(SERVER_FIRST), &final, &r),
		       c->name);
		tap_is_str(final, c->final, c->name);
		tap_ok(s && scram_verify_server(s, c->server_final, strlen(c->server_final), &r),
		       c->name);
		scram_free(s);
	}
	/* The plain server signature must not verify a bound exchange. */
	{
		struct scram *s = start(binding, sizeof binding, true);
		const char *final;

		tap_ok(s && scram_client_final(s, SERVER_FIRST, strlen(SERVER_FIRST), &final, &r) &&
			       !scram_verify_server(s, SERVER_FINAL, strlen(SERVER_FINAL), &r) &&
			       r.cls == RESULT_NOPERM,
		       "unbound signature refused for -PLUS");
		scram_free(s);
	}
}

static void test_cram_md5(void)
{
	static const char challenge[] = "<1896.697170952@postoffice.reston.mci.net>";
	char *out = NULL;
	struct result r;

	result_clear(&r);
	tap_ok(cram_md5_response("tim", "tanstaaftanstaaf", challenge, strlen(challenge), &out, &r),
	       "CRAM-MD5 response");
	tap_is_str(out, "tim b913a602c7eda7a495b4e6e7334d3890", "CRAM-MD5 RFC 2195 vector");
	sasl_free(out);
	out = (char *)1;
	tap_ok(!cram_md5_response("t\rim", "x", challenge, strlen(challenge), &out, &r) &&
		       out == NULL && r.cls == RESULT_CONFIG,
	       "CRAM-MD5 user with CR refused");
}

int main(void)
{
	test_rfc7677();
	test_server_error_text();
	test_bad_server_first();
	test_server_first_edges();
	test_user_names();
	test_random_nonce();
	test_channel_binding();
	test_cram_md5();
	return tap_done();
}
