/* The protocol between relaymail clients and relaymail --serve over the
 * Unix socket (described in relaymail(8), SYSTEM MODE).  Lines end in
 * CRLF and are at most SERVICE_LINE_MAX octets.
 *
 *   S: 220 relaymail service ready
 *   C: ARG <xtext>                 one per sendmail argument (argv[1...])
 *   C: DATA <octets>               then exactly that many octets of message
 *   S: 250-RCPT <xtext> <state>    one per recipient, state one of
 *                                  sent, queued, refused
 *   S: 250-WARN <text>             a warning for the caller's stderr
 *   S: <code> <CLASS> <text>       the outcome: CLASS names a result class
 *                                  (OK, TEMPFAIL, NOUSER, ...), text is the
 *                                  caller's one-line error (empty for OK)
 * or, instead of ARG/DATA:
 *   C: LIST                        S: 250-<line of mailq> ... 250 OK
 *   C: FLUSH [ALL]                 S: 250 OK once the due (ALL: every; root
 *                                  only) entries were tried
 * The client pipelines ARG..DATA and the octets in one flight; the service
 * answers after the message was delivered or durably queued.
 */
#ifndef RELAYMAIL_SERVICE_PROTO_H
#define RELAYMAIL_SERVICE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "result.h"

#define SERVICE_LINE_MAX 16384
#define SERVICE_ARG_MAX 4096            /* octets of one decoded argument */
#define SERVICE_ARGS_MAX 1024           /* arguments of one submission */

/* Buffered reading from a socket, every read bounded by one deadline. */
struct proto_reader {
	int fd;
	time_t deadline;
	char buf[SERVICE_LINE_MAX + 2];
	size_t start, end;
};

enum proto_status { PROTO_OK, PROTO_EOF, PROTO_TIMEOUT, PROTO_TOO_LONG, PROTO_ERROR };

void proto_reader_init(struct proto_reader *rd, int fd, unsigned timeout_s);

/* One line without its CRLF (or LF) into line (SERVICE_LINE_MAX + 1). */
enum proto_status proto_read_line(struct proto_reader *rd, char *line);

/* Up to size octets (buffered ones first); *got receives the count. */
enum proto_status proto_read_some(struct proto_reader *rd, char *out, size_t size, size_t *got);

/* RFC 3461 xtext: octets outside 33..126, '+' and '=' as +HH.  False when
 * out (size bytes) is too small. */
bool service_xtext_encode(const char *in, char *out, size_t size);

/* Decode xtext into out (size bytes, NUL-terminated); false for malformed
 * input, a NUL octet or an overflow. */
bool service_xtext_decode(const char *in, char *out, size_t size);

/* The protocol token of a result class and back (false: unknown token). */
const char *service_class_token(enum result_class cls);
bool service_class_parse(const char *token, enum result_class *cls);

/* The SMTP-like code that goes with a class (250, 451, 550, 554). */
int service_class_code(enum result_class cls);

#endif
