#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aliases_file.h"
#include "aliases_internal.h"
#include "i18n.h"
#include "log.h"
#include "rfc5322.h"

#define SHOWN_MAX 64                    /* an item quoted in a message */


void aliases_problem(struct parser *p, bool is_error, int line, const char *fmt, ...)
{
	char text[512], shown[sizeof text * 4];
	va_list ap;

	if (is_error)
		p->errors++;
	if (p->report == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	/* The file is text someone else may have written. */
	p->report(p->arg, is_error, p->af->path, line, log_escape(shown, sizeof shown, text));
}

struct aliases_file *aliases_file_new(const char *path)
{
	struct aliases_file *af = calloc(1, sizeof *af);

	if (af == NULL)
		return NULL;
	af->path = strdup(path);
	if (af->path == NULL) {
		free(af);
		return NULL;
	}
	return af;
}

static void free_entries(struct aliases_file *af)
{
	for (size_t i = 0; i < af->n; i++) {
		free(af->entries[i].name);
		free(af->entries[i].targets);
		free(af->entries[i].ignored);
	}
	free(af->entries);
	af->entries = NULL;
	af->n = 0;
}

void aliases_file_free(struct aliases_file *af)
{
	if (af == NULL)
		return;
	free_entries(af);
	free(af->path);
	free(af);
}

static bool valid_name(const char *name)
{
	if (*name == '\0')
		return false;
	for (const char *c = name; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      strchr("_.-+", *c)))
			return false;
	}
	return true;
}

/* What relaymail cannot do with an item, or NULL for an address or name. */
static const char *ignored_kind(const char *item)
{
	const char *c = item[0] == '"' ? item + 1 : item;

	if (strncasecmp(c, ":include:", 9) == 0)
		return ":include:";
	if (*c == '|')
		return _("a pipe");
	if (*c == '/')
		return _("a file");
	if (*c == '\\')
		return _("local delivery");
	return NULL;
}

/* The end of the item starting at s: the next comma outside quotes,
 * <...> and (...) comments. */
static char *item_end(char *s)
{
	int angle = 0, paren = 0;
	bool quoted = false;

	for (; *s; s++) {
		if (*s == '\\' && s[1] != '\0' && (quoted || paren)) {
			s++;
		} else if (*s == '"' && !paren) {
			quoted = !quoted;
		} else if (!quoted) {
			if (*s == '(')
				paren++;
			else if (*s == ')' && paren > 0)
				paren--;
			else if (*s == '<' && !paren)
				angle++;
			else if (*s == '>' && angle > 0 && !paren)
				angle--;
			else if (*s == ',' && !angle && !paren)
				return s;
		}
	}
	return s;
}

/* Split value into the items kept (", "-joined into kept, which has room
 * for strlen(value) + 1 bytes plus a separator per item) and the first
 * item left out. */
static void split_items(struct parser *p, int line, const char *name, char *value, char *kept,
			char ignored[SHOWN_MAX])
{
	char *next;
	size_t used = 0;

	kept[0] = ignored[0] = '\0';
	for (char *item = value; item != NULL; item = next) {
		char *end = item_end(item);
		const char *kind;

		next = *end == ',' ? end + 1 : NULL;
		*end = '\0';
		item = rfc5322_trim_wsp(item);
		if (*item == '\0')
			continue;
		kind = ignored_kind(item);
		if (kind != NULL) {
			aliases_problem(p, false, line, _("alias '%s': %s ignored (%s): relaymail sends to addresses only"),
				name, kind, item);
			if (ignored[0] == '\0')
				snprintf(ignored, SHOWN_MAX, "%s", item);
			continue;
		}
		used += (size_t)sprintf(kept + used, "%s%s", used ? ", " : "", item);
	}
}

static bool count_address(const char *addr, size_t start, size_t len, void *data, struct result *r)
{
	(void)start;
	(void)len;
	(void)data;
	if (!rfc5322_address_is_safe(addr))
		return result_fail(r, RESULT_DATAERR, _("unusable address"));
	return true;
}

