#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "log.h"

static void emit(int priority, const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void emit(int priority, const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof line, fmt, ap);
	fprintf(stderr, "relaymail: %s%s\n", prefix, line);
	syslog(priority, "%s%s", prefix, line);
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
	va_list ap;

	va_start(ap, fmt);
	vsyslog(LOG_ERR, fmt, ap);
	va_end(ap);
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
	va_list ap;

	va_start(ap, fmt);
	vsyslog(LOG_INFO, fmt, ap);
	va_end(ap);
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

void log_trace(const char *prefix, const char *line, size_t len)
{
	char shown[1100];

	if (len > 1000)
		len = 1000;
	log_printable(shown, sizeof shown, line, len);
	fprintf(stderr, "%s %s\n", prefix, shown);
}
