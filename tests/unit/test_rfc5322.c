/* Table-driven tests for the RFC 5322 helpers (rfc5322.h). */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rfc5322.h"
#include "tap.h"

struct addr_case {
	const char *in;
	bool ok;
	const char *want;       /* ok: the addresses joined with '|'; else NULL */
};

static const struct addr_case addr_cases[] = {
	/* plain and lists */
	{ "a@b.example", true, "a@b.example" },
	{ "a@b, c@d", true, "a@b|c@d" },
	{ "a@b,c@d,e@f", true, "a@b|c@d|e@f" },
	{ "  a@b  ,\tc@d  ", true, "a@b|c@d" },
	{ "first.last@sub.example.org", true, "first.last@sub.example.org" },
	{ "a+tag@b", true, "a+tag@b" },
	{ "o'brien@x", true, "o'brien@x" },
	{ "a @ b . c", true, "a@b.c" },
	{ "\xc3\xbcser@ex\xc3\xa4mple.de", true, "\xc3\xbcser@ex\xc3\xa4mple.de" },
	/* display names and angle addresses */
	{ "John Smith <js@example.com>", true, "js@example.com" },
	{ "<a@b>", true, "a@b" },
	{ "< a@b >", true, "a@b" },
	{ "\"Smith, John\" <js@x>, other@y", true, "js@x|other@y" },
	{ "\"Quote \\\" inside\" <q@x>", true, "q@x" },
	{ "Dr. J. Smith <j@x>", true, "j@x" },
	{ "=?UTF-8?B?SsO2cmc=?= <j@x>", true, "j@x" },
	{ "J\xc3\xb6rg <j@x>, K <k@y>", true, "j@x|k@y" },
	/* comments */
	{ "John (the man) Smith <j@x>", true, "j@x" },
	{ "j@x (comment)", true, "j@x" },
	{ "(c) j@x", true, "j@x" },
	{ "j(c)@(d)x", true, "j@x" },
	{ "j@x (nested (comment) here)", true, "j@x" },
	{ "j@x (escaped \\) paren)", true, "j@x" },
	{ "j@x (escaped \\( paren)", true, "j@x" },
	{ "(comment, with comma) j@x, k@y", true, "j@x|k@y" },
	{ "<j@x> (after angle)", true, "j@x" },
	/* groups */
	{ "undisclosed-recipients:;", true, "" },
	{ "undisclosed-recipients: ;", true, "" },
	{ "team: a@b, c@d;", true, "a@b|c@d" },
	{ "team: a@b, c@d;, e@f", true, "a@b|c@d|e@f" },
	{ "x@y, team: A <a@b>, (c) c@d;", true, "x@y|a@b|c@d" },
	{ "\"The Team\": a@b;", true, "a@b" },
	{ "g1: a@b;, g2: c@d;", true, "a@b|c@d" },
	/* obsolete routes */
	{ "<@r1,@r2:u@d>", true, "u@d" },
	{ "Name <@r1.example:u@d>", true, "u@d" },
	/* quoted local parts and domain literals */
	{ "\"john doe\"@example.com", true, "\"john doe\"@example.com" },
	{ "<\"john doe\"@example.com>", true, "\"john doe\"@example.com" },
	{ "\"a\\\"b\"@x", true, "\"a\\\"b\"@x" },
	{ "user@[192.0.2.1]", true, "user@[192.0.2.1]" },
	{ "user@[IPv6:2001:db8::1]", true, "user@[IPv6:2001:db8::1]" },
	{ "Lit <u@[10.0.0.1]>", true, "u@[10.0.0.1]" },
	/* folding */
	{ "a@b,\r\n c@d", true, "a@b|c@d" },
	{ "John\r\n Smith\r\n\t<j@x>,\r\n k@y", true, "j@x|k@y" },
	{ "\"John\r\n Smith\" <j@x>", true, "j@x" },
	/* empty elements, bare names, null address */
	{ "a@b,,c@d", true, "a@b|c@d" },
	{ ", a@b ,", true, "a@b" },
	{ "", true, "" },
	{ "   ", true, "" },
	{ ",", true, "" },
	{ "root", true, "root" },
	{ "root, admin", true, "root|admin" },
	{ "<>", true, "" },
	{ "<>, a@b", true, "a@b" },
	/* dedup */
	{ "a@x, a@x", true, "a@x" },
	{ "a@EXAMPLE.com, a@example.COM", true, "a@EXAMPLE.com" },
	{ "A@x, a@x", true, "A@x|a@x" },
	{ "root, root, Root", true, "root|Root" },
	{ "Me <a@x>, a@x, team: a@X;", true, "a@x" },
	/* errors */
	{ "\"unterminated", false, NULL },
	{ "\"unterminated\\", false, NULL },
	{ "a@b (unterminated", false, NULL },
	{ "a@b (nested (only one closed)", false, NULL },
	{ "a@b (escape at end\\", false, NULL },
	{ "<a@b", false, NULL },
	{ "Name <a@b, c@d", false, NULL },
	{ "John Smith", false, NULL },
	{ "a@b@c", false, NULL },
	{ "<a@b> junk", false, NULL },
	{ "<a@b> <c@d>", false, NULL },
	{ "g1: g2: a@b;;", false, NULL },
	{ "team: a@b", false, NULL },
	{ "team: a@b, c@d", false, NULL },
	{ "team: a@b; junk", false, NULL },
	{ "a@b;", false, NULL },
	{ "a@b>", false, NULL },
	{ ">", false, NULL },
	{ "<", false, NULL },
	{ "a@", false, NULL },
	{ "@b", false, NULL },
	{ "a..b@c", false, NULL },
	{ "a@b.", false, NULL },
	{ "a@b c@d", false, NULL },
	{ "[1.2.3.4]@x", false, NULL },
	{ "user@[192.0.2.1", false, NULL },
	{ "a\x01" "b@x", false, NULL },
	{ "<a,b@c>", false, NULL },
	{ "\"a\nb\"@x", false, NULL },
	{ "u@[192.0.2.1].com", false, NULL },
	{ "u@example.[192.0.2.1]", false, NULL },
	/* more that must parse */
	{ "\"a <b@c>\" <d@e>", true, "d@e" },
	{ "<(c)a@b(d)>", true, "a@b" },
	{ "a@b\r\n", true, "a@b" },
	{ "\"\"@x", true, "\"\"@x" },
	{ "u@[a\\]b]", true, "u@[a\\]b]" },
	{ "Name <a@b>, Other Name <c@d>", true, "a@b|c@d" },
};

