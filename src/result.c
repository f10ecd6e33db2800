#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "result.h"

bool result_fail_set(struct result *r, enum result_class cls, const char *fmt, ...)
{
	va_list ap;

	r->cls = cls;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof r->msg, fmt, ap);
	va_end(ap);
	return false;
}

bool result_prefix(struct result *r, const char *prefix)
{
	size_t plen = strlen(prefix) + 2, mlen = strlen(r->msg);

	if (plen >= sizeof r->msg)
		return false;
	if (plen + mlen >= sizeof r->msg)
		mlen = sizeof r->msg - plen - 1;
	memmove(r->msg + plen, r->msg, mlen);
	memcpy(r->msg, prefix, plen - 2);
	memcpy(r->msg + plen - 2, ": ", 2);
	r->msg[plen + mlen] = '\0';
	return false;
}

void result_clear(struct result *r)
{
	r->cls = RESULT_OK;
	r->msg[0] = '\0';
}

int result_exitcode(enum result_class cls)
{
	switch (cls) {
	case RESULT_OK:         return EX_OK;
	case RESULT_TEMPFAIL:   return EX_TEMPFAIL;
	case RESULT_PERMFAIL:   return EX_UNAVAILABLE;
	case RESULT_NOUSER:     return EX_NOUSER;
	case RESULT_NOHOST:     return EX_NOHOST;
	case RESULT_PROTOCOL:   return EX_PROTOCOL;
	case RESULT_NOPERM:     return EX_NOPERM;
	case RESULT_CONFIG:     return EX_CONFIG;
	case RESULT_USAGE:      return EX_USAGE;
	case RESULT_DATAERR:    return EX_DATAERR;
	case RESULT_NOINPUT:    return EX_NOINPUT;
	case RESULT_CANTCREAT:  return EX_CANTCREAT;
	case RESULT_OSERR:      return EX_OSERR;
	case RESULT_SOFTWARE:   return EX_SOFTWARE;
	}
	return EX_SOFTWARE;
}
