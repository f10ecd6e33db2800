#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

/* Room for a formatted line of up to LOG_LINE_MAX - 1 bytes once every
 * byte of it has become a four-character escape. */
#define LOG_LINE_MAX 1024
#define LOG_SHOWN_MAX (4 * LOG_LINE_MAX)

/* Every line for people is formatted first and escaped as a whole: its
 * arguments (addresses, Message-IDs, replies, file names) may come from
 * the message, the queue or the relay, and must not drive a terminal or
 * forge log lines.  Translated text is UTF-8 and stays as it is. */
static void format_escaped(char *shown, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void format_escaped(char *shown, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];

	vsnprintf(line, sizeof line, fmt, ap);
	log_escape(shown, LOG_SHOWN_MAX, line);
}

static void emit(int priority, const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void emit(int priority, const char *prefix, const char *fmt, va_list ap)
{
	char shown[LOG_SHOWN_MAX];

	format_escaped(shown, fmt, ap);
	fprintf(stderr, "relaymail: %s%s\n", prefix, shown);
	syslog(priority, "%s%s", prefix, shown);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_ERR, "", fmt, ap);
	va_end(ap);
}

void log_error_quiet(const char *fmt, ...)
{
	char shown[LOG_SHOWN_MAX];
	va_list ap;

	va_start(ap, fmt);
	format_escaped(shown, fmt, ap);
	va_end(ap);
	syslog(LOG_ERR, "%s", shown);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* The prefix is a fixed protocol-like tag, like "relaymail: error". */
	emit(LOG_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	char shown[LOG_SHOWN_MAX];
	va_list ap;

	va_start(ap, fmt);
	format_escaped(shown, fmt, ap);
	va_end(ap);
	syslog(LOG_INFO, "%s", shown);
}

char *log_printable(char *dst, size_t dstsize, const char *src, size_t len)
{
	size_t o = 0;

	if (dstsize == 0)
		return dst;
	for (size_t i = 0; i < len && o + 1 < dstsize; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[o] = '\0';
	return dst;
}

/* Length of the valid UTF-8 sequence at s that is not a C1 control, or 0. */
static size_t utf8_text_len(const unsigned char *s)
{
	size_t need, i;
	unsigned cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 2, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 3, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF and C1 controls */
	if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	/* Line and paragraph separators and bidirectional overrides: they
	 * break or reorder what a log viewer shows, so a forged line or a
	 * reversed address could pass for a real one. */
	if (cp == 0x2028 || cp == 0x2029 || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
		return 0;
	return need + 1;
}

char *log_escape(char *dst, size_t dstsize, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;

	if (dstsize == 0)
		return dst;
	while (*s) {
		size_t n = *s >= 0x20 && *s < 0x7f ? 1 : *s >= 0x80 ? utf8_text_len(s) : 0;

		if (n > 0) {
			if (o + n >= dstsize)
				break;
			memcpy(dst + o, s, n);
			o += n;
			s += n;
			continue;
		}
		if (o + 4 >= dstsize)
			break;
		snprintf(dst + o, dstsize - o, "\\x%02X", *s);
		o += 4;
		s++;
	}
	dst[o] = '\0';
	return dst;
}

void log_trace(const char *prefix, const char *line, size_t len)
{
	char shown[1100];

	if (len > 1000)
		len = 1000;
	log_printable(shown, sizeof shown, line, len);
	fprintf(stderr, "%s %s\n", prefix, shown);
}