static char *join(const struct address_list *list)
{
	size_t total = 1;
	char *out;

	for (size_t i = 0; i < list->n; i++)
		total += strlen(list->items[i]) + 1;
	out = malloc(total);
	if (out == NULL)
		abort();
	out[0] = '\0';
	for (size_t i = 0; i < list->n; i++) {
		if (i)
			strcat(out, "|");
		strcat(out, list->items[i]);
	}
	return out;
}

static void run_addr_case(const struct addr_case *c)
{
	struct address_list list = { 0 };
	struct result r;
	size_t len = strlen(c->in);
	char *copy = malloc(len ? len : 1), *got, name[300];
	bool ok;

	/* exact-size copy without NUL: ASan catches any read past len */
	if (copy == NULL)
		abort();
	memcpy(copy, c->in, len);
	result_clear(&r);
	ok = rfc5322_parse_address_list(copy, len, &list, &r);
	snprintf(name, sizeof name, "address list '%s': %s", c->in, c->ok ? "parses" : "rejected");
	for (char *p = name; *p; p++) {
		if (*p == '\r' || *p == '\n' || *p == '\t' || *p == '#' || (unsigned char)*p < 32)
			*p = ' ';
	}
	if (c->ok) {
		tap_ok(ok, name);
		if (!ok)
			printf("# %s\n", r.msg);
		got = join(&list);
		strcat(name, ": addresses");
		tap_is_str(got, c->want, name);
		free(got);
	} else {
		tap_ok(!ok && r.cls == RESULT_DATAERR && r.msg[0] != '\0', name);
		if (ok || r.cls != RESULT_DATAERR) {
			got = join(&list);
			printf("# class %d, got \"%s\"\n", (int)r.cls, got);
			free(got);
		}
	}
	address_list_free(&list);
	free(copy);
}

struct seen {
	char addr[64];
	size_t start, len;
};

struct scan_state {
	struct seen seen[8];
	size_t n;
	size_t stop_after;      /* return false after this many; 0 never */
};

static bool record(const char *addr, size_t start, size_t len, void *data, struct result *r)
{
	struct scan_state *st = data;

	if (st->n < 8) {
		snprintf(st->seen[st->n].addr, sizeof st->seen[st->n].addr, "%s", addr);
		st->seen[st->n].start = start;
		st->seen[st->n].len = len;
	}
	st->n++;
	if (st->stop_after && st->n >= st->stop_after)
		return result_fail(r, RESULT_USAGE, "stopped by the callback");
	return true;
}

static void test_scan(void)
{
	static const char text[] = "John <j@x>, (c) k @ y, team: \"q r\"@z;, <@route:u@v>";
	struct scan_state st;
	struct result r;
	bool ok;

	memset(&st, 0, sizeof st);
	result_clear(&r);
	ok = rfc5322_scan_address_list(text, sizeof text - 1, record, &st, &r);
	tap_ok(ok && st.n == 4, "scan: four addresses");
	tap_ok(strcmp(st.seen[0].addr, "j@x") == 0 && st.seen[0].start == 6 && st.seen[0].len == 3,
	       "scan: angle address offset and length");
	tap_ok(strcmp(st.seen[1].addr, "k@y") == 0 && st.seen[1].start == 16 && st.seen[1].len == 5,
	       "scan: spaced address spans its text");
	tap_ok(strcmp(st.seen[2].addr, "\"q r\"@z") == 0 && st.seen[2].start == 29 &&
	       st.seen[2].len == 7, "scan: quoted local part in a group");
	tap_ok(strcmp(st.seen[3].addr, "u@v") == 0 && st.seen[3].start == 47 && st.seen[3].len == 3,
	       "scan: route not part of the addr-spec");
	for (size_t i = 0; i < 4 && i < st.n; i++) {
		if (st.seen[i].start + st.seen[i].len > sizeof text - 1)
			tap_ok(0, "scan: span inside the text");
	}

	memset(&st, 0, sizeof st);
	st.stop_after = 2;
	result_clear(&r);
	ok = rfc5322_scan_address_list(text, sizeof text - 1, record, &st, &r);
	tap_ok(!ok && st.n == 2 && r.cls == RESULT_USAGE && strcmp(r.msg, "stopped by the callback") == 0,
	       "scan: callback stops the scan and its result is kept");

	/* a length shorter than the string: only that prefix is parsed */
	{
		struct address_list list = { 0 };

		result_clear(&r);
		ok = rfc5322_parse_address_list("a@b, c@d", 3, &list, &r);
		tap_ok(ok && list.n == 1 && strcmp(list.items[0], "a@b") == 0, "parse: honours len");
		address_list_free(&list);
	}
}

