/* json.c (OAuth answers), http_urlencode() and the loopback redirect of
 * oauth_redirect.c, without any network beyond 127.0.0.1. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "json.h"
#include "oauth_redirect.h"
#include "result.h"
#include "tap.h"

/* ---- json_parse_object: accepted or refused ---------------------------- */

struct parse_case {
	const char *name;
	const char *text;
	enum result_class cls;          /* RESULT_OK: accepted */
};

static const struct parse_case parse_cases[] = {
	{ "token answer", "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":3599}", RESULT_OK },
	{ "white space around", " \r\n\t{ \"a\" : \"b\" } \n\n  ", RESULT_OK },
	{ "empty object", "{}", RESULT_OK },
	{ "nested members", "{\"a\":{\"b\":[1,2,{\"c\":\"d\"}]},\"e\":\"f\"}", RESULT_OK },
	{ "trailing garbage", "{\"a\":\"b\"}x", RESULT_PROTOCOL },
	{ "second object", "{\"a\":\"b\"} {\"c\":\"d\"}", RESULT_PROTOCOL },
	{ "trailing comma", "{\"a\":\"b\",}", RESULT_PROTOCOL },
	{ "single quotes", "{'a':'b'}", RESULT_PROTOCOL },
	{ "unterminated", "{\"a\":\"b\"", RESULT_PROTOCOL },
	{ "empty", "", RESULT_PROTOCOL },
	{ "only blanks", "   ", RESULT_PROTOCOL },
	{ "array at top", "[1,2]", RESULT_PROTOCOL },
	{ "string at top", "\"token\"", RESULT_PROTOCOL },
	{ "number at top", "42 ", RESULT_PROTOCOL },
	{ "null at top", "null", RESULT_PROTOCOL },
	{ "html error page", "<html><body>502 Bad Gateway</body></html>", RESULT_PROTOCOL },
	{ "invalid UTF-8", "{\"a\":\"\xff\xfe\"}", RESULT_PROTOCOL },
	{ "comment", "{/* x */\"a\":1}", RESULT_PROTOCOL },
};

static void test_parse_table(void)
{
	for (size_t i = 0; i < sizeof parse_cases / sizeof *parse_cases; i++) {
		const struct parse_case *c = &parse_cases[i];
		struct json *j = (struct json *)1;
		struct result r;
		bool ok;

		result_clear(&r);
		ok = json_parse_object(c->text, strlen(c->text), &j, &r);
		tap_ok(ok == (c->cls == RESULT_OK) && (ok || r.cls == c->cls) && (ok || r.msg[0]),
		       c->name);
		tap_ok(ok == (j != NULL), "out set on success only");
		if (!ok)
			printf("# %s\n", r.msg);
		json_free(j);
	}
}

/* Bombs and bytes json-c must never see. */
static void test_parse_hostile(void)
{
	size_t n = 100000;
	char *big = malloc(n + 1);
	struct json *j = NULL;
	struct result r;

	/* a nesting depth far beyond JSON_MAX_DEPTH, and just beyond it */
	memset(big, '[', 2000);
	memcpy(big, "{\"a\":", 5);
	tap_ok(!json_parse_object(big, 2000, &j, &r) && r.cls == RESULT_PROTOCOL && j == NULL,
	       "depth bomb refused");
	memset(big, 0, n + 1);
	for (int d = 0; d < JSON_MAX_DEPTH + 2; d++)
		strcat(big, "{\"a\":");
	strcat(big, "1");
	for (int d = 0; d < JSON_MAX_DEPTH + 2; d++)
		strcat(big, "}");
	tap_ok(!json_parse_object(big, strlen(big), &j, &r) && r.cls == RESULT_PROTOCOL,
	       "depth JSON_MAX_DEPTH+2 refused");
	memset(big, 0, n + 1);
	for (int d = 0; d < 8; d++)
		strcat(big, "{\"a\":");
	strcat(big, "1");
	for (int d = 0; d < 8; d++)
		strcat(big, "}");
	tap_ok(json_parse_object(big, strlen(big), &j, &r), "depth 8 accepted");
	json_free(j);

	tap_ok(!json_parse_object("{\"a\":\"b\"}\0", 10, &j, &r) && r.cls == RESULT_PROTOCOL,
	       "NUL after the object refused");
	tap_ok(!json_parse_object("{\"a\":\"b\0c\"}", 11, &j, &r) && r.cls == RESULT_PROTOCOL,
	       "NUL inside a string refused");

	/* over HTTP_BODY_MAX, though valid JSON */
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	tap_ok(!json_parse_object(big, n, &j, &r) && r.cls == RESULT_PROTOCOL && j == NULL,
	       "over HTTP_BODY_MAX refused");
	tap_ok(json_parse_object(big, HTTP_BODY_MAX, &j, &r) == false,
	       "(cut at HTTP_BODY_MAX: unterminated)");
	big[HTTP_BODY_MAX - 1] = '}';
	tap_ok(json_parse_object(big, HTTP_BODY_MAX, &j, &r), "exactly HTTP_BODY_MAX accepted");
	json_free(j);
	free(big);
}

