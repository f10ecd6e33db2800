/* libFuzzer target: envelope building with the header fix-ups (-t,
 * aliases, qualification, From policy, RFC 2047 encoding, folding).  The
 * first byte chooses the from_policy, -i and -f; the rest is the message.
 * Asserts what leaves relaymail: every header and body line at most 998
 * characters plus CRLF, no bare CR or LF, no empty line inside the header
 * block, and recipients that are safe in an SMTP command. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "envelope.h"
#include "header_fix.h"
#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* config.c is not linked (it needs inih): the same lookup over the
 * account's table. */
const char *config_alias(const struct account *acct, const char *name)
{
	for (size_t i = 0; i < acct->n_aliases; i++) {
		if (strcasecmp(acct->aliases[i].name, name) == 0)
			return acct->aliases[i].targets;
	}
	return NULL;
}

/* Lines of p[0, n): each ends with CRLF, holds no other CR or LF, and is
 * at most HEADER_LINE_MAX characters; empty lines only when allowed. */
static void check_lines(const char *p, size_t n, int empty_ok)
{
	size_t col = 0;

	if (n == 0)
		return;
	if (n < 2 || p[n - 2] != '\r' || p[n - 1] != '\n')
		abort();
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n')
			abort();                /* an LF not after a CR */
		if (p[i] != '\r') {
			if (++col > HEADER_LINE_MAX)
				abort();
			continue;
		}
		if (i + 1 >= n || p[i + 1] != '\n')
			abort();                /* a bare CR */
		if (col == 0 && !empty_ok)
			abort();                /* would end the header block */
		col = 0;
		i++;
	}
}

static void check_message(const struct message *msg, const struct envelope *env)
{
	char *body;

	for (size_t i = 0; i < msg->n_headers; i++) {
		if (!msg->headers[i].omit)
			check_lines(msg->headers[i].text, msg->headers[i].len, 0);
	}
	if (msg->body_size > 0) {
		body = malloc((size_t)msg->body_size);
		if (body == NULL || pread(msg->spool_fd, body, (size_t)msg->body_size, 0) != msg->body_size)
			abort();
		check_lines(body, (size_t)msg->body_size, 1);
		free(body);
	}
	if (env->recipients.n == 0 || env->recipients.n > ENVELOPE_MAX_RECIPIENTS)
		abort();
	for (size_t i = 0; i < env->recipients.n; i++) {
		if (!rfc5322_address_is_safe(env->recipients.items[i]))
			abort();
	}
	if (!rfc5322_address_is_safe(env->sender))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct alias aliases[] = {
		{ (char *)"root", (char *)"admin, ops@example.net", NULL },
		{ (char *)"admin", (char *)"\"The Admin\" <boss>", NULL },
		{ (char *)"loop", (char *)"loop", NULL },
	};
	struct message_read_opts ropts = { .spool_dir = "/tmp" };
	struct options opts = { .mode = MODE_SEND, .extract_recipients = true, .smtputf8 = -1 };
	struct account acct = { 0 };
	struct message msg;
	struct envelope env;
	struct result r;

	if (size == 0)
		return 0;
	acct.name = (char *)"fuzz";
	acct.from = (char *)"sender@example.com";
	acct.domain = (char *)"example.com";
	acct.from_policy = (enum from_policy)(data[0] % 3);
	acct.aliases = aliases;
	acct.n_aliases = sizeof aliases / sizeof aliases[0];
	ropts.ignore_dots = data[0] & 4;
	opts.sender = data[0] & 8 ? "someone" : NULL;
	opts.fullname = data[0] & 16 ? "J\xc3\xb6rg \"the\" Fuzzer" : NULL;
	result_clear(&r);
	if (!message_read_buffer((const char *)data + 1, size - 1, &ropts, &msg, &r))
		return 0;
	if (envelope_build(&opts, &acct, &msg, &env, &r))
		check_message(&msg, &env);
	envelope_free(&env);
	message_free(&msg);
	return 0;
}