static void test_list_api(void)
{
	struct address_list list = { 0 };
	struct result r;
	char name[64];
	bool all = true;

	result_clear(&r);
	tap_ok(address_list_add(&list, "a@x", &r) && list.n == 1, "list: add");
	tap_ok(address_list_add(&list, "a@X", &r) && list.n == 1, "list: domain case-insensitive");
	tap_ok(address_list_add(&list, "A@x", &r) && list.n == 2, "list: local part case-sensitive");
	tap_ok(address_list_add(&list, "a", &r) && list.n == 3, "list: bare name differs from a@x");
	tap_ok(address_list_add(&list, "a", &r) && list.n == 3, "list: bare name dedup");
	tap_ok(address_list_add(&list, "\"a@b\"@x", &r) && list.n == 4, "list: quoted '@' in local part");
	tap_ok(address_list_add(&list, "a@b", &r) && list.n == 5, "list: a@b distinct from \"a@b\"@x");
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "user%d@example.org", i);
		all = all && address_list_add(&list, name, &r);
	}
	tap_ok(all && list.n == 105 && strcmp(list.items[104], "user99@example.org") == 0,
	       "list: grows and keeps order");
	tap_ok(address_list_add(&list, "x@\xc3\x84.example", &r) &&
	       address_list_add(&list, "x@\xc3\xa4.example", &r) && list.n == 107,
	       "list: non-ASCII domain bytes compared exactly");
	tap_ok(address_list_add(&list, "USER7@EXAMPLE.ORG", &r) && address_list_add(&list, "user7@EXAMPLE.org", &r) &&
	       list.n == 108, "list: duplicates found among many");
	address_list_free(&list);
	tap_ok(list.items == NULL && list.n == 0 && list.cap == 0 && list.index == NULL, "list: free resets");
	{
		/* 50,000 adds with half of them duplicates: the index keeps each
		 * O(log n) (a linear scan took seconds), and the order. */
		clock_t start = clock();

		all = true;
		for (int i = 0; i < 50000; i++) {
			snprintf(name, sizeof name, "u%d@Example.ORG", i % 25000);
			if (i >= 25000)
				name[strlen(name) - 1] = 'g';
			all = all && address_list_add(&list, name, &r);
		}
		tap_ok(all && list.n == 25000 && strcmp(list.items[24999], "u24999@Example.ORG") == 0,
		       "list: 50,000 adds, 25,000 distinct, in order");
		tap_ok((double)(clock() - start) / CLOCKS_PER_SEC < 1.0, "list: 50,000 adds in well under a second");
		address_list_free(&list);
	}
	address_list_free(&list);

	tap_ok(rfc5322_address_is_safe("a@b"), "safe: plain");
	tap_ok(rfc5322_address_is_safe("\xc3\xbc@x"), "safe: UTF-8");
	tap_ok(!rfc5322_address_is_safe("a\r\n@b"), "safe: CRLF");
	tap_ok(!rfc5322_address_is_safe("a\tb@c"), "safe: TAB");
	tap_ok(!rfc5322_address_is_safe("a\x7f@b"), "safe: DEL");
	{
		char big[ADDRESS_MAX + 2];

		memset(big, 'a', sizeof big);
		big[ADDRESS_MAX] = '\0';
		tap_ok(rfc5322_address_is_safe(big), "safe: ADDRESS_MAX bytes");
		big[ADDRESS_MAX] = 'a';
		big[ADDRESS_MAX + 1] = '\0';
		tap_ok(!rfc5322_address_is_safe(big), "safe: ADDRESS_MAX + 1 bytes");
	}
	{
		/* ADDRESS_MAX bytes is fine, one more is not */
		char text[ADDRESS_MAX + 2];
		struct address_list l = { 0 };

		memset(text, 'a', sizeof text);
		text[ADDRESS_MAX - 2] = '@';
		tap_ok(rfc5322_parse_address_list(text, ADDRESS_MAX, &l, &r) && l.n == 1 &&
		       strlen(l.items[0]) == ADDRESS_MAX, "parse: address of ADDRESS_MAX bytes");
		address_list_free(&l);
		tap_ok(!rfc5322_parse_address_list(text, ADDRESS_MAX + 1, &l, &r) && r.cls == RESULT_DATAERR,
		       "parse: address of ADDRESS_MAX + 1 bytes rejected");
		address_list_free(&l);
		tap_ok(!rfc5322_parse_address_list("a\0b@x", 5, &l, &r) && r.cls == RESULT_DATAERR && l.n == 0,
		       "parse: NUL inside the text rejected");
		address_list_free(&l);
	}
	{
		/* an addr-spec longer than ADDRESS_MAX is an error, not an overflow */
		size_t n = 3000;
		char *text = malloc(n);
		struct address_list l = { 0 };

		if (text == NULL)
			abort();
		memset(text, 'a', n);
		text[n - 3] = '@';
		tap_ok(!rfc5322_parse_address_list(text, n, &l, &r) && r.cls == RESULT_DATAERR,
		       "parse: over-long address rejected");
		address_list_free(&l);
		/* many short tokens */
		for (size_t i = 0; i < n; i++)
			text[i] = i % 2 ? '.' : 'a';
		text[n - 1] = 'a';
		tap_ok(!rfc5322_parse_address_list(text, n, &l, &r) && r.cls == RESULT_DATAERR,
		       "parse: address with too many tokens rejected");
		address_list_free(&l);
		free(text);
	}
}

