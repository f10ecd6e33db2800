#include "autoconfig.h"

#include <string.h>
#include <strings.h>

#include "dsn.h"

bool dsn_notify_valid(const char *value)
{
	char copy[DSN_NOTIFY_MAX + 1], *save = NULL;
	bool never = false, other = false;

	if (strlen(value) >= sizeof copy)
		return false;
	strcpy(copy, value);
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (strcasecmp(w, "never") == 0)
			never = true;
		else if (strcasecmp(w, "success") == 0 || strcasecmp(w, "failure") == 0 ||
			 strcasecmp(w, "delay") == 0)
			other = true;
		else
			return false;
	}
	return never != other;
}

bool dsn_envid_valid(const char *value)
{
	size_t len = strlen(value);

	if (len == 0 || len > DSN_ENVID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (value[i] < 33 || value[i] > 126)
			return false;
	}
	return true;
}
