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

static inline void tap_is_str(const char *got, const char *want, const char *name)
{
	int same = got && want ? strcmp(got, want) == 0 : got == want;

	tap_ok(same, name);
	if (!same)
		printf("# got  \"%s\"\n# want \"%s\"\n", got ? got : "(null)", want ? want : "(null)");
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
