/* newaliases (aliases_file.h): every aliases file with [aliases], as one
 * graph, checked for loops and chains deeper than ALIASES_MAX_DEPTH. */
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

/* ---- newaliases: the whole picture, with [aliases] ------------------------ */

struct graph {
	const struct alias *cfg_aliases;        /* [aliases]: nodes 0 .. n_cfg-1 */
	size_t n_cfg;
	const struct aliases_file *af;          /* the file: nodes n_cfg .. */
	size_t *first_edge;                     /* per node, into edges; one more at the end */
	size_t *edges;
	size_t n_edges, cap_edges;
};

static size_t node_count(const struct graph *g)
{
	return g->n_cfg + g->af->n;
}

static const char *node_name(const struct graph *g, size_t v)
{
	return v < g->n_cfg ? g->cfg_aliases[v].name : g->af->entries[v - g->n_cfg].name;
}

static const char *node_targets(const struct graph *g, size_t v)
{
	return v < g->n_cfg ? g->cfg_aliases[v].targets : g->af->entries[v - g->n_cfg].targets;
}

/* The node a name expands through: [aliases] first, then the file. */
static bool resolve_name(const struct graph *g, const char *name, size_t *v)
{
	const struct aliases_entry *e;

	for (size_t i = 0; i < g->n_cfg; i++) {
		if (strcasecmp(g->cfg_aliases[i].name, name) == 0) {
			*v = i;
			return true;
		}
	}
	e = aliases_find(g->af, name);
	if (e == NULL || e->targets[0] == '\0')
		return false;
	*v = g->n_cfg + (size_t)(e - g->af->entries);
	return true;
}

static bool add_edge(const char *addr, size_t start, size_t len, void *data, struct result *r)
{
	struct graph *g = data;
	size_t v;

	(void)start;
	(void)len;
	if (strchr(addr, '@') != NULL || !resolve_name(g, addr, &v))
		return true;
	if (g->n_edges == g->cap_edges) {
		size_t cap = g->cap_edges ? g->cap_edges * 2 : 64;
		size_t *grown = realloc(g->edges, cap * sizeof *grown);

		if (grown == NULL)
			return result_fail(r, RESULT_OSERR, _("out of memory"));
		g->edges = grown;
		g->cap_edges = cap;
	}
	g->edges[g->n_edges++] = v;
	return true;
}

static bool build_graph(struct graph *g)
{
	size_t n = node_count(g);
	struct result r;

	g->first_edge = calloc(n + 1, sizeof *g->first_edge);
	if (g->first_edge == NULL)
		return false;
	for (size_t v = 0; v < n; v++) {
		const char *t = node_targets(g, v);

		g->first_edge[v] = g->n_edges;
		result_clear(&r);
		/* A [aliases] value that does not parse fails at send time,
		 * and config.c has said where; here it only has no edges. */
		if (!rfc5322_scan_address_list(t, strlen(t), add_edge, g, &r) && r.cls == RESULT_OSERR)
			return false;
	}
	g->first_edge[n] = g->n_edges;
	return true;
}

/* "file:line" of a node for the report. */
static void node_origin(const struct graph *g, size_t v, char *path, size_t size, int *line)
{
	const char *origin, *colon;

	if (v >= g->n_cfg) {
		snprintf(path, size, "%s", g->af->path);
		*line = g->af->entries[v - g->n_cfg].line;
		return;
	}
	origin = g->cfg_aliases[v].origin ? g->cfg_aliases[v].origin : "";
	colon = strrchr(origin, ':');
	snprintf(path, size, "%.*s", colon ? (int)(colon - origin) : (int)strlen(origin), origin);
	*line = colon ? atoi(colon + 1) : 0;
}

enum { WHITE, GREY, BLACK };

struct walk {
	struct graph *g;
	struct parser *p;
	unsigned char *color;           /* WHITE, GREY, BLACK */
	unsigned char *looped;          /* a loop was reported here: no depth report */
	unsigned *depth;                /* alias levels below and including the node, capped */
	size_t *stack, *next;           /* the DFS path and each node's next edge */
};

