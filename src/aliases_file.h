/* The system aliases file (aliases_file = /etc/aliases): sendmail's and
 * Postfix's aliases(5) syntax, read for local names and lists of addresses.
 *
 *   name: value, value, ...      one entry; names are case-insensitive
 *   <white space>more, values    continues the entry above
 *   # comment                    comment and blank lines are skipped
 *
 * A value is an address (user@example.com, "Name" <user@example.com>) or a
 * local name (expanded again through [aliases] and this file, by
 * envelope.c).  Pipes (|command), files (/path), :include:/path and
 * \name (local delivery) mean nothing to a relay client: they are left out,
 * with one warning per entry and run.  An entry with nothing else left is
 * treated as absent.  [aliases] in relaymail's configuration takes
 * precedence over this file.
 *
 * Everything is bounded: the file size, a physical line, an entry, the
 * number of entries; the file must be a regular file that neither group
 * nor others can write, owned by root or the user running relaymail.  A
 * malformed entry is skipped (one warning per run, like postalias); the
 * whole file failing (missing, unsafe, too large) fails the lookup with
 * RESULT_CONFIG, so that mail for an aliased name is never sent to the
 * wrong place.
 *
 * The file is read at the first lookup of a run (never when every address
 * has a domain) and kept; struct aliases_file owns everything it holds.
 */
#ifndef RELAYMAIL_ALIASES_FILE_H
#define RELAYMAIL_ALIASES_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "result.h"

#define ALIASES_FILE_MAX_SIZE (4 * 1024 * 1024)
#define ALIASES_LINE_MAX 4096           /* one physical line, without its newline */
#define ALIASES_ENTRY_MAX 65536         /* one entry with its continuation lines */
#define ALIASES_MAX_ENTRIES 20000
/* Levels of alias-to-alias expansion; envelope.c's ALIAS_DEPTH is the same. */
#define ALIASES_MAX_DEPTH 8

struct aliases_entry {
	char *name;
	char *targets;                  /* the addresses and names kept, ", "-separated */
	char *ignored;                  /* the first item left out (shortened), or NULL */
	int line;
	bool warned;                    /* the warning about ignored items was given */
};

struct aliases_file {
	char *path;
	bool loaded;
	struct aliases_entry *entries;  /* sorted by name (case-insensitive) */
	size_t n;
};

/* One problem found while reading: an error (the entry is skipped) or a
 * warning (an item is left out).  text is translated and printable. */
typedef void (*aliases_report_fn)(void *arg, bool is_error, const char *path, int line,
				  const char *text);

/* An unread file; NULL when out of memory.  No I/O. */
struct aliases_file *aliases_file_new(const char *path);

void aliases_file_free(struct aliases_file *af);

/* Parse len bytes of file text into af (which must be empty), reporting
 * each problem; returns the number of errors.  Pure: no I/O. */
unsigned aliases_file_parse(struct aliases_file *af, const char *text, size_t len,
			    aliases_report_fn report, void *arg);

/* Read and parse af->path (the safety checks above); *errors (may be
 * NULL) gets the number of entries refused.  False with RESULT_CONFIG when
 * the file cannot be used at all. */
bool aliases_file_read(struct aliases_file *af, aliases_report_fn report, void *arg,
		       unsigned *errors, struct result *r);

/* The targets of name ("" never: NULL when there is no usable entry).
 * Reads the file at the first call (warning once about skipped entries);
 * af may be NULL (no aliases_file).  *targets is owned by af. */
bool aliases_file_lookup(struct aliases_file *af, const char *name, const char **targets,
			 struct result *r);

/* newaliases: read every aliases_file the configuration names (only that
 * of account when not NULL), report each problem with file:line through
 * report, and look for loops and expansions deeper than ALIASES_MAX_DEPTH
 * across [aliases] and the file.  *n_files is the number of files checked
 * (0: none configured).  Returns the number of errors; a file that cannot
 * be read counts as one (reported with its path). */
unsigned aliases_file_check(const struct config *cfg, const char *account, size_t *n_files,
			    aliases_report_fn report, void *arg);

/* newaliases, -bi, -I: aliases_file_check() with the problems on
 * stderr; RESULT_CONFIG when there is any.  Says on stderr (exit 0) when
 * no aliases_file is configured. */
bool aliases_file_newaliases(const struct config *cfg, const char *account, struct result *r);

#endif
