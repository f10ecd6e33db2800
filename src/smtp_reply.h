/* Pure, bounded parser for SMTP replies (RFC 5321 4.2, RFC 3463 codes).
 *
 * Feed it one line at a time (line ending removed); it says whether the
 * reply is complete.  Anything malformed (bad code, codes that change
 * between lines, too many lines) is an error, never a crash: the parser
 * only reads the bytes it is given and writes into its fixed-size struct.
 */
#ifndef RELAYMAIL_SMTP_REPLY_H
#define RELAYMAIL_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_REPLY_MAX_LINES 256
#define SMTP_REPLY_TEXT_MAX 8192

struct smtp_reply {
	int code;                       /* 200..599 */
	char enhanced[16];              /* "5.7.1" from the first line, or "" */
	char text[SMTP_REPLY_TEXT_MAX]; /* text of each line after "NNN-", '\n'-joined */
	size_t text_len;                /* text is truncated (and NUL-terminated) at the max */
	unsigned n_lines;
};

enum smtp_reply_status { SMTP_REPLY_MORE, SMTP_REPLY_DONE, SMTP_REPLY_ERROR };

void smtp_reply_init(struct smtp_reply *reply);

/* On SMTP_REPLY_ERROR *error is a static description, marked for
 * translation with N_() (the caller shows it through gettext). */
enum smtp_reply_status smtp_reply_feed(struct smtp_reply *reply, const char *line, size_t len,
				       const char **error);

/* The n-th line's text (0-based) and its length; NULL past the end. */
const char *smtp_reply_line(const struct smtp_reply *reply, unsigned n, size_t *len);

#endif