/* ---- dates and Message-IDs ------------------------------------------- */

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static bool date_shape_ok(const char *s)
{
	static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char day[4], mon[4], sign;
	int d, y, hh, mm, ss, zone, consumed = 0;
	bool day_ok = false, mon_ok = false;

	if (sscanf(s, "%3[A-Za-z], %d %3[A-Za-z] %d %2d:%2d:%2d %c%4d%n", day, &d, mon, &y, &hh, &mm,
		   &ss, &sign, &zone, &consumed) != 9 || s[consumed] != '\0')
		return false;
	for (int i = 0; i < 7; i++)
		day_ok = day_ok || strcmp(day, days[i]) == 0;
	for (int i = 0; i < 12; i++)
		mon_ok = mon_ok || strcmp(mon, months[i]) == 0;
	/* zone is exactly 4 digits; time fields exactly 2 */
	return day_ok && mon_ok && d >= 1 && d <= 31 && y >= 1970 && hh < 24 && mm < 60 && ss < 61 &&
	       (sign == '+' || sign == '-') && zone % 100 < 60 && strlen(strrchr(s, ' ') + 1) == 5 &&
	       s[strlen(s) - 15] == ' ' && s[strlen(s) - 12] == ':' && s[strlen(s) - 9] == ':';
}

static void test_dates(void)
{
	static const struct {
		const char *tz;
		time_t t;
		const char *want;
	} dates[] = {
		{ "UTC", 0, "Thu, 1 Jan 1970 00:00:00 +0000" },
		{ "UTC", 1234567890, "Fri, 13 Feb 2009 23:31:30 +0000" },
		{ "UTC", 951782400, "Tue, 29 Feb 2000 00:00:00 +0000" },
		{ "UTC", 4102444799, "Thu, 31 Dec 2099 23:59:59 +0000" },
		{ "CET-1", 1795872835, "Sat, 28 Nov 2026 14:33:55 +0100" },
		{ "IST-5:30", 1234567890, "Sat, 14 Feb 2009 05:01:30 +0530" },
		{ "NST+3:30", 1234567890, "Fri, 13 Feb 2009 20:01:30 -0330" },
		{ "EST+5", 1234567890, "Fri, 13 Feb 2009 18:31:30 -0500" },
		{ "<+14>-14", 0, "Thu, 1 Jan 1970 14:00:00 +1400" },
	};
	char buf[64], name[128];
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;

	for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
		set_tz(dates[i].tz);
		snprintf(name, sizeof name, "date: TZ=%s t=%lld", dates[i].tz, (long long)dates[i].t);
		tap_ok(rfc5322_format_date(dates[i].t, buf, sizeof buf), name);
		tap_is_str(buf, dates[i].want, name);
		tap_ok(date_shape_ok(buf), "date: shape of an RFC 5322 date-time");
	}
	if (access("/usr/share/zoneinfo/Asia/Kolkata", R_OK) == 0) {
		set_tz("Asia/Kolkata");
		tap_ok(rfc5322_format_date(1234567890, buf, sizeof buf) &&
		       strcmp(buf, "Sat, 14 Feb 2009 05:01:30 +0530") == 0, "date: Asia/Kolkata is +0530");
		set_tz("Europe/Berlin");
		tap_ok(rfc5322_format_date(1782000000, buf, sizeof buf) && strstr(buf, " +0200") != NULL,
		       "date: Europe/Berlin summer time is +0200");
	} else {
		tap_skip("no zoneinfo for Asia/Kolkata");
		tap_skip("no zoneinfo for Europe/Berlin");
	}
	/* the current time has the right shape in several zones */
	set_tz("UTC");
	tap_ok(rfc5322_format_date(time(NULL), buf, sizeof buf) && date_shape_ok(buf), "date: now, shape");
	/* buffer sizes */
	tap_ok(rfc5322_format_date(1234567890, buf, 32) && strlen(buf) == 31, "date: exact buffer size");
	tap_ok(!rfc5322_format_date(1234567890, buf, 31), "date: one byte short is false");
	tap_ok(!rfc5322_format_date(1234567890, buf, 1), "date: tiny buffer is false");

	/* Message-ID: UTC, whatever the zone */
	{
		static const unsigned char rnd[] = { 0x01, 0x23, 0xab, 0xff, 0x00 };
		const char *want = "<20090213233130.0123abff00@example.org>";
		char *exact = malloc(strlen(want) + 1);

		if (exact == NULL)
			abort();
		set_tz("IST-5:30");
		tap_ok(rfc5322_format_message_id(1234567890, rnd, sizeof rnd, "example.org", buf, sizeof buf),
		       "message-id: formats");
		tap_is_str(buf, want, "message-id: exact text, UTC time");
		tap_ok(rfc5322_format_message_id(1234567890, rnd, sizeof rnd, "example.org", exact,
						 strlen(want) + 1) && strcmp(exact, want) == 0,
		       "message-id: exact buffer size");
		tap_ok(!rfc5322_format_message_id(1234567890, rnd, sizeof rnd, "example.org", exact,
						  strlen(want)), "message-id: one byte short is false");
		tap_ok(!rfc5322_format_message_id(1234567890, rnd, sizeof rnd, "example.org", exact, 20),
		       "message-id: short buffer inside the random part is false");
		tap_ok(!rfc5322_format_message_id(1234567890, rnd, sizeof rnd, "example.org", exact, 10),
		       "message-id: short buffer inside the time is false");
		tap_ok(rfc5322_format_message_id(0, rnd, 1, "h", buf, sizeof buf) &&
		       strcmp(buf, "<19700101000000.01@h>") == 0, "message-id: epoch, one random byte");
		free(exact);
	}
	if (saved) {
		set_tz(saved);
		free(saved);
	} else {
		unsetenv("TZ");
		tzset();
	}
}

