/* The message: read from stdin into a private spool, headers indexed.
 *
 * message_read() normalizes line endings (the CRs before LF are dropped, a bare
 * CR becomes CRLF in the body and a space in a header, every line is stored
 * with CRLF, body lines over MESSAGE_MAX_LINE are folded with CRLF SP), keeps the header block in memory (bounded by
 * MESSAGE_MAX_HEADER_BYTES and MESSAGE_MAX_HEADERS) and streams the body to
 * an unlinked 0600 file, so memory does not grow with message size.  The
 * struct message owns the spool descriptor and every header; free it with
 * message_free().  Errors: RESULT_NOINPUT (stdin), RESULT_DATAERR (NUL byte,
 * header block too large), RESULT_CANTCREAT (spool), RESULT_OSERR (memory).
 */
#ifndef RELAYMAIL_MESSAGE_H
#define RELAYMAIL_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "result.h"

#define MESSAGE_MAX_HEADER_BYTES (256 * 1024)
#define MESSAGE_MAX_HEADERS 1000
#define MESSAGE_MAX_LINE 998    /* body lines are folded beyond it */
/* A header block as relaymail wrote it (fixed up, folded, encoded) may be
 * larger than the one it read. */
#define MESSAGE_COPY_MAX_HEADER_BYTES (4 * MESSAGE_MAX_HEADER_BYTES)

struct header {
	char *text;             /* "Name: value\r\n" incl. folded lines; owned */
	size_t len;
	size_t cap;             /* allocated bytes of text (0: exactly len + 1) */
	size_t name_len;        /* length of Name (without trailing blanks) */
	bool omit;              /* not transmitted (Bcc:) */
};

struct message {
	int spool_fd;           /* body only, CRLF lines; -1 when none */
	off_t body_offset;      /* where the body starts in the spool (0 but
				 * in a copy of a preformatted message) */
	off_t body_size;
	struct header *headers;
	size_t n_headers;
	size_t cap_headers;
	bool eight_bit;         /* a byte >= 0x80 in the body */
	bool preformatted;      /* the spool holds the whole message (a queue entry) */
	bool add_crlf;          /* preformatted content without its final CRLF:
				 * one is sent (and counted) after it */
};

struct message_read_opts {
	bool ignore_dots;       /* -i: a line "." is content, not the end */
	const char *spool_dir;  /* directory for the spool file ($TMPDIR or /tmp) */
};

bool message_read(int in_fd, const struct message_read_opts *opts,
		  struct message *msg, struct result *r);

/* Incremental form, for input that does not come from one descriptor
 * (-bs DATA): begin, feed any number of chunks, then finish, which always
 * releases the reader (and on failure the message). */
struct message_reader;
struct message_reader *message_reader_begin(const struct message_read_opts *opts,
					    struct message *msg, struct result *r);
bool message_reader_feed(struct message_reader *rd, const char *data, size_t len);
bool message_reader_finish(struct message_reader *rd, bool ok);

/* Feed a memory buffer instead of a descriptor (tests, fuzzing). */
bool message_read_buffer(const char *data, size_t len, const struct message_read_opts *opts,
			 struct message *msg, struct result *r);

/* Does header h have this field name (case-insensitive)? */
bool message_header_is(const struct header *h, const char *name);

/* The field body (after the colon, folded lines included, final CRLF not). */
const char *message_header_value(const struct header *h, size_t *len);

/* First header index >= start with this name, or -1. */
long message_find(const struct message *msg, const char *name, size_t start);

/* The Message-ID header's value, unfolded and trimmed, into buf ("" when
 * there is none). */
const char *message_id(const struct message *msg, char *buf, size_t size);

/* Append "Name: value\r\n" to the header block. */
bool message_add_header(struct message *msg, const char *name, const char *value,
			struct result *r);

/* Write the message as it goes on the wire, before dot-stuffing (headers
 * that are not omitted, a blank line, the body) to fd.  RESULT_CANTCREAT on
 * a write error. */
bool message_write_content(const struct message *msg, int fd, struct result *r);

/* write(2) all n bytes (EINTR retried); RESULT_CANTCREAT on error. */
bool message_write_all(int fd, const char *p, size_t n, struct result *r);

/* Adopt fd (a complete message, e.g. a queue entry) as a preformatted
 * message.  Takes ownership of fd, also on failure.  Content that does not
 * end with CRLF gets one on the wire (add_crlf), so that the end of data is
 * never glued to its last line. */
bool message_adopt(int fd, bool eight_bit, struct message *msg, struct result *r);

/* A copy of msg whose headers can be changed without changing msg (the
 * header text for a relay without SMTPUTF8): the headers duplicated (for a
 * preformatted message, a queue entry, read from the header block of its
 * file, bounded by MESSAGE_COPY_MAX_HEADER_BYTES), the body shared through
 * a duplicate of the spool descriptor, so memory does not grow with the
 * message.  Free it with message_free().  Errors: RESULT_DATAERR (a queue
 * file without a readable header block), RESULT_OSERR. */
bool message_copy(const struct message *msg, struct message *copy, struct result *r);

/* Bytes that go on the wire before dot-stuffing: headers, blank line, body. */
off_t message_wire_size(const struct message *msg);

void message_free(struct message *msg);

#endif
