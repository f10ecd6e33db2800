#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_trust.h"
#include "i18n.h"

#define DIR_SEPARATORS " \t,"

/* The canonical directory that holds path's canonical file. */
static bool canonical_parent(const char *canonical_file, char *dir, size_t size)
{
	const char *slash = strrchr(canonical_file, '/');
	size_t len;

	if (slash == NULL)
		return false;
	len = slash == canonical_file ? 1 : (size_t)(slash - canonical_file);
	if (len >= size)
		return false;
	memcpy(dir, canonical_file, len);
	dir[len] = '\0';
	return true;
}

static bool same_directory(const char *candidate, const char *canonical_dir)
{
	char resolved[PATH_MAX];

	return realpath(candidate, resolved) != NULL && strcmp(resolved, canonical_dir) == 0;
}

static bool in_user_config_dir(const char *canonical_dir)
{
	char user_file[PATH_MAX], user_dir[PATH_MAX];
	char *slash;

	if (!config_user_path(user_file, sizeof user_file))
		return false;
	snprintf(user_dir, sizeof user_dir, "%s", user_file);
	slash = strrchr(user_dir, '/');
	if (slash == NULL)
		return false;
	*slash = '\0';
	return same_directory(user_dir, canonical_dir);
}

static bool in_alternate_dirs(const struct config *cfg, const char *canonical_dir)
{
	char *list, *save = NULL;
	bool found = false;

	if (cfg->alternate_dirs == NULL || (list = strdup(cfg->alternate_dirs)) == NULL)
		return false;
	for (char *d = strtok_r(list, DIR_SEPARATORS, &save); d != NULL && !found;
	     d = strtok_r(NULL, DIR_SEPARATORS, &save))
		found = same_directory(d, canonical_dir);
	free(list);
	return found;
}

bool config_trust_cmdline_file(const struct config *cfg, const char *path, char *resolved,
			       struct result *r)
{
	char dir[PATH_MAX];

	if (realpath(path, resolved) == NULL)
		return result_fail(r, RESULT_CONFIG, _("%s: cannot open: %s"), path, strerror(errno));
	if (getuid() == 0 && geteuid() == 0)
		return true;
	if (canonical_parent(resolved, dir, sizeof dir) &&
	    (in_user_config_dir(dir) || in_alternate_dirs(cfg, dir)))
		return true;
	return result_fail(r, RESULT_USAGE,
			   _("--config %s refused: for users other than root a configuration file on the command line must be in ~/.config/relaymail or in a directory listed in alternate_config_directories of the system file (use RELAYMAIL_CONFIG=FILE for a file of your own; see SECURITY in relaymail(8))"),
			   path);
}

bool config_trust_valid_dirs(const char *value)
{
	char *list = strdup(value), *save = NULL;
	bool valid = list != NULL, any = false;

	for (char *d = valid ? strtok_r(list, DIR_SEPARATORS, &save) : NULL; d != NULL && valid;
	     d = strtok_r(NULL, DIR_SEPARATORS, &save)) {
		valid = d[0] == '/' && strlen(d) < PATH_MAX;
		any = true;
	}
	free(list);
	return valid && any;
}
