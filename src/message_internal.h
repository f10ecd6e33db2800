#ifndef RELAYMAIL_MESSAGE_INTERNAL_H
#define RELAYMAIL_MESSAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "message.h"
#include "result.h"

/* The size of one read() of the input or of the spool. */
#define MESSAGE_IO_CHUNK (128 * 1024)

/* Shared by the reader (message_read.c) and message_copy() (message.c):
 * the header block is parsed the same way in both. */

/* Whether line[0..n) starts a header field ("Name:", also the obsolete
 * "Name :"); *name_len gets the name's length. */
bool message_looks_like_field(const char *line, size_t n, size_t *name_len);

/* Room for one more field in msg->headers (RESULT_DATAERR beyond the
 * limit, RESULT_OSERR without memory). */
bool message_grow_headers(struct message *msg, struct result *r);

/* Append one header line (without its line end) as a new field of
 * name_len, or, when continuation, to the previous field; at most limit
 * fields.  A bare CR in the line becomes a space. */
bool message_store_header(struct message *msg, const char *line, size_t n, bool continuation,
			  size_t name_len, size_t limit, struct result *r);

#endif
