/* The [service] section of the system file: the system mode
 * (relaymail --serve and the clients that hand it their messages).
 * Keys are documented in relaymail.conf(5).  Strings are owned by the
 * struct (config_service_free()).
 */
#ifndef RELAYMAIL_CONFIG_SERVICE_H
#define RELAYMAIL_CONFIG_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SERVICE_DEFAULT_SOCKET "/run/relaymail/submit"
#define SERVICE_DEFAULT_USER "relaymail"
#define SERVICE_DEFAULT_SPOOL "/var/spool/relaymail"

struct service_config {
	bool present;                   /* the system file has [service] */
	char *socket;                   /* NULL: SERVICE_DEFAULT_SOCKET */
	char *user;                     /* NULL: SERVICE_DEFAULT_USER */
	char *account;                  /* NULL: the default account */
	char *allow_from_override;      /* NULL: "root"; "yes", "no" or users */
	char *allowed_users;            /* NULL: everyone */
	unsigned max_sessions;
	unsigned session_idle;          /* seconds */
	unsigned service_idle;          /* seconds; 0: never exit */
	unsigned max_clients;
	unsigned client_timeout;        /* seconds for a client to send its message */
	unsigned retry_interval;        /* seconds between queue runs while running */
	unsigned set_mask;              /* keys already set (each once) */
};

void config_service_defaults(struct service_config *svc);

/* Set one key.  False with a reason in err (no file:line; the caller adds
 * it) for an unknown key or a bad value. */
bool config_service_set(struct service_config *svc, const char *key, const char *value,
			char *err, size_t err_size);

const char *config_service_socket(const struct service_config *svc);
const char *config_service_user(const struct service_config *svc);

/* Is user (a login name; uid 0 is "root") in a list such as
 * allow_from_override or allowed_users?  "yes"/"no" stand for everyone and
 * no one; NULL is the default given. */
bool config_service_user_listed(const char *list, const char *user, bool if_unset);

void config_service_free(struct service_config *svc);

#endif