/* ---- mailboxes -------------------------------------------------------- */

static int b64_value(char c)
{
	const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(alphabet, c) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

/* Decode base64 of length n into out; returns bytes or -1. */
static long b64_decode(const char *in, size_t n, unsigned char *out)
{
	long len = 0;
	unsigned acc = 0;
	int bits = 0;

	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v;

		if (in[i] == '=') {
			if (i < n - 2)
				return -1;
			continue;
		}
		v = b64_value(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (unsigned char)(acc >> bits);
		}
	}
	return len;
}

static bool utf8_complete(const unsigned char *p, long n)
{
	for (long i = 0; i < n;) {
		int extra = p[i] < 0x80 ? 0 : p[i] >= 0xF0 ? 3 : p[i] >= 0xE0 ? 2 : p[i] >= 0xC0 ? 1 : -1;

		if (extra < 0 || i + extra > n - 1)
			return false;
		for (int k = 1; k <= extra; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
		}
		i += extra + 1;
	}
	return true;
}

/* Check "word\r\n word ... <addr>": every word "=?cs?B?...?=" at most 75
 * characters; the decoded bytes equal name; with utf8, no word splits a
 * character.  Returns a static reason or NULL. */
static const char *check_encoded(const char *out, const char *name, const char *addr, bool utf8,
				 size_t *n_words)
{
	unsigned char decoded[4096];
	long total = 0;
	const char *p = out;
	char tail[300];
	size_t tail_len;

	*n_words = 0;
	snprintf(tail, sizeof tail, " <%s>", addr);
	tail_len = strlen(tail);
	if (strlen(out) < tail_len || strcmp(out + strlen(out) - tail_len, tail) != 0)
		return "does not end with the address";
	for (;;) {
		const char *end = strstr(p, "?=");
		const char *q, *data;
		long n;

		if (strncmp(p, "=?", 2) != 0 || end == NULL)
			return "not an encoded word";
		q = strchr(p + 2, '?');
		if (q == NULL || (q[1] != 'B' && q[1] != 'b') || q[2] != '?')
			return "not a B encoded word";
		if (utf8 && ((size_t)(q - p - 2) != 5 || strncasecmp(p + 2, "UTF-8", 5) != 0))
			return "charset is not UTF-8";
		data = q + 3;
		end = strstr(data, "?=");
		if (end == NULL)
			return "unterminated encoded word";
		if (end + 2 - p > 75)
			return "encoded word longer than 75 characters";
		n = b64_decode(data, (size_t)(end - data), decoded + total);
		if (n < 0)
			return "bad base64";
		if (utf8 && !utf8_complete(decoded + total, n))
			return "an encoded word splits a UTF-8 sequence";
		total += n;
		(*n_words)++;
		p = end + 2;
		if (strncmp(p, "\r\n ", 3) == 0)
			p += 3;
		else
			break;
	}
	if (strcmp(p, tail) != 0)
		return "junk after the encoded words";
	if ((size_t)total != strlen(name) || memcmp(decoded, name, (size_t)total) != 0)
		return "decoded text differs from the name";
	return NULL;
}

