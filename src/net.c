#include "autoconfig.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "connect.h"
#include "i18n.h"
#include "net.h"

bool net_connect(const char *host, unsigned port, const struct connect_params *cp, const char *hop,
		 int *fd_out, struct connect_report *rep, struct result *r)
{
	struct addrinfo hints, *list = NULL;
	char service[8], why[RESULT_MSG_MAX];
	int rc;

	memset(&hints, 0, sizeof hints);
	memset(rep, 0, sizeof *rep);
	rep->chosen = -1;
	*fd_out = -1;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* No AI_ADDRCONFIG: it ignores loopback addresses (a relay on ::1
	 * would vanish on a host with IPv4 only outside lo), and Happy
	 * Eyeballs passes over an unusable family at once anyway. */
	snprintf(service, sizeof service, "%u", port);
	rc = getaddrinfo(host, service, &hints, &list);
	if (hop != NULL && rc != 0)
		return result_fail(r, RESULT_TEMPFAIL, _("%s: %s (check the proxy setting if it persists)"),
				   hop, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	/* NXDOMAIN and SERVFAIL look alike while DNS is broken: temporary, so
	 * the message is queued, never lost.  A misspelt name keeps failing
	 * this way, so the text says which setting to check. */
	if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_FAIL)
		return result_fail(r, RESULT_TEMPFAIL,
				   _("relay host %s: %s (the name does not resolve now; if it persists, check the host setting)"),
				   host, gai_strerror(rc));
	if (rc != 0)
		return result_fail(r, RESULT_TEMPFAIL, _("relay host %s: %s"), host,
				   rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	connect_happy(list, cp, fd_out, rep);
	rep->via_proxy = hop != NULL;
	freeaddrinfo(list);
	if (*fd_out >= 0)
		return true;
	connect_reason(rep, cp, why, sizeof why);
	if (hop != NULL)
		return result_fail(r, RESULT_TEMPFAIL, "%s: %s", hop, why);
	return result_fail(r, RESULT_TEMPFAIL, _("cannot connect to %s port %u: %s"), host, port, why);
}
