#include "autoconfig.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "handoff.h"
#include "i18n.h"
#include "log.h"
#include "service_proto.h"

/* The service answers once the relay has answered (or the message is
 * queued): several relay timeouts and a fallback account may pass. */
#define HANDOFF_ANSWER_TIMEOUT_S 900
#define HANDOFF_CONNECT_TIMEOUT_S 10

struct link {
	int fd;
	const char *socket;
	struct proto_reader in;
};

static bool unreachable(const struct link *l, const char *why, struct result *r)
{
	return result_fail(r, RESULT_TEMPFAIL, _("the relaymail service (%s) cannot be reached: %s"),
			   l->socket, why);
}

static bool link_open(struct link *l, const struct service_config *svc, struct result *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = HANDOFF_CONNECT_TIMEOUT_S };

	memset(l, 0, sizeof *l);
	l->socket = config_service_socket(svc);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return unreachable(l, strerror(errno), r);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", l->socket);
	/* A blocked connect (backlog full) and every write are bounded. */
	setsockopt(l->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(l->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		return unreachable(l, strerror(errno), r);
	proto_reader_init(&l->in, l->fd, HANDOFF_ANSWER_TIMEOUT_S);
	return true;
}

static void link_close(struct link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

/* One line without CRLF into line (SERVICE_LINE_MAX + 1 bytes). */
static bool read_line(struct link *l, char *line, struct result *r)
{
	switch (proto_read_line(&l->in, line)) {
	case PROTO_OK:
		return true;
	case PROTO_TOO_LONG:
		return result_fail(r, RESULT_PROTOCOL, _("the relaymail service sent a line that is too long"));
	case PROTO_TIMEOUT:
		return result_fail(r, RESULT_TEMPFAIL, _("the relaymail service did not answer in time"));
	default:
		return result_fail(r, RESULT_TEMPFAIL, _("the relaymail service closed the connection without an answer"));
	}
}

static bool send_text(struct link *l, const char *text, struct result *r)
{
	return message_write_all(l->fd, text, strlen(text), r) ||
	       result_fail(r, RESULT_TEMPFAIL, _("the relaymail service closed the connection"));
}

static bool send_arguments(struct link *l, int argc, char *const *argv, struct result *r)
{
	char line[SERVICE_ARG_MAX * 3 + 16];

	if (argc - 1 > SERVICE_ARGS_MAX)
		return result_fail(r, RESULT_USAGE, _("too many arguments (limit %d)"), SERVICE_ARGS_MAX);
	for (int i = 1; i < argc; i++) {
		memcpy(line, "ARG ", 4);
		if (strlen(argv[i]) > SERVICE_ARG_MAX ||
		    !service_xtext_encode(argv[i], line + 4, sizeof line - 6))
			return result_fail(r, RESULT_USAGE, _("argument %d is too long"), i);
		strcat(line, "\r\n");
		if (!send_text(l, line, r))
			return false;
	}
	return true;
}

/* "NNN-TEXT" or "NNN TEXT": the code, whether more lines follow, the text. */
static bool split_reply(char *line, int *code, bool *more, char **text)
{
	if (strlen(line) < 4 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9' || (line[3] != '-' && line[3] != ' '))
		return false;
	*code = atoi(line);
	*more = line[3] == '-';
	*text = line + 4;
	return true;
}

/* The final line: "<code> <CLASS> <text>". */
static bool final_result(int code, char *text, struct result *r)
{
	enum result_class cls;
	char *space = strchr(text, ' ');

	if (space != NULL)
		*space = '\0';
	if (!service_class_parse(text, &cls) || (cls == RESULT_OK) != (code / 100 == 2))
		return result_fail(r, RESULT_PROTOCOL, _("the relaymail service sent an invalid answer"));
	if (cls == RESULT_OK) {
		result_clear(r);
		return true;
	}
	return result_fail(r, cls, "%s", space != NULL ? space + 1 : "");
}

static bool greeting(struct link *l, char *line, struct result *r)
{
	int code;
	bool more;
	char *text;

	if (!read_line(l, line, r))
		return false;
	if (!split_reply(line, &code, &more, &text) || more)
		return result_fail(r, RESULT_PROTOCOL, _("the relaymail service sent an invalid greeting"));
	if (code == 220)
		return true;
	/* A refusal is a final line: "<code> <CLASS> <text>". */
	final_result(code, text, r);
	if (r->cls == RESULT_OK)
		result_fail(r, RESULT_PROTOCOL, _("the relaymail service sent an invalid greeting"));
	return false;
}

static bool read_outcome(struct link *l, handoff_warn_fn warn, void *arg, struct result *r)
{
	char line[SERVICE_LINE_MAX + 1], shown[SERVICE_LINE_MAX];

	for (;;) {
		int code;
		bool more;
		char *text;

		if (!read_line(l, line, r))
			return false;
		if (!split_reply(line, &code, &more, &text))
			return result_fail(r, RESULT_PROTOCOL, _("the relaymail service sent an invalid answer"));
		if (!more)
			return final_result(code, text, r);
		if (strncmp(text, "WARN ", 5) == 0 && warn != NULL)
			warn(arg, log_escape(shown, sizeof shown, text + 5));
	}
}

bool handoff_submit(const struct service_config *svc, int argc, char *const *argv,
		    const struct message *msg, handoff_warn_fn warn, void *warn_arg,
		    struct result *r)
{
	char line[SERVICE_LINE_MAX + 1];
	struct link l;
	bool ok;

	ok = link_open(&l, svc, r) && greeting(&l, line, r) && send_arguments(&l, argc, argv, r);
	if (ok) {
		snprintf(line, sizeof line, "DATA %jd\r\n", (intmax_t)message_wire_size(msg));
		ok = send_text(&l, line, r) &&
		     (message_write_content(msg, l.fd, r) ||
		      result_fail(r, RESULT_TEMPFAIL, _("the relaymail service closed the connection"))) &&
		     read_outcome(&l, warn, warn_arg, r);
	}
	link_close(&l);
	return ok;
}

/* LIST and FLUSH: a command, then lines until the final one. */
static bool simple_command(const struct service_config *svc, const char *command, bool print,
			   struct result *r)
{
	char line[SERVICE_LINE_MAX + 1], shown[SERVICE_LINE_MAX];
	struct link l;
	bool ok;

	ok = link_open(&l, svc, r) && greeting(&l, line, r) && send_text(&l, command, r);
	while (ok) {
		int code = 0;
		bool more = false;
		char *text = NULL;

		if (!read_line(&l, line, r)) {
			ok = false;
			break;
		}
		if (!split_reply(line, &code, &more, &text)) {
			result_fail(r, RESULT_PROTOCOL, _("the relaymail service sent an invalid answer"));
			ok = false;
			break;
		}
		if (!more) {
			ok = final_result(code, text, r);
			break;
		}
		if (print)
			puts(log_escape(shown, sizeof shown, text));
	}
	link_close(&l);
	return ok;
}

bool handoff_list(const struct service_config *svc, struct result *r)
{
	return simple_command(svc, "LIST\r\n", true, r);
}

bool handoff_flush(const struct service_config *svc, bool all, struct result *r)
{
	return simple_command(svc, all ? "FLUSH ALL\r\n" : "FLUSH\r\n", false, r);
}

bool handoff_ping(const struct service_config *svc, struct result *r)
{
	char line[SERVICE_LINE_MAX + 1];
	struct link l;
	bool ok;

	ok = link_open(&l, svc, r) && greeting(&l, line, r) && send_text(&l, "QUIT\r\n", r);
	link_close(&l);
	return ok;
}