/* At the node's own file, which is the configuration for [aliases]. */
static void report_node(struct walk *w, size_t v, const char *text)
{
	char path[1024], shown[600 * 4];
	int line;

	node_origin(w->g, v, path, sizeof path, &line);
	w->p->errors++;
	if (w->p->report != NULL)
		w->p->report(w->p->arg, true, path, line, log_escape(shown, sizeof shown, text));
}

/* The loop as "a -> b -> a", from the stack (shortened when long). */
static void report_loop(struct walk *w, size_t top, size_t v)
{
	char chain[300] = "", text[600];
	size_t from = top, used = 0;

	while (from > 0 && w->stack[from - 1] != v)
		from--;
	for (size_t i = from > 0 ? from - 1 : 0; i < top; i++) {
		int n = snprintf(chain + used, sizeof chain - used, "%s -> ", node_name(w->g, w->stack[i]));

		if (n < 0 || (size_t)n >= sizeof chain - used) {
			chain[used] = '\0';
			break;
		}
		used += (size_t)n;
	}
	snprintf(chain + used, sizeof chain - used, "%s", node_name(w->g, v));
	snprintf(text, sizeof text, _("alias '%s' loops: %s"), node_name(w->g, v), chain);
	w->looped[v] = 1;
	report_node(w, v, text);
}

/* Iterative depth-first search: linear in nodes and edges whatever the
 * file holds; every loop and every expansion deeper than
 * ALIASES_MAX_DEPTH is reported once, at the alias where it starts. */
static void walk_from(struct walk *w, size_t root)
{
	size_t top = 0;

	w->stack[top++] = root;
	w->color[root] = GREY;
	w->next[root] = w->g->first_edge[root];
	w->depth[root] = 1;
	while (top > 0) {
		size_t v = w->stack[top - 1];

		if (w->next[v] < w->g->first_edge[v + 1]) {
			size_t c = w->g->edges[w->next[v]++];

			if (w->color[c] == GREY) {
				report_loop(w, top, c);
			} else if (w->color[c] == WHITE) {
				w->color[c] = GREY;
				w->next[c] = w->g->first_edge[c];
				w->depth[c] = 1;
				w->stack[top++] = c;
			} else if (w->depth[c] + 1 > w->depth[v]) {
				w->depth[v] = w->depth[c] + 1 > ALIASES_MAX_DEPTH + 1 ? ALIASES_MAX_DEPTH + 1 : w->depth[c] + 1;
			}
			continue;
		}
		w->color[v] = BLACK;
		top--;
		if (top > 0) {
			size_t parent = w->stack[top - 1];
			unsigned d = w->depth[v] + 1 > ALIASES_MAX_DEPTH + 1 ? ALIASES_MAX_DEPTH + 1 : w->depth[v] + 1;

			if (d > w->depth[parent])
				w->depth[parent] = d;
		}
	}
}

static unsigned check_graph(struct graph *g, struct parser *p)
{
	size_t n = node_count(g);
	struct walk w = { g, p, calloc(n + 1, 1), calloc(n + 1, 1), calloc(n + 1, sizeof *w.depth),
			  calloc(n + 1, sizeof *w.stack), calloc(n + 1, sizeof *w.next) };

	if (w.color == NULL || w.looped == NULL || w.depth == NULL || w.stack == NULL || w.next == NULL) {
		aliases_problem(p, true, 0, _("out of memory"));
		goto out;
	}
	for (size_t v = 0; v < n; v++) {
		if (w.color[v] == WHITE)
			walk_from(&w, v);
	}
	/* Deeper than envelope.c expands: say so where it first exceeds. */
	for (size_t v = 0; v < n; v++) {
		bool child_too_deep = false;

		if (w.depth[v] <= ALIASES_MAX_DEPTH || w.looped[v])
			continue;
		for (size_t e = g->first_edge[v]; e < g->first_edge[v + 1]; e++)
			child_too_deep |= w.depth[g->edges[e]] > ALIASES_MAX_DEPTH;
		if (!child_too_deep) {
			char text[600];

			snprintf(text, sizeof text, _("alias '%s' expands through more than %d levels of aliases"),
				 node_name(g, v), ALIASES_MAX_DEPTH);
			report_node(&w, v, text);
		}
	}
out:
	free(w.color);
	free(w.looped);
	free(w.depth);
	free(w.stack);
	free(w.next);
	return p->errors;
}

