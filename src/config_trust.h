/* Which configuration files named on the command line are believed.
 *
 * A configuration file can run commands (password_command), read files
 * (password_file, tls_ca_file) and write them (log_file), so a --config
 * argument injected into sendmail's command line (PHP's mail()
 * additional_params, a sender-injection bug) must not make relaymail load a
 * file the attacker uploaded.  As Postfix does with -C and
 * alternate_config_directories, a --config file is honoured when:
 *   - the caller is root (real and effective uid 0), or
 *   - it lies in the caller's own configuration directory
 *     ($XDG_CONFIG_HOME/relaymail or ~/.config/relaymail), or
 *   - its directory is listed in alternate_config_directories in [defaults]
 *     of the system file.
 * RELAYMAIL_CONFIG is not subject to the rule: the environment cannot be
 * reached through an injected argument.
 */
#ifndef RELAYMAIL_CONFIG_TRUST_H
#define RELAYMAIL_CONFIG_TRUST_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "result.h"

/* Is path allowed by the rule above?  resolved (PATH_MAX bytes) receives
 * the file's canonical name, which is what the caller must load, so a
 * symlink swapped in after the check changes nothing.  Errors:
 * RESULT_USAGE (refused: the message names the rule and the way out),
 * RESULT_CONFIG (the file cannot be resolved). */
bool config_trust_cmdline_file(const struct config *cfg, const char *path, char *resolved,
			       struct result *r);

/* Is value a list of absolute directory names (spaces or commas)? */
bool config_trust_valid_dirs(const char *value);

#endif
