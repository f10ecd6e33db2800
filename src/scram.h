/* SASL SCRAM-SHA-256 and SCRAM-SHA-256-PLUS client (RFC 5802, RFC 7677),
 * with tls-exporter channel binding (RFC 9266), and CRAM-MD5 (RFC 2195).
 *
 * Only GnuTLS primitives: gnutls_pbkdf2, gnutls_hmac_fast,
 * gnutls_hash_fast, gnutls_rnd, base64 — no crypto is written here.
 *
 * A struct scram is owned by the caller: scram_new(), then
 * scram_client_first() -> send; the server's first challenge ->
 * scram_client_final() -> send; the server's final message ->
 * scram_verify_server().  scram_free() wipes every secret (salted
 * password, keys, the password copy).  Messages in and out are the
 * decoded SASL payloads (the SMTP layer does base64).
 *
 * The server is authenticated: scram_verify_server() fails unless the
 * server's signature (v=) proves it knows the salted password.  The
 * iteration count is bounded (SCRAM_MIN_ITERATIONS..SCRAM_MAX_ITERATIONS)
 * so a hostile server cannot make the client spin.  Passwords and user
 * names are used as UTF-8 without SASLprep normalisation (documented);
 * ',' and '=' in the user name are escaped as RFC 5802 requires.
 *
 * Errors: RESULT_NOPERM (server error e=..., a wrong server signature,
 * a nonce that does not extend ours, an iteration count out of range, a
 * channel binding that cannot be made), RESULT_PROTOCOL (a malformed
 * server message), RESULT_CONFIG (a user name that is empty or has control
 * characters), RESULT_SOFTWARE (steps out of order, a bad fixed nonce),
 * RESULT_OSERR.
 */
#ifndef RELAYMAIL_SCRAM_H
#define RELAYMAIL_SCRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"

#define SCRAM_MIN_ITERATIONS 4096
#define SCRAM_MAX_ITERATIONS 1000000
#define SCRAM_MESSAGE_MAX 4096

struct scram;

/* channel_binding: the 32-byte tls-exporter value (RFC 9266) for -PLUS,
 * or NULL for plain SCRAM-SHA-256.  client_supports_binding: true when
 * relaymail could bind but the server did not offer -PLUS (gs2 flag "y",
 * which lets the server detect a downgrade), false otherwise ("n"). */
bool scram_new(const char *user, const char *password, const unsigned char *channel_binding,
	       size_t binding_len, bool client_supports_binding, struct scram **out,
	       struct result *r);

/* scram_new() with a fixed client nonce (printable ASCII without ',', at
 * most 128 characters) instead of 24 random bytes in base64: for test
 * vectors and interoperability checks only. */
bool scram_new_with_nonce(const char *user, const char *password,
			  const unsigned char *channel_binding, size_t binding_len,
			  bool client_supports_binding, const char *client_nonce, struct scram **out,
			  struct result *r);

/* client-first-message (NUL-terminated, borrowed from s). */
const char *scram_client_first(struct scram *s);

/* From server-first-message (len bytes, not NUL-terminated) to
 * client-final-message (NUL-terminated, borrowed from s). */
bool scram_client_final(struct scram *s, const char *server_first, size_t len,
			const char **client_final, struct result *r);

/* Check server-final-message ("v=..." or "e=..."). */
bool scram_verify_server(struct scram *s, const char *server_final, size_t len, struct result *r);

void scram_free(struct scram *s);

/* CRAM-MD5: "user hex(HMAC-MD5(password, challenge))" in a new string the
 * caller releases with sasl_free() (sasl.h). */
bool cram_md5_response(const char *user, const char *password, const char *challenge,
		       size_t len, char **out, struct result *r);

#endif
