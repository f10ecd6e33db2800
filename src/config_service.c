#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_service.h"
#include "i18n.h"

#define LIST_SEPARATORS " \t,"

void config_service_defaults(struct service_config *svc)
{
	memset(svc, 0, sizeof *svc);
	svc->max_sessions = 2;
	svc->session_idle = 5;
	svc->service_idle = 60;
	svc->max_clients = 256;
	svc->client_timeout = 60;
	svc->retry_interval = 300;
}

static bool set_text(char **field, const char *value, char *err, size_t err_size)
{
	char *copy;

	if (*value == '\0') {
		snprintf(err, err_size, "%s", _("empty value"));
		return false;
	}
	for (const char *p = value; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, err_size, "%s", _("control character in the value"));
			return false;
		}
	}
	if ((copy = strdup(value)) == NULL) {
		snprintf(err, err_size, "%s", _("out of memory"));
		return false;
	}
	free(*field);
	*field = copy;
	return true;
}

static bool set_number(unsigned *field, const char *value, unsigned min, unsigned max, char *err,
		       size_t err_size)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || value[0] == '-' || n < min || n > max) {
		snprintf(err, err_size, _("'%s' is not a number from %u to %u"), value, min, max);
		return false;
	}
	*field = (unsigned)n;
	return true;
}

static bool set_socket(struct service_config *svc, const char *value, char *err, size_t err_size)
{
	/* sun_path holds 108 bytes with its NUL */
	if (value[0] != '/' || strlen(value) >= 108) {
		snprintf(err, err_size, "%s", _("socket must be an absolute path of at most 107 bytes"));
		return false;
	}
	return set_text(&svc->socket, value, err, err_size);
}

static const char *const service_keys[] = {
	"socket", "user", "account", "allow_from_override", "allowed_users", "max_sessions",
	"session_idle", "service_idle", "max_clients", "client_timeout", "retry_interval",
};

static bool set_value(struct service_config *svc, size_t k, const char *value, char *err,
		      size_t err_size)
{
	switch (k) {
	case 0: return set_socket(svc, value, err, err_size);
	case 1: return set_text(&svc->user, value, err, err_size);
	case 2: return set_text(&svc->account, value, err, err_size);
	case 3: return set_text(&svc->allow_from_override, value, err, err_size);
	case 4: return set_text(&svc->allowed_users, value, err, err_size);
	case 5: return set_number(&svc->max_sessions, value, 1, 64, err, err_size);
	case 6: return set_number(&svc->session_idle, value, 0, 3600, err, err_size);
	case 7: return set_number(&svc->service_idle, value, 0, 86400, err, err_size);
	case 8: return set_number(&svc->max_clients, value, 1, 4096, err, err_size);
	case 9: return set_number(&svc->client_timeout, value, 1, 3600, err, err_size);
	default: return set_number(&svc->retry_interval, value, 10, 86400, err, err_size);
	}
}

bool config_service_set(struct service_config *svc, const char *key, const char *value,
			char *err, size_t err_size)
{
	for (size_t k = 0; k < sizeof service_keys / sizeof service_keys[0]; k++) {
		if (strcmp(key, service_keys[k]) != 0)
			continue;
		if (svc->set_mask & (1u << k)) {
			snprintf(err, err_size, _("key '%s' is set twice in this section"), key);
			return false;
		}
		svc->set_mask |= 1u << k;
		return set_value(svc, k, value, err, err_size);
	}
	snprintf(err, err_size, _("unknown key '%s'"), key);
	return false;
}

const char *config_service_socket(const struct service_config *svc)
{
	return svc->socket ? svc->socket : SERVICE_DEFAULT_SOCKET;
}

const char *config_service_user(const struct service_config *svc)
{
	return svc->user ? svc->user : SERVICE_DEFAULT_USER;
}

bool config_service_user_listed(const char *list, const char *user, bool if_unset)
{
	char *copy, *save = NULL;
	bool found = false;

	if (list == NULL)
		return if_unset;
	if (strcasecmp(list, "yes") == 0 || strcasecmp(list, "true") == 0 || strcasecmp(list, "on") == 0)
		return true;
	if (strcasecmp(list, "no") == 0 || strcasecmp(list, "false") == 0 || strcasecmp(list, "off") == 0)
		return false;
	if ((copy = strdup(list)) == NULL)
		return false;
	for (char *u = strtok_r(copy, LIST_SEPARATORS, &save); u != NULL && !found;
	     u = strtok_r(NULL, LIST_SEPARATORS, &save))
		found = strcmp(u, user) == 0;
	free(copy);
	return found;
}

void config_service_free(struct service_config *svc)
{
	free(svc->socket);
	free(svc->user);
	free(svc->account);
	free(svc->allow_from_override);
	free(svc->allowed_users);
	config_service_defaults(svc);
}
