#include "autoconfig.h"

#include <string.h>

#include "i18n.h"
#include "smtp_reply.h"

void smtp_reply_init(struct smtp_reply *reply)
{
	reply->code = 0;
	reply->enhanced[0] = '\0';
	reply->text[0] = '\0';
	reply->text_len = 0;
	reply->n_lines = 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "X.Y.Z " at the start of the text, X being the reply's class. */
static void take_enhanced(struct smtp_reply *reply, const char *text, size_t len)
{
	size_t i = 0, parts = 0, digits;

	if (len == 0 || text[0] != '0' + reply->code / 100)
		return;
	while (parts < 3) {
		/* RFC 3463: class is one digit, subject and detail 1-3 digits. */
		size_t max_digits = parts == 0 ? 1 : 3;

		for (digits = 0; i < len && is_digit(text[i]) && digits < max_digits; i++)
			digits++;
		if (digits == 0)
			return;
		parts++;
		if (parts < 3) {
			if (i >= len || text[i] != '.')
				return;
			i++;
		}
	}
	if (i < len && text[i] != ' ')
		return;
	if (i >= sizeof reply->enhanced)
		return;
	memcpy(reply->enhanced, text, i);
	reply->enhanced[i] = '\0';
}

static void append_text(struct smtp_reply *reply, const char *text, size_t len)
{
	size_t room = SMTP_REPLY_TEXT_MAX - 1 - reply->text_len;

	if (reply->n_lines > 0 && room > 0) {
		reply->text[reply->text_len++] = '\n';
		room--;
	}
	if (len > room)
		len = room;
	memcpy(reply->text + reply->text_len, text, len);
	reply->text_len += len;
	reply->text[reply->text_len] = '\0';
}

enum smtp_reply_status smtp_reply_feed(struct smtp_reply *reply, const char *line, size_t len,
				       const char **error)
{
	int code;
	bool last;

	if (len < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
	    line[0] < '2' || line[0] > '5' || line[1] > '5') {
		*error = N_("malformed reply code");
		return SMTP_REPLY_ERROR;
	}
	if (len > 3 && line[3] != ' ' && line[3] != '-') {
		*error = N_("malformed reply line");
		return SMTP_REPLY_ERROR;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (reply->n_lines > 0 && code != reply->code) {
		*error = N_("reply code changes inside a multi-line reply");
		return SMTP_REPLY_ERROR;
	}
	if (reply->n_lines >= SMTP_REPLY_MAX_LINES) {
		*error = N_("reply has too many lines");
		return SMTP_REPLY_ERROR;
	}
	last = len == 3 || line[3] == ' ';
	reply->code = code;
	line += len > 3 ? 4 : 3;
	len -= len > 3 ? 4 : 3;
	if (reply->n_lines == 0)
		take_enhanced(reply, line, len);
	append_text(reply, line, len);
	reply->n_lines++;
	return last ? SMTP_REPLY_DONE : SMTP_REPLY_MORE;
}

const char *smtp_reply_line(const struct smtp_reply *reply, unsigned n, size_t *len)
{
	const char *p = reply->text, *end = reply->text + reply->text_len;

	if (n >= reply->n_lines)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		p = memchr(p, '\n', (size_t)(end - p));
		if (p == NULL)
			return NULL;    /* truncated text */
		p++;
	}
	{
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		*len = (size_t)((nl ? nl : end) - p);
	}
	return p;
}