/* ---- members -------------------------------------------------------------- */

struct int_case {
	const char *name;
	const char *member;
	bool ok;
	long long want;
};

static const char members_text[] =
	"{\"access_token\":\"eyJ0eXAi.x-y_z\",\"expires_in\":3599,\"interval\":\"5\","
	"\"neg\":-7,\"zero\":0,\"float\":3.5,\"exp\":1e3,\"big\":123456789012345678901234,"
	"\"huge_str\":\"1234567890123456789\",\"max18\":\"999999999999999999\","
	"\"signed_str\":\"+5\",\"neg_str\":\"-5\",\"empty\":\"\",\"space_str\":\" 5\","
	"\"bool\":true,\"null\":null,\"obj\":{\"expires_in\":1},\"arr\":[1],"
	"\"esc\":\"a\\\"b\\\\c\\/d\\n\\u00e9\\u20ac\\ud83d\\ude00\","
	"\"nul\":\"ab\\u0000cd\",\"dup\":\"first\",\"dup\":\"second\"}";

static const struct int_case int_cases[] = {
	{ "number", "expires_in", true, 3599 },
	{ "digit string", "interval", true, 5 },
	{ "negative number", "neg", true, -7 },
	{ "zero", "zero", true, 0 },
	{ "18-digit string", "max18", true, 999999999999999999LL },
	{ "19-digit string refused", "huge_str", false, 0 },
	{ "fraction refused", "float", false, 0 },
	{ "exponent refused", "exp", false, 0 },
	{ "beyond long long refused", "big", false, 0 },
	{ "signed string refused", "signed_str", false, 0 },
	{ "negative string refused", "neg_str", false, 0 },
	{ "empty string refused", "empty", false, 0 },
	{ "string with space refused", "space_str", false, 0 },
	{ "bool refused", "bool", false, 0 },
	{ "null refused", "null", false, 0 },
	{ "object refused", "obj", false, 0 },
	{ "array refused", "arr", false, 0 },
	{ "absent", "nope", false, 0 },
	{ "string token is not a number", "access_token", false, 0 },
};

static void test_members(void)
{
	struct json *j = NULL;
	struct result r;

	if (!json_parse_object(members_text, strlen(members_text), &j, &r)) {
		tap_ok(0, "members object parses");
		printf("# %s\n", r.msg);
		return;
	}
	for (size_t i = 0; i < sizeof int_cases / sizeof *int_cases; i++) {
		const struct int_case *c = &int_cases[i];
		long long v = -12345;
		bool ok = json_integer(j, c->member, &v);

		tap_ok(ok == c->ok && (!ok || v == c->want), c->name);
		if (ok != c->ok || (ok && v != c->want))
			printf("# %s: ok %d, value %lld\n", c->member, ok, v);
	}
	tap_is_str(json_string(j, "access_token"), "eyJ0eXAi.x-y_z", "string member");
	tap_is_str(json_string(j, "esc"), "a\"b\\c/d\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
		   "escapes and \\u (with a surrogate pair) decoded");
	tap_ok(json_string(j, "nul") == NULL, "string with \\u0000 is not handed out");
	tap_ok(json_string(j, "expires_in") == NULL, "number is not a string");
	tap_ok(json_string(j, "obj") == NULL, "object is not a string");
	tap_ok(json_string(j, "null") == NULL, "null is not a string");
	tap_ok(json_string(j, "nope") == NULL, "absent string");
	tap_is_str(json_string(j, "empty"), "", "empty string");
	tap_ok(json_string(j, "dup") != NULL, "repeated member: one of them");
	json_free(j);
	json_free(NULL);
	tap_ok(1, "json_free(NULL)");
}

