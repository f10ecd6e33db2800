/* Messages for people: stderr lines, the -v trace and syslog (facility mail).
 * log_error/log_error_quiet/log_warn/log_info escape the formatted line
 * with log_escape(), so arguments taken from the message, the queue or the
 * relay cannot carry control characters to a terminal or a log; a line is
 * cut at 1023 bytes before escaping.
 *
 * No state lives here: main() calls openlog() once; the verbose flag travels
 * in the structures that need it (struct conn).
 */
#ifndef RELAYMAIL_LOG_H
#define RELAYMAIL_LOG_H

#include <stddef.h>

/* "relaymail: <text>" on stderr and LOG_ERR in syslog. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Only to syslog (LOG_ERR): for -oeq, which keeps stderr quiet. */
void log_error_quiet(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "relaymail: warning: <text>" on stderr and LOG_WARNING in syslog. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* LOG_INFO in syslog only: stdout and stderr stay silent on success. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line of the -v SMTP transcript on stderr; prefix is "<<<" or ">>>".
 * Control characters are shown escaped so a hostile server cannot drive the
 * terminal. */
void log_trace(const char *prefix, const char *line, size_t len);

/* Copy len bytes of untrusted text into dst (NUL-terminated, truncated to
 * dstsize) with control and non-ASCII bytes replaced by '?', so server
 * replies can be quoted in error messages safely. Returns dst. */
char *log_printable(char *dst, size_t dstsize, const char *src, size_t len);

/* Copy NUL-terminated untrusted text (from the message, the queue or the
 * relay) into dst for people to read: control characters (C0, DEL, C1),
 * invalid UTF-8, and the Unicode line separators and bidirectional
 * controls (U+2028/9, U+200E/F, U+202A-E, U+2066-9) become \xHH escapes,
 * one per byte; other valid UTF-8 text is kept.  The result is truncated
 * to dstsize (always NUL-terminated, never in the middle of an escape or a
 * character); 4 * strlen(src) + 1 bytes are always enough.  Returns dst. */
char *log_escape(char *dst, size_t dstsize, const char *src);

#endif