static bool add_entry(struct parser *p, const char *name, const char *targets, const char *ignored,
		      int line)
{
	struct aliases_file *af = p->af;
	struct aliases_entry *e;

	if (af->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct aliases_entry *grown = realloc(af->entries, cap * sizeof *grown);

		if (grown == NULL)
			return false;
		af->entries = grown;
		p->cap = cap;
	}
	e = &af->entries[af->n];
	memset(e, 0, sizeof *e);
	e->line = line;
	e->name = strdup(name);
	e->targets = strdup(targets);
	e->ignored = *ignored ? strdup(ignored) : NULL;
	if (e->name == NULL || e->targets == NULL || (*ignored && e->ignored == NULL)) {
		free(e->name);
		free(e->targets);
		free(e->ignored);
		return false;
	}
	af->n++;
	return true;
}

/* One logical entry "name: value, ..." starting at line. */
static bool parse_entry(struct parser *p, char *text, int line)
{
	char *colon = strchr(text, ':'), *name, *value, *kept = NULL;
	char ignored[SHOWN_MAX];
	struct result r;
	bool ok = true;

	if (colon == NULL) {
		aliases_problem(p, true, line, _("expected 'name: value'"));
		return true;
	}
	*colon = '\0';
	name = rfc5322_trim_wsp(text);
	value = rfc5322_trim_wsp(colon + 1);
	if (name[0] == '"' && strlen(name) > 1 && name[strlen(name) - 1] == '"') {
		name[strlen(name) - 1] = '\0';
		name++;
	}
	if (!valid_name(name)) {
		aliases_problem(p, true, line, _("invalid alias name '%s' (a local name such as root)"), name);
		return true;
	}
	if (*value == '\0') {
		aliases_problem(p, true, line, _("alias '%s' has no value"), name);
		return true;
	}
	/* ", " instead of "," can make the list longer: at most 1 byte per item. */
	kept = malloc(2 * strlen(value) + 2);
	if (kept == NULL)
		return false;
	split_items(p, line, name, value, kept, ignored);
	result_clear(&r);
	if (kept[0] != '\0' && !rfc5322_scan_address_list(kept, strlen(kept), count_address, NULL, &r))
		aliases_problem(p, true, line, _("alias '%s': invalid address list: %s"), name, r.msg);
	else if (p->af->n >= ALIASES_MAX_ENTRIES)
		aliases_problem(p, true, line, _("more than %d aliases: the rest is skipped"), ALIASES_MAX_ENTRIES);
	else
		ok = add_entry(p, name, kept, ignored, line);
	free(kept);
	return ok;
}