/* Error answers (RFC 6749 5.2, RFC 8628 3.5) and the SASL challenge. */
static void test_answers(void)
{
	static const char *const texts[] = {
		"{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70008: The refresh token has expired\","
		"\"error_codes\":[70008],\"timestamp\":\"2024-01-01 00:00:00Z\",\"trace_id\":\"x\"}",
		"{\"error\":\"authorization_pending\"}",
		"{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"https://mail.google.com/\"}",
		"{\"device_code\":\"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS\",\"user_code\":\"WDJB-MJHT\","
		"\"verification_uri\":\"https://example.com/device\",\"expires_in\":\"1800\",\"interval\":5}",
	};
	struct json *j[4] = { NULL, NULL, NULL, NULL };
	struct result r;
	long long v = 0;

	for (size_t i = 0; i < 4; i++)
		tap_ok(json_parse_object(texts[i], strlen(texts[i]), &j[i], &r), "answer parses");
	tap_is_str(json_string(j[0], "error"), "invalid_grant", "error member");
	tap_ok(json_string(j[0], "error_description") != NULL, "error_description member");
	tap_is_str(json_string(j[1], "error"), "authorization_pending", "pending");
	tap_is_str(json_string(j[2], "status"), "401", "SASL challenge status");
	tap_ok(json_integer(j[3], "expires_in", &v) && v == 1800, "device expires_in as string");
	tap_ok(json_integer(j[3], "interval", &v) && v == 5, "device interval");
	tap_is_str(json_string(j[3], "user_code"), "WDJB-MJHT", "user_code");
	for (size_t i = 0; i < 4; i++)
		json_free(j[i]);
}

/* ---- http_urlencode ------------------------------------------------------ */

static void test_urlencode(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "", "" },
		{ "AZaz09-._~", "AZaz09-._~" },
		{ "a b+c&d=e/f?g#h%", "a%20b%2Bc%26d%3De%2Ff%3Fg%23h%25" },
		{ "https://mail.google.com/ offline_access", "https%3A%2F%2Fmail.google.com%2F%20offline_access" },
		{ "\xc3\xa9\x01\x7f\xff", "%C3%A9%01%7F%FF" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *e = http_urlencode(cases[i].in);

		tap_is_str(e, cases[i].out, "http_urlencode");
		free(e);
	}
}

/* ---- oauth_redirect -------------------------------------------------------- */

