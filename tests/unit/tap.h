/* Minimal TAP producer for the table-driven unit tests. */
#ifndef RELAYMAIL_TAP_H
#define RELAYMAIL_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void tap_ok(int cond, const char *name)
{
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, name);
}

static inline void tap_is_int(long got, long want, const char *name)
{
	tap_ok(got == want, name);
	if (got != want)
		printf("# got %ld, want %ld\n", got, want);
}

/* Print s on a diagnostic line with control and 8-bit bytes escaped, so
 * CR, LF and the like stay visible and cannot break the TAP stream.  At
 * most 400 bytes are shown. */
static inline void tap_diag_escaped(const char *label, const char *s, size_t len)
{
	printf("# %s\"", label);
	for (size_t i = 0; i < len && i < 400; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			fputs("\\r", stdout);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"%s\n", len > 400 ? "..." : "");
}

static inline void tap_is_str(const char *got, const char *want, const char *name)
{
	int same = got && want ? strcmp(got, want) == 0 : got == want;

	tap_ok(same, name);
	if (!same) {
		if (got)
			tap_diag_escaped("got  ", got, strlen(got));
		else
			printf("# got  (null)\n");
		if (want)
			tap_diag_escaped("want ", want, strlen(want));
		else
			printf("# want (null)\n");
	}
}

static inline void tap_skip(const char *reason)
{
	printf("ok %d # SKIP %s\n", ++tap_n, reason);
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
