#include "autoconfig.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <dlfcn.h>
#include <libsecret/secret.h>

#include "i18n.h"
#include "keyring.h"

static const SecretSchema relaymail_schema = {
	"org.relaymail.Password", SECRET_SCHEMA_NONE,
	{
		{ "host", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "service", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "user", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "account", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ NULL, 0 },
	},
	0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

/* msmtp's entries carry no attribute "account" and another schema name. */
static const SecretSchema lookup_schema = {
	"org.relaymail.Password", SECRET_SCHEMA_DONT_MATCH_NAME,
	{
		{ "host", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "service", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "user", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ NULL, 0 },
	},
	0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

/* libsecret (and with it GLib, GIO, D-Bus) is loaded only when a keyring
 * lookup can happen at all: a server without a session bus, where cron and
 * PHP run, never pays its start-up time and memory. */
#define SECRET_API(X) \
	X(secret_service_get_sync) X(secret_service_search_sync) X(secret_service_store_sync) \
	X(secret_service_clear_sync) X(secret_item_get_attributes) X(secret_item_get_locked) \
	X(secret_item_get_secret) X(secret_value_get) X(secret_value_new) X(secret_value_unref) \
	X(g_cancellable_new) X(g_cancellable_cancel) X(g_cancellable_is_cancelled) \
	X(g_object_unref) X(g_clear_error) X(g_error_matches) X(g_dbus_error_quark) \
	X(g_hash_table_new) X(g_hash_table_insert) X(g_hash_table_lookup) \
	X(g_hash_table_unref) X(g_str_hash) X(g_str_equal) X(g_list_free_full)

struct secret_api {
#define SECRET_API_FIELD(name) __typeof__(&name) name;
	SECRET_API(SECRET_API_FIELD)
#undef SECRET_API_FIELD
};

static bool secret_api_load(struct secret_api *api, char *why, size_t size)
{
	/* Stays loaded: GLib must not be unloaded once it has started. */
	void *lib = dlopen("libsecret-1.so.0", RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		snprintf(why, size, _("libsecret is not installed (%s)"), dlerror());
		return false;
	}
#define SECRET_API_LOAD(name) \
	if ((*(void **)&api->name = dlsym(lib, #name)) == NULL) { \
		snprintf(why, size, _("libsecret lacks %s"), #name); \
		return false; \
	}
	SECRET_API(SECRET_API_LOAD)
#undef SECRET_API_LOAD
	return true;
}

/* A watchdog cancels the D-Bus calls when the service does not answer:
 * libsecret's own timeout is D-Bus's 25 seconds, too long for cron. */
struct watchdog {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	bool done;
	GCancellable *cancellable;
	const struct secret_api *api;
};

static void *watchdog_run(void *arg)
{
	struct watchdog *w = arg;
	const struct secret_api *api = w->api;
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += KEYRING_TIMEOUT;
	pthread_mutex_lock(&w->lock);
	while (!w->done && rc == 0)
		rc = pthread_cond_timedwait(&w->done_cond, &w->lock, &until);
	if (!w->done)
		api->g_cancellable_cancel(w->cancellable);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static bool watchdog_start(struct watchdog *w, const struct secret_api *api)
{
	memset(w, 0, sizeof *w);
	w->api = api;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->done_cond, NULL);
	w->cancellable = api->g_cancellable_new();
	return pthread_create(&w->thread, NULL, watchdog_run, w) == 0;
}

/* Returns true when the watchdog fired. */
static bool watchdog_stop(struct watchdog *w)
{
	const struct secret_api *api = w->api;
	bool fired;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->done_cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	fired = api->g_cancellable_is_cancelled(w->cancellable);
	api->g_object_unref(w->cancellable);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->done_cond);
	return fired;
}

/* GDBus would try to autolaunch a bus (X11) when none is set: only go on
 * when a session bus is known to exist. */
static bool session_bus_present(void)
{
	const char *addr = getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	char path[4096];
	struct stat st;
	int n;

	if (addr != NULL && *addr != '\0')
		return true;
	if (runtime == NULL || *runtime == '\0')
		return false;
	n = snprintf(path, sizeof path, "%s/bus", runtime);
	return n > 0 && (size_t)n < sizeof path && stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static enum keyring_status classify_error(const struct secret_api *api, const GError *error,
					  bool timed_out, char *why,
					  size_t size)
{
	if (timed_out) {
		snprintf(why, size, _("the Secret Service did not answer within %d seconds"),
			 KEYRING_TIMEOUT);
		return KEYRING_TIMEOUT_;
	}
	if (error != NULL && (api->g_error_matches(error, api->g_dbus_error_quark(), G_DBUS_ERROR_SERVICE_UNKNOWN) ||
			      api->g_error_matches(error, api->g_dbus_error_quark(), G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
			      api->g_error_matches(error, api->g_dbus_error_quark(), G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND))) {
		snprintf(why, size, _("no Secret Service (keyring daemon) is running on the session bus"));
		return KEYRING_NO_SERVICE;
	}
	snprintf(why, size, _("keyring error: %s"), error ? error->message : "?");
	return KEYRING_FAILED;
}

static SecretService *open_service(struct watchdog *w, enum keyring_status *status, char *why,
				   size_t size)
{
	const struct secret_api *api = w->api;
	GError *error = NULL;
	SecretService *service;

	service = api->secret_service_get_sync(SECRET_SERVICE_OPEN_SESSION, w->cancellable, &error);
	if (service == NULL) {
		*status = classify_error(api, error, api->g_cancellable_is_cancelled(w->cancellable), why,
					 size);
		api->g_clear_error(&error);
	}
	return service;
}

/* Everything a keyring call needs first: a session bus, libsecret, and
 * the watchdog.  false: *status and why say what is missing. */
static bool begin(struct secret_api *api, struct watchdog *w, enum keyring_status *status,
		  char *why, size_t size)
{
	if (!session_bus_present()) {
		snprintf(why, size, _("there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"));
		*status = KEYRING_NO_BUS;
		return false;
	}
	*status = KEYRING_FAILED;
	if (!secret_api_load(api, why, size))
		return false;
	if (!watchdog_start(w, api)) {
		snprintf(why, size, _("cannot start a thread"));
		return false;
	}
	return true;
}

static GHashTable *attributes_for(const struct secret_api *api, const struct account *acct,
				  const char *service, bool with_account)
{
	GHashTable *attrs = api->g_hash_table_new(api->g_str_hash, api->g_str_equal);

	api->g_hash_table_insert(attrs, (gpointer)"host", acct->host);
	api->g_hash_table_insert(attrs, (gpointer)"service", (gpointer)service);
	api->g_hash_table_insert(attrs, (gpointer)"user", acct->user);
	if (with_account)
		api->g_hash_table_insert(attrs, (gpointer)"account", acct->name);
	return attrs;
}

/* Prefer relaymail's own entry for this account over msmtp's or another
 * account's entry for the same host and user. */
static SecretItem *best_item(const struct secret_api *api, GList *items, const struct account *acct)
{
	SecretItem *best = NULL;
	int best_rank = -1;

	/* Rank: unlocked before locked, this account's entry before others. */
	for (GList *l = items; l != NULL; l = l->next) {
		SecretItem *item = l->data;
		GHashTable *attrs = api->secret_item_get_attributes(item);
		const char *name = api->g_hash_table_lookup(attrs, "account");
		int rank = (api->secret_item_get_locked(item) ? 0 : 2) +
			   (name != NULL && strcmp(name, acct->name) == 0 ? 1 : 0);

		api->g_hash_table_unref(attrs);
		if (rank > best_rank) {
			best = item;
			best_rank = rank;
		}
	}
	return best;
}

static enum keyring_status take_secret(const struct secret_api *api, SecretItem *item,
				       struct secret *out, char *why, size_t size)
{
	SecretValue *value;
	const char *data;
	gsize len = 0;

	if (api->secret_item_get_locked(item)) {
		snprintf(why, size, _("the keyring holding the password is locked"));
		return KEYRING_LOCKED;
	}
	value = api->secret_item_get_secret(item);
	if (value == NULL) {
		snprintf(why, size, _("the keyring entry has no secret loaded"));
		return KEYRING_FAILED;
	}
	data = api->secret_value_get(value, &len);
	if (len == 0 || len > SECRET_MAX || (out->data = calloc(1, SECRET_MAX + 1)) == NULL) {
		api->secret_value_unref(value);
		snprintf(why, size, len == 0 ? _("the keyring entry is empty")
			 : _("the keyring entry is too long or memory is short"));
		return KEYRING_FAILED;
	}
	memcpy(out->data, data, len);
	out->len = len;
	api->secret_value_unref(value);
	return KEYRING_FOUND;
}

enum keyring_status keyring_lookup_as(const struct account *acct, const char *service_name,
				      struct secret *out, char *why, size_t why_size)
{
	enum keyring_status status = KEYRING_FAILED;
	struct secret_api api_table;
	const struct secret_api *api = &api_table;
	struct watchdog w;
	SecretService *service;
	GHashTable *attrs = NULL;
	GList *items = NULL;
	GError *error = NULL;
	bool fired;

	why[0] = '\0';
	if (!begin(&api_table, &w, &status, why, why_size))
		return status;
	service = open_service(&w, &status, why, why_size);
	if (service != NULL) {
		attrs = attributes_for(api, acct, service_name, false);
		/* LOAD_SECRETS without UNLOCK: a locked item comes back locked
		 * instead of raising an unlock prompt. */
		items = api->secret_service_search_sync(service, &lookup_schema, attrs,
						   SECRET_SEARCH_ALL | SECRET_SEARCH_LOAD_SECRETS,
						   w.cancellable, &error);
	}
	fired = watchdog_stop(&w);
	if (service != NULL) {
		if (error != NULL || fired)
			status = classify_error(api, error, fired, why, why_size);
		else if (items == NULL)
			status = KEYRING_NOT_FOUND;
		else
			status = take_secret(api, best_item(api, items, acct), out, why, why_size);
	}
	if (status == KEYRING_NOT_FOUND)
		snprintf(why, why_size, _("no keyring entry for %s at %s"), acct->user, acct->host);
	api->g_list_free_full(items, api->g_object_unref);
	if (attrs != NULL)
		api->g_hash_table_unref(attrs);
	api->g_clear_error(&error);
	if (service != NULL)
		api->g_object_unref(service);
	return status;
}

static bool service_failed(enum keyring_status status, const char *why, struct result *r)
{
	(void)status;
	return result_fail(r, RESULT_CONFIG, _("keyring: %s"), why);
}

bool keyring_store_as(const struct account *acct, const char *service_name, const char *secret,
		      struct result *r)
{
	enum keyring_status status = KEYRING_FAILED;
	char why[256], label[512];
	struct secret_api api_table;
	const struct secret_api *api = &api_table;
	struct watchdog w;
	SecretService *service;
	SecretValue *value;
	GHashTable *attrs;
	GError *error = NULL;
	bool ok = false, fired;

	if (!begin(&api_table, &w, &status, why, sizeof why))
		return service_failed(status, why, r);
	service = open_service(&w, &status, why, sizeof why);
	if (service == NULL) {
		watchdog_stop(&w);
		return service_failed(status, why, r);
	}
	snprintf(label, sizeof label,
		 strcmp(service_name, KEYRING_OAUTH_REFRESH) == 0
		 ? _("relaymail OAuth refresh token for account %s (%s at %s)")
		 : _("relaymail password for account %s (%s at %s)"),
		 acct->name, acct->user, acct->host);
	attrs = attributes_for(api, acct, service_name, true);
	value = api->secret_value_new(secret, -1, "text/plain");
	ok = api->secret_service_store_sync(service, &relaymail_schema, attrs, SECRET_COLLECTION_DEFAULT,
				       label, value, w.cancellable, &error);
	fired = watchdog_stop(&w);
	if (!ok) {
		classify_error(api, error, fired, why, sizeof why);
		result_fail(r, RESULT_CONFIG, _("keyring: cannot store the password: %s"), why);
	}
	api->secret_value_unref(value);
	api->g_hash_table_unref(attrs);
	api->g_clear_error(&error);
	api->g_object_unref(service);
	return ok;
}

bool keyring_forget_as(const struct account *acct, const char *service_name, bool *removed,
		       struct result *r)
{
	enum keyring_status status = KEYRING_FAILED;
	char why[256];
	struct secret_api api_table;
	const struct secret_api *api = &api_table;
	struct watchdog w;
	SecretService *service;
	GHashTable *attrs;
	GError *error = NULL;
	bool fired;

	*removed = false;
	if (!begin(&api_table, &w, &status, why, sizeof why))
		return service_failed(status, why, r);
	service = open_service(&w, &status, why, sizeof why);
	if (service == NULL) {
		watchdog_stop(&w);
		return service_failed(status, why, r);
	}
	attrs = attributes_for(api, acct, service_name, true);
	*removed = api->secret_service_clear_sync(service, &relaymail_schema, attrs, w.cancellable, &error);
	fired = watchdog_stop(&w);
	if (error != NULL || fired) {
		classify_error(api, error, fired, why, sizeof why);
		result_fail(r, RESULT_CONFIG, _("keyring: cannot remove the password: %s"), why);
	}
	api->g_hash_table_unref(attrs);
	api->g_object_unref(service);
	if (error != NULL || fired) {
		api->g_clear_error(&error);
		return false;
	}
	return true;
}

enum keyring_status keyring_lookup(const struct account *acct, struct secret *out,
				   char *why, size_t why_size)
{
	return keyring_lookup_as(acct, KEYRING_PASSWORD, out, why, why_size);
}

bool keyring_store(const struct account *acct, const char *secret, struct result *r)
{
	return keyring_store_as(acct, KEYRING_PASSWORD, secret, r);
}

bool keyring_forget(const struct account *acct, bool *removed, struct result *r)
{
	return keyring_forget_as(acct, KEYRING_PASSWORD, removed, r);
}
