/* Table-driven tests for the SMTP reply parser (smtp_reply.h). */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"
#include "tap.h"

#define MAX_CASE_LINES 6

struct reply_case {
	const char *name;
	const char *lines[MAX_CASE_LINES];      /* NULL-terminated */
	enum smtp_reply_status last;            /* status of the last line; others MORE */
	int code;                               /* checked unless last is ERROR */
	const char *enhanced;
	const char *text;
	unsigned n_lines;
};

static const struct reply_case cases[] = {
	/* single and multi-line */
	{ "single line", { "250 OK" }, SMTP_REPLY_DONE, 250, "", "OK", 1 },
	{ "greeting", { "220 mx.example.org ESMTP ready" }, SMTP_REPLY_DONE, 220, "",
	  "mx.example.org ESMTP ready", 1 },
	{ "multi-line EHLO", { "250-mx.example.org Hello", "250-PIPELINING", "250 SIZE 1000" },
	  SMTP_REPLY_DONE, 250, "", "mx.example.org Hello\nPIPELINING\nSIZE 1000", 3 },
	{ "four lines", { "250-a", "250-b", "250-c", "250 d" }, SMTP_REPLY_DONE, 250, "",
	  "a\nb\nc\nd", 4 },
	{ "354 intermediate", { "354 End data with <CR><LF>.<CR><LF>" }, SMTP_REPLY_DONE, 354, "",
	  "End data with <CR><LF>.<CR><LF>", 1 },
	{ "second digit 5 allowed", { "259 x" }, SMTP_REPLY_DONE, 259, "", "x", 1 },
	{ "third digit 9 allowed", { "559 x" }, SMTP_REPLY_DONE, 559, "", "x", 1 },
	{ "8-bit text kept", { "250 caf\xc3\xa9" }, SMTP_REPLY_DONE, 250, "", "caf\xc3\xa9", 1 },

	/* enhanced status codes (RFC 3463) */
	{ "enhanced 5.7.1", { "550 5.7.1 Relaying denied" }, SMTP_REPLY_DONE, 550, "5.7.1",
	  "5.7.1 Relaying denied", 1 },
	{ "enhanced 2.1.0", { "250 2.1.0 Sender ok" }, SMTP_REPLY_DONE, 250, "2.1.0",
	  "2.1.0 Sender ok", 1 },
	{ "enhanced 4.3.0", { "451 4.3.0 Try again later" }, SMTP_REPLY_DONE, 451, "4.3.0",
	  "4.3.0 Try again later", 1 },
	{ "enhanced 3-digit subject/detail", { "550 5.123.456 x" }, SMTP_REPLY_DONE, 550,
	  "5.123.456", "5.123.456 x", 1 },
	{ "enhanced alone, no text after", { "550 5.7.1" }, SMTP_REPLY_DONE, 550, "5.7.1",
	  "5.7.1", 1 },
	{ "enhanced with trailing space", { "550 5.7.1 " }, SMTP_REPLY_DONE, 550, "5.7.1",
	  "5.7.1 ", 1 },
	{ "enhanced class mismatch 4.x on 5xx", { "550 4.7.1 mismatch" }, SMTP_REPLY_DONE, 550, "",
	  "4.7.1 mismatch", 1 },
	{ "enhanced class mismatch 5.x on 2xx", { "250 5.7.1 x" }, SMTP_REPLY_DONE, 250, "",
	  "5.7.1 x", 1 },
	{ "enhanced malformed: two parts", { "550 5.7 x" }, SMTP_REPLY_DONE, 550, "", "5.7 x", 1 },
	{ "enhanced malformed: 4-digit detail", { "550 5.7.1234 x" }, SMTP_REPLY_DONE, 550, "",
	  "5.7.1234 x", 1 },
	{ "enhanced malformed: 4-digit subject", { "550 5.1000.1 x" }, SMTP_REPLY_DONE, 550, "",
	  "5.1000.1 x", 1 },
	{ "enhanced malformed: letter after", { "550 5.7.1x denied" }, SMTP_REPLY_DONE, 550, "",
	  "5.7.1x denied", 1 },
	{ "enhanced malformed: empty part", { "550 5..1 x" }, SMTP_REPLY_DONE, 550, "", "5..1 x", 1 },
	{ "enhanced malformed: trailing dot", { "550 5.7.1. x" }, SMTP_REPLY_DONE, 550, "",
	  "5.7.1. x", 1 },
	{ "enhanced malformed: 2-digit class", { "550 55.7.1 x" }, SMTP_REPLY_DONE, 550, "",
	  "55.7.1 x", 1 },
	{ "enhanced only from the first line", { "550-Relaying denied", "550 5.7.1 really" },
	  SMTP_REPLY_DONE, 550, "", "Relaying denied\n5.7.1 really", 2 },
	{ "enhanced on every line", { "550-5.7.1 first", "550 5.7.1 second" }, SMTP_REPLY_DONE, 550,
	  "5.7.1", "5.7.1 first\n5.7.1 second", 2 },

	/* code without text */
	{ "code only", { "250" }, SMTP_REPLY_DONE, 250, "", "", 1 },
	{ "code and space", { "250 " }, SMTP_REPLY_DONE, 250, "", "", 1 },
	{ "empty continuation", { "250-", "250 end" }, SMTP_REPLY_DONE, 250, "", "\nend", 2 },
	{ "code-only last line", { "250-first", "250" }, SMTP_REPLY_DONE, 250, "", "first\n", 2 },

	/* malformed */
	{ "empty line", { "" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "one digit", { "2" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "two digits", { "25" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "letters", { "abc def" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "non-digit in the middle", { "2x0 OK" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "non-digit third", { "25x OK" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "bad 4th char", { "250x OK" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "tab as 4th char", { "250\tOK" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "first digit 1", { "150 x" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "first digit 6", { "650 x" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "first digit 0", { "050 x" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "second digit 6", { "260 x" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "second digit 9", { "590 x" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "leading space", { " 250 OK" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "code change mid-reply (last line)", { "250-a", "251 b" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "code change mid-reply (continuation)", { "250-a", "550-b" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
	{ "malformed second line", { "250-a", "25" }, SMTP_REPLY_ERROR, 0, NULL, NULL, 0 },
};

/* Feed from an exactly sized heap copy (no NUL) so ASan catches over-reads. */
static enum smtp_reply_status feed_exact(struct smtp_reply *reply, const char *s, const char **error)
{
	size_t len = strlen(s);
	char *copy = malloc(len ? len : 1);
	enum smtp_reply_status st;

	if (copy == NULL)
		abort();
	memcpy(copy, s, len);
	st = smtp_reply_feed(reply, copy, len, error);
	free(copy);
	return st;
}

static void run_case(const struct reply_case *c)
{
	struct smtp_reply *reply = malloc(sizeof *reply);
	char name[256];
	size_t n = 0;
	bool order_ok = true;
	enum smtp_reply_status st = SMTP_REPLY_ERROR;
	const char *error = NULL;

	if (reply == NULL)
		abort();
	smtp_reply_init(reply);
	while (n < MAX_CASE_LINES && c->lines[n] != NULL)
		n++;
	for (size_t i = 0; i < n; i++) {
		st = feed_exact(reply, c->lines[i], &error);
		if (i + 1 < n && st != SMTP_REPLY_MORE)
			order_ok = false;
	}
	snprintf(name, sizeof name, "%s: status", c->name);
	tap_ok(order_ok && st == c->last, name);
	if (!order_ok || st != c->last)
		printf("# got status %d, want %d\n", (int)st, (int)c->last);
	if (c->last == SMTP_REPLY_ERROR) {
		snprintf(name, sizeof name, "%s: error text", c->name);
		tap_ok(error != NULL && *error != '\0', name);
		free(reply);
		return;
	}
	snprintf(name, sizeof name, "%s: code", c->name);
	tap_is_int(reply->code, c->code, name);
	snprintf(name, sizeof name, "%s: enhanced", c->name);
	tap_is_str(reply->enhanced, c->enhanced, name);
	snprintf(name, sizeof name, "%s: text", c->name);
	tap_is_str(reply->text, c->text, name);
	snprintf(name, sizeof name, "%s: text_len", c->name);
	tap_is_int((long)reply->text_len, (long)strlen(c->text), name);
	snprintf(name, sizeof name, "%s: n_lines", c->name);
	tap_is_int(reply->n_lines, c->n_lines, name);
	free(reply);
}

static void test_max_lines(void)
{
	struct smtp_reply *reply = malloc(sizeof *reply);
	const char *error = NULL;
	bool all_more = true;
	enum smtp_reply_status st;

	if (reply == NULL)
		abort();
	/* Exactly SMTP_REPLY_MAX_LINES lines is fine. */
	smtp_reply_init(reply);
	for (unsigned i = 0; i + 1 < SMTP_REPLY_MAX_LINES; i++) {
		if (feed_exact(reply, "250-line", &error) != SMTP_REPLY_MORE)
			all_more = false;
	}
	st = feed_exact(reply, "250 last", &error);
	tap_ok(all_more && st == SMTP_REPLY_DONE, "max lines: SMTP_REPLY_MAX_LINES lines accepted");
	tap_is_int(reply->n_lines, SMTP_REPLY_MAX_LINES, "max lines: n_lines == max");

	/* One more is an error, whether it is a continuation or the last line. */
	smtp_reply_init(reply);
	all_more = true;
	for (unsigned i = 0; i < SMTP_REPLY_MAX_LINES; i++) {
		if (feed_exact(reply, "250-line", &error) != SMTP_REPLY_MORE)
			all_more = false;
	}
	error = NULL;
	st = feed_exact(reply, "250 last", &error);
	tap_ok(all_more && st == SMTP_REPLY_ERROR, "max lines: MAX+1-th line is an error");
	tap_ok(error != NULL && *error != '\0', "max lines: error text set");
	tap_ok(reply->n_lines <= SMTP_REPLY_MAX_LINES, "max lines: n_lines stays bounded");

	smtp_reply_init(reply);
	for (unsigned i = 0; i < SMTP_REPLY_MAX_LINES; i++)
		feed_exact(reply, "250-line", &error);
	tap_ok(feed_exact(reply, "250-more", &error) == SMTP_REPLY_ERROR,
	       "max lines: MAX+1-th continuation is an error");
	free(reply);
}

static void test_truncation(void)
{
	struct smtp_reply *reply = malloc(sizeof *reply);
	char *line = malloc(SMTP_REPLY_TEXT_MAX * 2 + 8);
	const char *error = NULL, *p;
	enum smtp_reply_status st = SMTP_REPLY_ERROR;
	bool prefix_ok = true;
	size_t len = 0;

	if (reply == NULL || line == NULL)
		abort();

	/* One line much longer than the maximum. */
	smtp_reply_init(reply);
	memcpy(line, "250 ", 4);
	memset(line + 4, 'x', SMTP_REPLY_TEXT_MAX * 2);
	st = smtp_reply_feed(reply, line, 4 + SMTP_REPLY_TEXT_MAX * 2, &error);
	tap_ok(st == SMTP_REPLY_DONE, "truncation: over-long single line still completes");
	tap_is_int((long)reply->text_len, SMTP_REPLY_TEXT_MAX - 1, "truncation: text_len == max - 1");
	tap_is_int((long)strlen(reply->text), SMTP_REPLY_TEXT_MAX - 1,
		   "truncation: text NUL-terminated at max - 1");
	tap_is_int(reply->n_lines, 1, "truncation: n_lines not clobbered");
	tap_is_int(reply->code, 250, "truncation: code not clobbered");

	/* Many lines of 1000 characters: 20 * 1001 > 8192. */
	smtp_reply_init(reply);
	memcpy(line, "250-", 4);
	memset(line + 4, 'y', 1000);
	for (int i = 0; i < 20; i++) {
		line[3] = i == 19 ? ' ' : '-';
		line[4] = (char)('a' + i);
		st = smtp_reply_feed(reply, line, 1004, &error);
	}
	tap_ok(st == SMTP_REPLY_DONE, "truncation: 20 long lines complete");
	tap_is_int((long)reply->text_len, SMTP_REPLY_TEXT_MAX - 1, "truncation: joined text capped");
	tap_is_int((long)strlen(reply->text), (long)reply->text_len, "truncation: NUL at text_len");
	tap_is_int(reply->n_lines, 20, "truncation: all 20 lines counted");
	for (unsigned i = 0; i < 8; i++) {
		p = smtp_reply_line(reply, i, &len);
		if (p == NULL || len != 1000 || p[0] != (char)('a' + i))
			prefix_ok = false;
	}
	tap_ok(prefix_ok, "truncation: first 8 lines intact");
	p = smtp_reply_line(reply, 8, &len);
	tap_ok(p != NULL && p + len == reply->text + reply->text_len && p[0] == 'i',
	       "truncation: 9th line cut at the end of the text");
	tap_ok(smtp_reply_line(reply, 9, &len) == NULL, "truncation: lines past the text are NULL");
	tap_ok(smtp_reply_line(reply, 19, &len) == NULL, "truncation: last line past the text is NULL");

	/* A first line of exactly max - 1 characters leaves no room even for '\n'. */
	smtp_reply_init(reply);
	memcpy(line, "250-", 4);
	memset(line + 4, 'z', SMTP_REPLY_TEXT_MAX - 1);
	smtp_reply_feed(reply, line, 4 + SMTP_REPLY_TEXT_MAX - 1, &error);
	st = smtp_reply_feed(reply, "250 tail", 8, &error);
	tap_ok(st == SMTP_REPLY_DONE && reply->text_len == SMTP_REPLY_TEXT_MAX - 1 &&
	       reply->text[SMTP_REPLY_TEXT_MAX - 1] == '\0',
	       "truncation: full first line, second line dropped cleanly");
	p = smtp_reply_line(reply, 0, &len);
	tap_ok(p == reply->text && len == SMTP_REPLY_TEXT_MAX - 1, "truncation: line 0 is whole text");

	/* max - 2 characters: the separator fits, nothing else. */
	smtp_reply_init(reply);
	memset(line + 4, 'z', SMTP_REPLY_TEXT_MAX - 2);
	smtp_reply_feed(reply, line, 4 + SMTP_REPLY_TEXT_MAX - 2, &error);
	st = smtp_reply_feed(reply, "250 tail", 8, &error);
	tap_ok(st == SMTP_REPLY_DONE && reply->text_len == SMTP_REPLY_TEXT_MAX - 1 &&
	       reply->text[SMTP_REPLY_TEXT_MAX - 2] == '\n',
	       "truncation: separator fits at the very end");
	p = smtp_reply_line(reply, 1, &len);
	tap_ok(p != NULL && len == 0, "truncation: line 1 is empty");
	free(line);
	free(reply);
}

static void test_line_index(void)
{
	struct smtp_reply reply;
	const char *error = NULL, *p;
	size_t len = 99;

	smtp_reply_init(&reply);
	tap_ok(smtp_reply_line(&reply, 0, &len) == NULL, "line index: empty reply has no line 0");
	feed_exact(&reply, "250-mx Hello", &error);
	feed_exact(&reply, "250-", &error);
	feed_exact(&reply, "250-AUTH PLAIN LOGIN", &error);
	feed_exact(&reply, "250 SIZE 10", &error);
	p = smtp_reply_line(&reply, 0, &len);
	tap_ok(p != NULL && len == 8 && memcmp(p, "mx Hello", 8) == 0, "line index: line 0");
	p = smtp_reply_line(&reply, 1, &len);
	tap_ok(p != NULL && len == 0, "line index: empty line 1");
	p = smtp_reply_line(&reply, 2, &len);
	tap_ok(p != NULL && len == 16 && memcmp(p, "AUTH PLAIN LOGIN", 16) == 0, "line index: line 2");
	p = smtp_reply_line(&reply, 3, &len);
	tap_ok(p != NULL && len == 7 && memcmp(p, "SIZE 10", 7) == 0, "line index: last line");
	tap_ok(smtp_reply_line(&reply, 4, &len) == NULL, "line index: past the end is NULL");
	tap_ok(smtp_reply_line(&reply, 1000, &len) == NULL, "line index: far past the end is NULL");

	smtp_reply_init(&reply);
	feed_exact(&reply, "250", &error);
	p = smtp_reply_line(&reply, 0, &len);
	tap_ok(p != NULL && len == 0, "line index: code-only reply has an empty line 0");

	/* init resets a used struct */
	smtp_reply_init(&reply);
	tap_ok(reply.code == 0 && reply.n_lines == 0 && reply.text_len == 0 && reply.text[0] == '\0' &&
	       reply.enhanced[0] == '\0', "init resets the struct");
	tap_ok(feed_exact(&reply, "221 2.0.0 Bye", &error) == SMTP_REPLY_DONE &&
	       strcmp(reply.enhanced, "2.0.0") == 0, "reused struct parses again");
}

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i]);
	test_max_lines();
	test_truncation();
	test_line_index();
	return tap_done();
}