static bool listed(const char *const *paths, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(paths[i], path) == 0)
			return true;
	}
	return false;
}

/* One file, with [aliases] over it. */
static unsigned check_one(const struct config *cfg, const char *path, aliases_report_fn report, void *arg)
{
	struct aliases_file *af = aliases_file_new(path);
	struct parser p = { af, report, arg, 0, 0 };
	struct graph g = { cfg->aliases, cfg->n_aliases, af, NULL, NULL, 0, 0 };
	struct result r;
	char shown[RESULT_MSG_MAX * 4];
	unsigned errors = 0;

	result_clear(&r);
	if (af == NULL) {
		report(arg, true, path, 0, _("out of memory"));
		return 1;
	}
	if (!aliases_file_read(af, report, arg, &errors, &r)) {
		report(arg, true, NULL, 0, log_escape(shown, sizeof shown, r.msg));
		errors = 1;
	} else if (!build_graph(&g)) {
		report(arg, true, path, 0, _("out of memory"));
		errors++;
	} else {
		errors += check_graph(&g, &p);
	}
	free(g.first_edge);
	free(g.edges);
	aliases_file_free(af);
	return errors;
}

unsigned aliases_file_check(const struct config *cfg, const char *account, size_t *n_files,
			    aliases_report_fn report, void *arg)
{
	const char *paths[64];
	size_t n = 0;
	unsigned errors = 0;
	bool found = account == NULL;

	for (size_t i = 0; i < cfg->n_accounts; i++) {
		const struct account *a = &cfg->accounts[i];
		const char *path = a->aliases_file ? a->aliases_file : cfg->defaults.aliases_file;

		if (account != NULL && strcmp(a->name, account) != 0)
			continue;
		found = true;
		if (path != NULL && !listed(paths, n, path) && n < sizeof paths / sizeof paths[0])
			paths[n++] = path;
	}
	if (account == NULL && cfg->defaults.aliases_file != NULL &&
	    !listed(paths, n, cfg->defaults.aliases_file) && n < sizeof paths / sizeof paths[0])
		paths[n++] = cfg->defaults.aliases_file;
	if (!found) {
		char text[300], shown[sizeof text * 4];

		snprintf(text, sizeof text, _("account '%s' is not defined"), account);
		report(arg, true, NULL, 0, log_escape(shown, sizeof shown, text));
		errors++;
	}
	for (size_t i = 0; i < n; i++)
		errors += check_one(cfg, paths[i], report, arg);
	*n_files = n;
	return errors;
}

static void print_problem(void *arg, bool is_error, const char *path, int line, const char *text)
{
	(void)arg;
	if (path == NULL && is_error)
		log_error("%s", text);
	else if (path == NULL)
		log_warn("%s", text);
	else if (is_error)
		log_error("%s:%d: %s", path, line, text);
	else
		log_warn("%s:%d: %s", path, line, text);
}

bool aliases_file_newaliases(const struct config *cfg, const char *account, struct result *r)
{
	size_t n_files = 0;
	unsigned errors = aliases_file_check(cfg, account, &n_files, print_problem, NULL);

	/* Package scripts run newaliases after changing /etc/aliases: with
	 * nothing configured that is not an error, but a person who edited
	 * the file must learn that relaymail does not read it. */
	if (n_files == 0 && errors == 0)
		log_warn(_("no account sets aliases_file, so relaymail does not read /etc/aliases "
			   "(set aliases_file = /etc/aliases to use it; see relaymail.conf(5))"));
	if (errors > 0)
		return result_fail(r, RESULT_CONFIG,
				   ngettext("%u problem found in the aliases file (see above)",
					    "%u problems found in the aliases file (see above)", errors),
				   errors);
	return true;
}