static int by_name(const void *a, const void *b)
{
	const struct aliases_entry *x = a, *y = b;
	int c = strcasecmp(x->name, y->name);

	return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/* Sorted for bsearch; of two entries for one name the first in the file
 * counts, as with postalias. */
static void sort_and_dedupe(struct parser *p)
{
	struct aliases_file *af = p->af;
	size_t out = 0;

	if (af->n > 1)
		qsort(af->entries, af->n, sizeof *af->entries, by_name);
	for (size_t i = 0; i < af->n; i++) {
		struct aliases_entry *e = &af->entries[i];

		if (out > 0 && strcasecmp(af->entries[out - 1].name, e->name) == 0) {
			aliases_problem(p, true, e->line, _("alias '%s' is defined twice (first at line %d)"),
				e->name, af->entries[out - 1].line);
			free(e->name);
			free(e->targets);
			free(e->ignored);
			continue;
		}
		af->entries[out++] = *e;
	}
	af->n = out;
}

struct line_reader {
	const char *text, *end;
	int line;
};

/* The next physical line (without its newline) in start and len; false at
 * the end.  A NUL byte or CR inside a line counts as part of it. */
static bool next_line(struct line_reader *lr, const char **start, size_t *len)
{
	const char *nl;

	if (lr->text >= lr->end)
		return false;
	nl = memchr(lr->text, '\n', (size_t)(lr->end - lr->text));
	*start = lr->text;
	*len = (size_t)((nl ? nl : lr->end) - lr->text);
	lr->text = nl ? nl + 1 : lr->end;
	lr->line++;
	if (*len > 0 && (*start)[*len - 1] == '\r')
		(*len)--;
	return true;
}

static bool blank_or_comment(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i == len || s[i] == '#';
}

struct entry_buf {
	char *text;
	size_t len;
	int line;                       /* 0: no entry being collected */
	bool bad;                       /* a line of it was refused: skip it */
};

static bool finish_entry(struct parser *p, struct entry_buf *eb)
{
	bool ok = true;

	if (eb->line > 0 && !eb->bad) {
		eb->text[eb->len] = '\0';
		ok = parse_entry(p, eb->text, eb->line);
	}
	eb->len = 0;
	eb->line = 0;
	eb->bad = false;
	return ok;
}

static void append_line(struct parser *p, struct entry_buf *eb, const char *s, size_t len, int line)
{
	if (eb->bad)
		return;
	if (len > ALIASES_LINE_MAX) {
		aliases_problem(p, true, line, _("line too long (at most %d characters)"), ALIASES_LINE_MAX);
		eb->bad = true;
	} else if (memchr(s, '\0', len) != NULL) {
		aliases_problem(p, true, line, _("NUL byte in the line"));
		eb->bad = true;
	} else if (eb->len + 1 + len > ALIASES_ENTRY_MAX) {
		aliases_problem(p, true, eb->line, _("entry too long (at most %d characters)"), ALIASES_ENTRY_MAX);
		eb->bad = true;
	} else {
		/* A continuation line joins the entry as one space. */
		if (eb->len > 0)
			eb->text[eb->len++] = ' ';
		memcpy(eb->text + eb->len, s, len);
		eb->len += len;
	}
}

/* Its leading white space only separates, like the line break before it. */
static void append_continuation(struct parser *p, struct entry_buf *eb, const char *s, size_t len, int line)
{
	size_t skip = 0;

	while (skip < len && (s[skip] == ' ' || s[skip] == '\t'))
		skip++;
	append_line(p, eb, s + skip, len - skip, line);
}

unsigned aliases_file_parse(struct aliases_file *af, const char *text, size_t len,
			    aliases_report_fn report, void *arg)
{
	struct parser p = { af, report, arg, 0, 0 };
	struct line_reader lr = { text, text + len, 0 };
	struct entry_buf eb = { malloc(ALIASES_ENTRY_MAX + 1), 0, 0, false };
	const char *s;
	size_t n;
	bool ok = eb.text != NULL;

	while (ok && next_line(&lr, &s, &n)) {
		if (blank_or_comment(s, n))
			continue;
		if (s[0] == ' ' || s[0] == '\t') {
			if (eb.line == 0)
				aliases_problem(&p, true, lr.line, _("continuation line without an entry before it"));
			else
				append_continuation(&p, &eb, s, n, lr.line);
			continue;
		}
		ok = finish_entry(&p, &eb);
		eb.line = lr.line;
		append_line(&p, &eb, s, n, lr.line);
	}
	if (ok)
		ok = finish_entry(&p, &eb);
	if (!ok)
		aliases_problem(&p, true, lr.line, _("out of memory"));
	free(eb.text);
	sort_and_dedupe(&p);
	af->loaded = true;
	return p.errors;
}

/* Like the configuration files: whoever may write it may redirect mail. */
static bool check_safety(const char *path, int fd, struct stat *st, struct result *r)
{
	if (fstat(fd, st) != 0)
		return result_fail(r, RESULT_CONFIG, _("%s: cannot stat: %s"), path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return result_fail(r, RESULT_CONFIG, _("%s: not a regular file"), path);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return result_fail(r, RESULT_CONFIG,
				   _("%s: refusing an aliases file writable by group or others (chmod go-w)"), path);
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return result_fail(r, RESULT_CONFIG, _("%s: refusing an aliases file owned by another user"), path);
	if (st->st_size > ALIASES_FILE_MAX_SIZE)
		return result_fail(r, RESULT_CONFIG, _("%s: larger than %d bytes"), path, ALIASES_FILE_MAX_SIZE);
	return true;
}

static char *read_all(const char *path, int fd, size_t *len, struct result *r)
{
	char *buf = malloc(ALIASES_FILE_MAX_SIZE + 1);
	size_t got = 0;
	ssize_t n;

	if (buf == NULL) {
		result_fail(r, RESULT_OSERR, _("out of memory"));
		return NULL;
	}
	/* The size was checked, but the file may grow while it is read. */
	while (got <= ALIASES_FILE_MAX_SIZE &&
	       (n = read(fd, buf + got, ALIASES_FILE_MAX_SIZE + 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			result_fail(r, RESULT_CONFIG, _("%s: cannot read: %s"), path, strerror(errno));
			free(buf);
			return NULL;
		}
		got += (size_t)n;
	}
	if (got > ALIASES_FILE_MAX_SIZE) {
		result_fail(r, RESULT_CONFIG, _("%s: larger than %d bytes"), path, ALIASES_FILE_MAX_SIZE);
		free(buf);
		return NULL;
	}
	*len = got;
	return buf;
}

bool aliases_file_read(struct aliases_file *af, aliases_report_fn report, void *arg,
		       unsigned *errors, struct result *r)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	unsigned n;
	int fd;

	/* O_NONBLOCK: a FIFO put in its place must not hang the sender. */
	fd = open(af->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return result_fail(r, RESULT_CONFIG, _("%s: cannot open: %s"), af->path, strerror(errno));
	if (check_safety(af->path, fd, &st, r))
		text = read_all(af->path, fd, &len, r);
	close(fd);
	if (text == NULL)
		return false;
	free_entries(af);
	n = aliases_file_parse(af, text, len, report, arg);
	if (errors != NULL)
		*errors = n;
	free(text);
	return true;
}

struct first_error {
	unsigned errors;
	int line;
	char text[256];
};

static void note_first_error(void *arg, bool is_error, const char *path, int line, const char *text)
{
	struct first_error *fe = arg;

	(void)path;
	if (!is_error)
		return;     /* items left out are told when their entry is used */
	if (fe->errors++ == 0) {
		fe->line = line;
		snprintf(fe->text, sizeof fe->text, "%s", text);
	}
}

static int find_name(const void *key, const void *elem)
{
	return strcasecmp(key, ((const struct aliases_entry *)elem)->name);
}

const struct aliases_entry *aliases_find(const struct aliases_file *af, const char *name)
{
	return af->n ? bsearch(name, af->entries, af->n, sizeof *af->entries, find_name) : NULL;
}

bool aliases_file_lookup(struct aliases_file *af, const char *name, const char **targets,
			 struct result *r)
{
	struct aliases_entry *e;

	*targets = NULL;
	if (af == NULL)
		return true;
	if (!af->loaded) {
		struct first_error fe = { 0, 0, "" };

		if (!aliases_file_read(af, note_first_error, &fe, NULL, r))
			return false;
		if (fe.errors > 0)
			log_warn(ngettext("%s:%d: %s; %u entry with errors is skipped (newaliases lists it)",
					  "%s:%d: %s; %u entries with errors are skipped (newaliases lists them)",
					  fe.errors),
				 af->path, fe.line, fe.text, fe.errors);
	}
	e = (struct aliases_entry *)aliases_find(af, name);      /* ours: it notes the warning */
	if (e == NULL)
		return true;
	if (e->ignored != NULL && !e->warned) {
		e->warned = true;
		if (e->targets[0] == '\0')
			log_warn(_("%s:%d: alias '%s' (%s) has no address relaymail can send to: it is treated as if it had no alias"),
				 af->path, e->line, e->name, e->ignored);
		else
			log_warn(_("%s:%d: alias '%s': %s left out: relaymail sends to addresses only"),
				 af->path, e->line, e->name, e->ignored);
	}
	if (e->targets[0] != '\0')
		*targets = e->targets;
	return true;
}

