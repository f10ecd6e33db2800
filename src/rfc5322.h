/* Pure RFC 5322 helpers: address lists, dates, Message-IDs, mailboxes.
 *
 * No I/O and no global state, so they can be unit-tested and fuzzed.
 */
#ifndef RELAYMAIL_RFC5322_H
#define RELAYMAIL_RFC5322_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "result.h"

#define ADDRESS_MAX 998

/* A growable list of bare addr-specs ("local@domain" or a bare "local"),
 * each owned by the list, in the order they were added.  A list starts
 * zeroed ({ 0 }); it may be moved by struct assignment, but items[] and n
 * are changed only through these functions (the index points into them). */
struct address_list {
	char **items;
	size_t n;
	size_t cap;
	void *index;            /* tsearch(3) tree over items, for de-duplication */
};

/* Append addr unless an equal address is already listed: local parts
 * compared exactly, domains (after the last '@') ASCII case-insensitively.
 * O(log n) per call.  RESULT_OSERR on memory failure. */
bool address_list_add(struct address_list *list, const char *addr, struct result *r);

void address_list_free(struct address_list *list);

/* No control characters (CR, LF, NUL, TAB...) and at most ADDRESS_MAX
 * bytes: safe to put inside an SMTP command. */
bool rfc5322_address_is_safe(const char *addr);

/* Parse an address-list (RFC 5322 3.4: display names, quoted strings,
 * comments, groups, obsolete routes, folding) and append each addr-spec.
 * Syntax errors are RESULT_DATAERR with a short reason. */
bool rfc5322_parse_address_list(const char *text, size_t len, struct address_list *out,
				struct result *r);

/* Called for each addr-spec of an address list, in order, with its place
 * in the text (byte offset and length of the addr-spec as written, so a
 * caller can rewrite it in place).  Return false (with r set) to stop. */
typedef bool (*rfc5322_address_fn)(const char *addr, size_t start, size_t len, void *data,
				   struct result *r);

bool rfc5322_scan_address_list(const char *text, size_t len, rfc5322_address_fn found,
			       void *data, struct result *r);

/* "Sat, 28 Nov 2026 14:33:55 +0100" in the local time zone, independent of
 * the locale.  Returns false if buf is too small. */
bool rfc5322_format_date(time_t t, char *buf, size_t size);

/* "<20261128143355.0123456789abcdef@domain>" from the time and random bytes. */
bool rfc5322_format_message_id(time_t t, const unsigned char *random, size_t nrandom,
			       const char *domain, char *buf, size_t size);

/* Append text as RFC 2047 encoded words ("=?UTF-8?B?...?=", folded with
 * CRLF SP, each at most 75 characters, no line over 76 when the first word
 * starts at first_column) at buf + *len.  false if buf is too small. */
bool rfc5322_encode_words(const char *text, size_t len, size_t first_column, char *buf,
			  size_t size, size_t *outlen);

/* An address list (the value of To:, From:...) for a relay without
 * SMTPUTF8: display names and comments with 8-bit bytes become encoded
 * words (a phrase whole, so that decoding gives it back with its blanks),
 * everything else is copied.  column: where text starts on its line.
 * RESULT_DATAERR for an addr-spec with 8-bit bytes (no encoding can carry
 * it) or a list that does not parse; RESULT_OSERR when buf is too small. */
bool rfc5322_encode_phrases(const char *text, size_t len, size_t column, char *buf, size_t size,
			    size_t *outlen, struct result *r);

/* Whether p[0..n) holds a byte with the high bit set (8-bit text that
 * needs SMTPUTF8, 8BITMIME or an encoding). */
bool rfc5322_has_8bit(const char *p, size_t n);

/* s without the WSP (space, tab) at either end: the end is cut in place,
 * the start is skipped in the pointer returned. */
char *rfc5322_trim_wsp(char *s);

/* Drop an incomplete UTF-8 sequence at the end of buf, which a bounded
 * copy (snprintf) can leave when it cuts a name: the rest stays UTF-8. */
void rfc5322_utf8_trim_partial(char *buf);

/* A mailbox for a From: header: "Display Name" <addr>, with the name
 * quoted, or RFC 2047-encoded when it is not ASCII.  Without a name just
 * the address.  Returns false if buf is too small. */
bool rfc5322_format_mailbox(const char *name, const char *addr, char *buf, size_t size);

#endif