static int connect_to(const struct oauth_redirect *rd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	getsockname(rd->listen_fd, (struct sockaddr *)&sa, &len);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The request is sent before waiting starts: the kernel keeps it. */
static int browser(const struct oauth_redirect *rd, const char *request)
{
	int fd = connect_to(rd);

	if (fd >= 0 && write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void read_reply(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
}

struct redirect_case {
	const char *name;
	const char *request;            /* to the socket, or NULL */
	const char *pasted;             /* to the input pipe, or NULL */
	enum result_class cls;
	const char *code;
	const char *status;             /* the browser's answer starts with it */
};

#define GET(q) "GET " q " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n"

static const struct redirect_case redirect_cases[] = {
	{ "browser: code", GET("/?code=abc&state=S1"), NULL, RESULT_OK, "abc", "HTTP/1.1 200" },
	{ "browser: decoded, unknown parameters ignored",
	  GET("/?state=S1&scope=x+y&code=4%2F0Ab-c%2Bd+e&authuser=0"), NULL, RESULT_OK, "4/0Ab-c+d e",
	  "HTTP/1.1 200" },
	{ "browser: wrong state refused", GET("/?code=abc&state=S2"), NULL, RESULT_NOPERM, NULL,
	  "HTTP/1.1 200" },
	{ "browser: state missing refused", GET("/?code=abc"), NULL, RESULT_NOPERM, NULL, "HTTP/1.1 200" },
	{ "browser: longer state refused", GET("/?code=abc&state=S1x"), NULL, RESULT_NOPERM, NULL, NULL },
	{ "browser: access_denied", GET("/?error=access_denied&error_description=The+user+said+no&state=S1"),
	  NULL, RESULT_NOPERM, NULL, "HTTP/1.1 200" },
	{ "browser: repeated code refused", GET("/?code=a&code=b&state=S1"), NULL, RESULT_PROTOCOL, NULL, NULL },
	{ "browser: broken escape refused", GET("/?code=a%2&state=S1"), NULL, RESULT_PROTOCOL, NULL, NULL },
	{ "browser: %00 refused", GET("/?code=a%00b&state=S1"), NULL, RESULT_PROTOCOL, NULL, NULL },
	{ "browser: empty code", GET("/?code=&state=S1"), NULL, RESULT_PROTOCOL, NULL, NULL },
	{ "pasted: whole address", NULL, "http://127.0.0.1:1234/?code=xyz&state=S1\n", RESULT_OK, "xyz", NULL },
	{ "pasted: CRLF, blanks, empty lines first", NULL, "\n  \r\n  http://localhost/?state=S1&code=q%20r  \r\n",
	  RESULT_OK, "q r", NULL },
	{ "pasted: only the query, no newline", NULL, "code=k1&state=S1", RESULT_OK, "k1", NULL },
	{ "pasted: fragment ignored", NULL, "/?code=k2&state=S1#_=_\n", RESULT_OK, "k2", NULL },
	{ "pasted: wrong state", NULL, "/?code=k&state=nope\n", RESULT_NOPERM, NULL, NULL },
	{ "pasted: no code", NULL, "https://accounts.google.com/o/oauth2/auth\n", RESULT_PROTOCOL, NULL, NULL },
	{ "pasted: error answer", NULL, "/?error=access_denied&state=S1\n", RESULT_NOPERM, NULL, NULL },
	{ "pasted: input closed", NULL, "", RESULT_TEMPFAIL, NULL, NULL },
	{ "404 first, then the code pasted", GET("/favicon.ico"), "/?code=p&state=S1\n", RESULT_OK, "p",
	  "HTTP/1.1 404" },
	{ "no query: 404, then pasted", GET("/"), "/?code=p2&state=S1\n", RESULT_OK, "p2", "HTTP/1.1 404" },
	{ "POST: 400, then pasted", "POST /?code=x&state=S1 HTTP/1.1\r\n\r\n", "/?code=p3&state=S1\n",
	  RESULT_OK, "p3", "HTTP/1.1 400" },
	{ "garbage: 400, then pasted", "\x16\x03\x01\x02\x01\n\n", "/?code=p4&state=S1\n", RESULT_OK, "p4",
	  "HTTP/1.1 400" },
	{ "bare LF request", "GET /?code=lf&state=S1 HTTP/1.0\n\n", NULL, RESULT_OK, "lf", "HTTP/1.1 200" },
};

/* A child plays the person: it waits for the browser's answer (the
 * listener answered and closed), checks it, and only then pastes. */
static pid_t paste_after_reply(int client, int pipe_w, const char *pasted, const char *status)
{
	pid_t pid = fork();
	char reply[4096];

	if (pid != 0)
		return pid;
	read_reply(client, reply, sizeof reply);
	(void)!write(pipe_w, pasted, strlen(pasted));
	_exit(status && strncmp(reply, status, strlen(status)) != 0 ? 1 : 0);
}

static void run_redirect_case(const struct redirect_case *c)
{
	struct oauth_redirect rd;
	struct result r;
	char code[OAUTH_CODE_MAX + 1] = "", reply[4096] = "";
	int pipefd[2] = { -1, -1 }, client = -1, st = 0;
	pid_t child = -1;
	bool ok;

	result_clear(&r);
	if (!oauth_redirect_listen(&rd, &r)) {
		tap_ok(0, r.msg);
		return;
	}
	if (c->request)
		client = browser(&rd, c->request);
	if (c->pasted && pipe(pipefd) == 0) {
		if (client >= 0) {
			child = paste_after_reply(client, pipefd[1], c->pasted, c->status);
			close(client);
			client = -1;
		} else {
			(void)!write(pipefd[1], c->pasted, strlen(c->pasted));
		}
		close(pipefd[1]);
	}
	ok = oauth_redirect_wait(&rd, pipefd[0], "S1", 2, code, sizeof code, &r);
	tap_ok(ok == (c->cls == RESULT_OK) && (ok || r.cls == c->cls), c->name);
	if (!ok)
		printf("# %d %s\n", r.cls, r.msg);
	if (c->code)
		tap_is_str(code, c->code, "code");
	if (client >= 0) {
		read_reply(client, reply, sizeof reply);
		if (c->status)
			tap_ok(strncmp(reply, c->status, strlen(c->status)) == 0, "browser's answer");
	}
	if (child > 0)
		tap_ok(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		       "browser's answer, then pasted");
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	oauth_redirect_close(&rd);
}

static void test_redirect_table(void)
{
	for (size_t i = 0; i < sizeof redirect_cases / sizeof *redirect_cases; i++)
		run_redirect_case(&redirect_cases[i]);
}

static double elapsed(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Idle clients (a browser's spare connections, a stalled local process)
 * hold up neither the pasted line nor the real redirect. */
static void test_redirect_stalls(void)
{
	struct oauth_redirect rd;
	struct result r;
	char code[64] = "", reply[4096];
	int idle[6], pipefd[2], client;
	struct timespec t0;
	bool ok;

	oauth_redirect_listen(&rd, &r);
	tap_ok(strncmp(rd.uri, "http://127.0.0.1:", 17) == 0 && rd.uri[strlen(rd.uri) - 1] == '/' &&
	       atoi(rd.uri + 17) > 0, "redirect URI names the port");
	for (int i = 0; i < 6; i++)
		idle[i] = connect_to(&rd);
	(void)!write(idle[0], "GET /?code=stall", 16);
	(void)!pipe(pipefd);
	(void)!write(pipefd[1], "/?code=fast&state=S1\n", 21);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok = oauth_redirect_wait(&rd, pipefd[0], "S1", 5, code, sizeof code, &r);
	tap_ok(ok && strcmp(code, "fast") == 0 && elapsed(&t0) < 1.0, "stalled clients: pasted line at once");
	close(pipefd[0]);
	close(pipefd[1]);

	/* six idle connections, then the browser's request, no input */
	client = browser(&rd, GET("/?code=late&state=S1"));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok = oauth_redirect_wait(&rd, -1, "S1", 5, code, sizeof code, &r);
	tap_ok(ok && strcmp(code, "late") == 0 && elapsed(&t0) < 1.0, "idle connections: redirect at once");
	read_reply(client, reply, sizeof reply);
	tap_ok(strstr(reply, "200 OK") && strstr(reply, "text/html"), "browser gets the page");
	for (int i = 0; i < 6; i++)
		close(idle[i]);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok = oauth_redirect_wait(&rd, -1, "S1", 1, code, sizeof code, &r);
	tap_ok(!ok && r.cls == RESULT_TEMPFAIL && elapsed(&t0) >= 0.9 && elapsed(&t0) < 1.8,
	       "timeout after timeout_s");
	oauth_redirect_close(&rd);
}

/* Request heads over OAUTH_REDIRECT_LINE_MAX, a code over the caller's
 * buffer, a pasted line over the limit. */
static void test_redirect_limits(void)
{
	struct oauth_redirect rd;
	struct result r;
	char code[8] = "", *big = malloc(3 * OAUTH_REDIRECT_LINE_MAX);
	int pipefd[2], client, st = 0;
	pid_t child;
	bool ok;

	oauth_redirect_listen(&rd, &r);
	memset(big, 'a', 3 * OAUTH_REDIRECT_LINE_MAX);
	memcpy(big, "GET /?code=", 11);
	big[OAUTH_REDIRECT_LINE_MAX] = '\0';
	client = browser(&rd, big);
	(void)!pipe(pipefd);
	child = paste_after_reply(client, pipefd[1], "/?code=12345678&state=S1\n", "HTTP/1.1 400");
	close(client);
	close(pipefd[1]);
	ok = oauth_redirect_wait(&rd, pipefd[0], "S1", 2, code, sizeof code, &r);
	tap_ok(!ok && r.cls == RESULT_PROTOCOL, "code longer than the buffer refused");
	tap_ok(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "overlong request head: 400");
	close(pipefd[0]);

	(void)!pipe(pipefd);
	(void)!fcntl(pipefd[1], F_SETFL, O_NONBLOCK);
	big[OAUTH_REDIRECT_LINE_MAX] = 'a';
	(void)!write(pipefd[1], big, OAUTH_REDIRECT_LINE_MAX + 100);
	ok = oauth_redirect_wait(&rd, pipefd[0], "S1", 2, code, sizeof code, &r);
	tap_ok(!ok && r.cls == RESULT_PROTOCOL, "overlong pasted line refused");
	close(pipefd[0]);
	close(pipefd[1]);
	oauth_redirect_close(&rd);
	oauth_redirect_close(&rd);
	tap_ok(rd.listen_fd == -1, "close twice");
	free(big);
}

int main(void)
{
	test_parse_table();
	test_parse_hostile();
	test_members();
	test_answers();
	test_urlencode();
	test_redirect_table();
	test_redirect_stalls();
	test_redirect_limits();
	return tap_done();
}