static void test_mailbox(void)
{
	static const struct {
		const char *name, *addr, *want;
	} plain[] = {
		{ "John Smith", "j@x", "\"John Smith\" <j@x>" },
		{ "A \"quoted\" name", "a@x", "\"A \\\"quoted\\\" name\" <a@x>" },
		{ "back\\slash", "b@x", "\"back\\\\slash\" <b@x>" },
		{ "Smith, John", "j@x", "\"Smith, John\" <j@x>" },
		{ "x", "root", "\"x\" <root>" },
		{ NULL, "j@x", "j@x" },
		{ "", "j@x", "j@x" },
		{ "J\xc3\xb6rg M\xc3\xbcller", "j@x", "=?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <j@x>" },
	};
	static const char *const utf8_names[] = {
		"J\xc3\xb6rg M\xc3\xbcller",
		/* 30 x U+1F600 (4 bytes each): 120 bytes */
		"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
		"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
		"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
		"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
		"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
		"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80",
		/* 'a' then 3-byte characters: every 45-byte cut lands mid-character */
		"a\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5"
		"\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac"
		"\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		/* Greek, 2-byte characters, long */
		"\xce\x91\xcf\x81\xce\xb9\xcf\x83\xcf\x84\xce\xbf\xcf\x84\xce\xad\xce\xbb\xce\xb7\xcf\x82 "
		"\xce\x91\xcf\x81\xce\xb9\xcf\x83\xcf\x84\xce\xbf\xcf\x84\xce\xad\xce\xbb\xce\xb7\xcf\x82 "
		"\xce\x91\xcf\x81\xce\xb9\xcf\x83\xcf\x84\xce\xbf\xcf\x84\xce\xad\xce\xbb\xce\xb7\xcf\x82 "
		"\xce\x91\xcf\x81\xce\xb9\xcf\x83\xcf\x84\xce\xbf\xcf\x84\xce\xad\xce\xbb\xce\xb7\xcf\x82 "
		"\xce\x91\xcf\x81\xce\xb9\xcf\x83\xcf\x84\xce\xbf\xcf\x84\xce\xad\xce\xbb\xce\xb7\xcf\x82",
	};
	char buf[2048], name[160];
	size_t words;
	const char *why;

	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		snprintf(name, sizeof name, "mailbox: case %zu", i);
		tap_ok(rfc5322_format_mailbox(plain[i].name, plain[i].addr, buf, sizeof buf), name);
		tap_is_str(buf, plain[i].want, name);
	}
	for (size_t i = 0; i < sizeof utf8_names / sizeof utf8_names[0]; i++) {
		bool ok = rfc5322_format_mailbox(utf8_names[i], "u@example.org", buf, sizeof buf);

		why = ok ? check_encoded(buf, utf8_names[i], "u@example.org", true, &words) : "returned false";
		snprintf(name, sizeof name, "mailbox: UTF-8 name %zu (%zu bytes) encodes and decodes back",
			 i, strlen(utf8_names[i]));
		tap_ok(why == NULL, name);
		if (why)
			printf("# %s\n", why);
		if (strlen(utf8_names[i]) > 45) {
			snprintf(name, sizeof name, "mailbox: UTF-8 name %zu split into several words", i);
			tap_ok(words >= 2, name);
		}
	}

	/* header injection: CR/LF in a name never start a new header line */
	{
		const char *evil = "Evil\r\nBcc: victim@example.org";
		bool ok = rfc5322_format_mailbox(evil, "a@x", buf, sizeof buf);
		bool clean = true;

		/* every LF is part of CRLF followed by a blank (folding); no bare CR */
		for (size_t i = 0; ok && buf[i]; i++) {
			if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r' || (buf[i + 1] != ' ' && buf[i + 1] != '\t')))
				clean = false;
			if (buf[i] == '\r' && buf[i + 1] != '\n')
				clean = false;
		}
		tap_ok(!ok || clean, "mailbox: CR LF in the name cannot inject a header");
		if (ok) {
			why = check_encoded(buf, evil, "a@x", false, &words);
			tap_ok(why == NULL, "mailbox: control characters are encoded, not quoted raw");
			if (why)
				printf("# %s\n", why);
		}
	}
	/* bytes that are not UTF-8: no crash, encoded, decodes back */
	{
		char bad[80];

		memset(bad, 0x80, sizeof bad - 1);
		bad[sizeof bad - 1] = '\0';
		why = rfc5322_format_mailbox(bad, "a@x", buf, sizeof buf)
		      ? check_encoded(buf, bad, "a@x", false, &words) : "returned false";
		tap_ok(why == NULL, "mailbox: 79 continuation bytes (invalid UTF-8)");
		if (why)
			printf("# %s\n", why);
		why = rfc5322_format_mailbox("J\xf6rg", "a@x", buf, sizeof buf)
		      ? check_encoded(buf, "J\xf6rg", "a@x", false, &words) : "returned false";
		tap_ok(why == NULL, "mailbox: Latin-1 name");
		if (why)
			printf("# %s\n", why);
	}

	/* buffer too small: false for every size below the needed one, never
	 * a write past size (exact-size heap buffers for ASan) */
	{
		static const struct {
			const char *name, *addr;
		} sized[] = {
			{ "John \"Q\" Smith", "j@example.org" },
			{ NULL, "j@example.org" },
			{ "J\xc3\xb6rg M\xc3\xbcller", "j@x" },
		};

		for (size_t i = 0; i < sizeof sized / sizeof sized[0]; i++) {
			size_t need;
			bool all_false = true, exact_ok;
			char *b;

			if (!rfc5322_format_mailbox(sized[i].name, sized[i].addr, buf, sizeof buf))
				continue;
			need = strlen(buf) + 1;
			for (size_t size = 0; size < need; size++) {
				b = malloc(size ? size : 1);
				if (b == NULL)
					abort();
				if (rfc5322_format_mailbox(sized[i].name, sized[i].addr, b, size))
					all_false = false;
				free(b);
			}
			b = malloc(need);
			if (b == NULL)
				abort();
			exact_ok = rfc5322_format_mailbox(sized[i].name, sized[i].addr, b, need) &&
				   strcmp(b, buf) == 0;
			free(b);
			snprintf(name, sizeof name, "mailbox: sizes below %zu are false (case %zu)", need, i);
			tap_ok(all_false, name);
			snprintf(name, sizeof name, "mailbox: exact size %zu works (case %zu)", need, i);
			tap_ok(exact_ok, name);
		}
	}

	/* rfc5322_encode_words appends at *len */
	{
		size_t len = 9;

		memcpy(buf, "Subject: ", 9);
		buf[9] = '\0';
		tap_ok(rfc5322_encode_words("\xc3\xa9t\xc3\xa9", 5, 0, buf, sizeof buf, &len) &&
		       strcmp(buf, "Subject: =?UTF-8?B?w6l0w6k=?=") == 0 && len == strlen(buf),
		       "encode_words: appends one word");
	}
}

