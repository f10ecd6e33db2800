/* DNS TXT lookups for relaymail --check, through libunbound (NLnet Labs:
 * maintained, a synchronous API, DNSSEC-capable), loaded with dlopen() so
 * that sending mail never loads it.  RELAYMAIL_DNS_SERVER=ADDR@PORT (tests)
 * sends every query to that server; otherwise /etc/resolv.conf is used.
 */
#ifndef RELAYMAIL_DNS_H
#define RELAYMAIL_DNS_H

#include <stddef.h>

enum dns_status { DNS_FOUND, DNS_NONE, DNS_ERROR };

struct dns_txt {
	char **records;         /* each TXT record, its strings joined; owned */
	size_t n;
};

/* TXT records of name.  DNS_NONE: NXDOMAIN or no TXT; DNS_ERROR: why says
 * what failed. */
enum dns_status dns_lookup_txt(const char *name, struct dns_txt *out, char *why, size_t size);

void dns_txt_free(struct dns_txt *txt);

#endif