/* ---- UTF-8 cuts and text for people -------------------------------------- */

static void test_utf8_trim(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "abc", "abc" },
		{ "", "" },
		{ "\xc3\xa9", "\xc3\xa9" },
		{ "a\xc3", "a" },                       /* 2-byte character cut after its lead */
		{ "a\xe2\x82", "a" },                   /* 3-byte, one continuation left */
		{ "a\xe2\x82\xac", "a\xe2\x82\xac" },   /* whole euro sign */
		{ "a\xf0\x9f\x98", "a" },               /* 4-byte, cut */
		{ "a\xf0\x9f\x98\x80", "a\xf0\x9f\x98\x80" },
		{ "a\x80\x80\x80\x80", "a\x80\x80\x80\x80" },   /* not UTF-8: left alone */
	};
	char buf[32], label[64];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(buf, sizeof buf, "%s", cases[i].in);
		rfc5322_utf8_trim_partial(buf);
		snprintf(label, sizeof label, "utf8_trim_partial: case %zu", i);
		tap_is_str(buf, cases[i].want, label);
	}
}

static void test_log_escape(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "plain text", "plain text" },
		{ "red \x1b[31mX", "red \\x1B[31mX" },
		{ "bell\a tab\t cr\r lf\n del\x7f", "bell\\x07 tab\\x09 cr\\x0D lf\\x0A del\\x7F" },
		{ "C1 raw \x9b utf8 \xc2\x9b", "C1 raw \\x9B utf8 \\xC2\\x9B" },
		{ "J\xc3\xb6rg \xe2\x80\x9equoted\xe2\x80\x9c \xf0\x9f\x98\x80", "J\xc3\xb6rg \xe2\x80\x9equoted\xe2\x80\x9c \xf0\x9f\x98\x80" },
		{ "overlong \xc0\xaf \xe0\x80\xaf", "overlong \\xC0\\xAF \\xE0\\x80\\xAF" },
		{ "surrogate \xed\xa0\x80", "surrogate \\xED\\xA0\\x80" },
		{ "bidi \xe2\x80\xae" "evil", "bidi \\xE2\\x80\\xAE" "evil" },
		{ "separator \xe2\x80\xa8", "separator \\xE2\\x80\\xA8" },
		{ "cut \xc3", "cut \\xC3" },
	};
	char buf[128], small[8], label[64];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(label, sizeof label, "log_escape: case %zu", i);
		tap_is_str(log_escape(buf, sizeof buf, cases[i].in), cases[i].want, label);
	}
	/* Truncation never splits an escape or a character. */
	tap_is_str(log_escape(small, sizeof small, "abcd\x1b" "ef"), "abcd", "log_escape: no half escape");
	tap_is_str(log_escape(small, sizeof small, "abcdef\xc3\xa9"), "abcdef", "log_escape: no half character");
	tap_is_str(log_escape(small, sizeof small, "abc\x1b" "def"), "abc\\x1B", "log_escape: an escape that just fits");
	{
		/* 4 * strlen + 1 is always enough */
		char in[65], out[4 * 64 + 1];

		memset(in, '\x1b', 64);
		in[64] = '\0';
		log_escape(out, sizeof out, in);
		tap_ok(strlen(out) == 4 * 64, "log_escape: 4 * strlen + 1 bytes hold every escape");
	}
}


/* rfc5322_encode_phrases: display names and comments of an address list
 * for a relay without SMTPUTF8. */
struct phrase_case {
	const char *name;
	const char *in;
	enum result_class cls;
	const char *out;        /* NULL: not checked */
};

static const struct phrase_case phrase_cases[] = {
	{ "ASCII list unchanged", " \"A, B\" <a@b.example>, c@d.example (C)", RESULT_OK,
	  " \"A, B\" <a@b.example>, c@d.example (C)" },
	{ "unquoted UTF-8 name", " Ren\xc3\xa9" "e <r@x.example>", RESULT_OK,
	  " =?UTF-8?B?UmVuw6ll?= <r@x.example>" },
	{ "quoted UTF-8 name, quotes and escapes undone", " \"J\xc3\xb6rg \\\"J\\\" M\" <j@x.example>",
	  RESULT_OK, " =?UTF-8?B?SsO2cmcgIkoiIE0=?= <j@x.example>" },
	{ "a phrase of several words is one text", " Caf\xc3\xa9 Team <t@x.example>", RESULT_OK,
	  " =?UTF-8?B?Q2Fmw6kgVGVhbQ==?= <t@x.example>" },
	{ "comment", " b@x.example (M\xc3\xbcller)", RESULT_OK, " b@x.example (=?UTF-8?B?TcO8bGxlcg==?=)" },
	{ "name glued to the angle bracket gets a blank", " \xc3\xa9<e@x.example>", RESULT_OK,
	  " =?UTF-8?B?w6k=?= <e@x.example>" },
	{ "group name", " \xc3\xa9quipe: a@x.example;", RESULT_OK, " =?UTF-8?B?w6lxdWlwZQ==?= : a@x.example;" },
	{ "invalid UTF-8 is UNKNOWN-8BIT", " \xe9t\xe9 <e@x.example>", RESULT_OK,
	  " =?UNKNOWN-8BIT?B?6XTp?= <e@x.example>" },
	{ "UTF-8 local part refused", " J <j\xc3\xb6rg@x.example>", RESULT_DATAERR, NULL },
	{ "UTF-8 bare address refused", " j\xc3\xb6rg@x.example", RESULT_DATAERR, NULL },
	{ "UTF-8 domain refused", " a@b\xc3\xbc.example", RESULT_DATAERR, NULL },
	{ "unparsable list refused", " \xc3\xa9 <a@x.example", RESULT_DATAERR, NULL },
};

static void test_phrases(void)
{
	char buf[512], name[160];
	size_t len;
	struct result r;

	for (size_t i = 0; i < sizeof phrase_cases / sizeof phrase_cases[0]; i++) {
		const struct phrase_case *c = &phrase_cases[i];
		bool ok;

		result_clear(&r);
		ok = rfc5322_encode_phrases(c->in, strlen(c->in), 3, buf, sizeof buf, &len, &r);
		snprintf(name, sizeof name, "encode_phrases: %s", c->name);
		tap_ok(ok == (c->cls == RESULT_OK) && (ok || r.cls == c->cls) &&
		       (c->out == NULL || (ok && len == strlen(c->out) && strcmp(buf, c->out) == 0)), name);
		if (ok && c->out != NULL && strcmp(buf, c->out) != 0)
			tap_diag_escaped("got", buf, len);
	}
	/* Too small a buffer is RESULT_OSERR (the caller grows it). */
	result_clear(&r);
	tap_ok(!rfc5322_encode_phrases(" \xc3\xa9 <e@x.example>", 17, 3, buf, 8, &len, &r) &&
	       r.cls == RESULT_OSERR, "encode_phrases: a short buffer is RESULT_OSERR");
	/* A long name: encoded words on lines of at most 76 characters. */
	{
		char in[400];
		size_t o = 0, line = 0, longest = 0;

		in[o++] = ' ';
		for (int k = 0; k < 60; k++) {
			memcpy(in + o, "\xc3\xa9", 2);
			o += 2;
			in[o++] = k % 7 ? 'x' : ' ';
		}
		memcpy(in + o, "<e@x.example>", 14);
		tap_ok(rfc5322_encode_phrases(in, strlen(in), 3, buf, sizeof buf, &len, &r),
		       "encode_phrases: a long name");
		/* every line but the last, which ends with the address */
		for (size_t k = 0; k < len; k++) {
			line = buf[k] == '\n' ? 0 : line + 1;
			if (buf[k] == '\r')
				longest = line > longest ? line : longest;
		}
		tap_ok(longest <= 77 && strstr(buf, "\r\n =?UTF-8?B?") != NULL &&
		       strstr(buf, "?= <e@x.example>") != NULL,
		       "encode_phrases: a long name is folded between encoded words");
	}
}

int main(void)
{
	for (size_t i = 0; i < sizeof addr_cases / sizeof addr_cases[0]; i++)
		run_addr_case(&addr_cases[i]);
	test_scan();
	test_list_api();
	test_dates();
	test_mailbox();
	test_utf8_trim();
	test_log_escape();
	test_phrases();
	return tap_done();
}
