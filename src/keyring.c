#include "autoconfig.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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

/* A watchdog cancels the D-Bus calls when the service does not answer:
 * libsecret's own timeout is D-Bus's 25 seconds, too long for cron. */
struct watchdog {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	bool done;
	GCancellable *cancellable;
};

static void *watchdog_run(void *arg)
{
	struct watchdog *w = arg;
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += KEYRING_TIMEOUT;
	pthread_mutex_lock(&w->lock);
	while (!w->done && rc == 0)
		rc = pthread_cond_timedwait(&w->done_cond, &w->lock, &until);
	if (!w->done)
		g_cancellable_cancel(w->cancellable);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static bool watchdog_start(struct watchdog *w)
{
	memset(w, 0, sizeof *w);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->done_cond, NULL);
	w->cancellable = g_cancellable_new();
	return pthread_create(&w->thread, NULL, watchdog_run, w) == 0;
}

/* Returns true when the watchdog fired. */
static bool watchdog_stop(struct watchdog *w)
{
	bool fired;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->done_cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	fired = g_cancellable_is_cancelled(w->cancellable);
	g_object_unref(w->cancellable);
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

	if (addr != NULL && *addr != '\0')
		return true;
	if (runtime == NULL || *runtime == '\0')
		return false;
	snprintf(path, sizeof path, "%s/bus", runtime);
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static enum keyring_status classify_error(const GError *error, bool timed_out, char *why,
					  size_t size)
{
	if (timed_out) {
		snprintf(why, size, _("the Secret Service did not answer within %d seconds"),
			 KEYRING_TIMEOUT);
		return KEYRING_TIMEOUT_;
	}
	if (error != NULL && (g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
			      g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
			      g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND))) {
		snprintf(why, size, _("no Secret Service (keyring daemon) is running on the session bus"));
		return KEYRING_NO_SERVICE;
	}
	snprintf(why, size, _("keyring error: %s"), error ? error->message : "?");
	return KEYRING_FAILED;
}

static SecretService *open_service(struct watchdog *w, enum keyring_status *status, char *why,
				   size_t size)
{
	GError *error = NULL;
	SecretService *service;

	if (!session_bus_present()) {
		snprintf(why, size, _("there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"));
		*status = KEYRING_NO_BUS;
		return NULL;
	}
	service = secret_service_get_sync(SECRET_SERVICE_OPEN_SESSION, w->cancellable, &error);
	if (service == NULL) {
		*status = classify_error(error, g_cancellable_is_cancelled(w->cancellable), why, size);
		g_clear_error(&error);
	}
	return service;
}

static GHashTable *attributes_for(const struct account *acct, bool with_account)
{
	GHashTable *attrs = g_hash_table_new(g_str_hash, g_str_equal);

	g_hash_table_insert(attrs, (gpointer)"host", acct->host);
	g_hash_table_insert(attrs, (gpointer)"service", (gpointer)"smtp");
	g_hash_table_insert(attrs, (gpointer)"user", acct->user);
	if (with_account)
		g_hash_table_insert(attrs, (gpointer)"account", acct->name);
	return attrs;
}

/* Prefer relaymail's own entry for this account over msmtp's or another
 * account's entry for the same host and user. */
static SecretItem *best_item(GList *items, const struct account *acct)
{
	SecretItem *best = NULL;
	int best_rank = -1;

	/* Rank: unlocked before locked, this account's entry before others. */
	for (GList *l = items; l != NULL; l = l->next) {
		SecretItem *item = l->data;
		GHashTable *attrs = secret_item_get_attributes(item);
		const char *name = g_hash_table_lookup(attrs, "account");
		int rank = (secret_item_get_locked(item) ? 0 : 2) +
			   (name != NULL && strcmp(name, acct->name) == 0 ? 1 : 0);

		g_hash_table_unref(attrs);
		if (rank > best_rank) {
			best = item;
			best_rank = rank;
		}
	}
	return best;
}

static enum keyring_status take_secret(SecretItem *item, struct secret *out, char *why,
				       size_t size)
{
	SecretValue *value;
	const char *data;
	gsize len = 0;

	if (secret_item_get_locked(item)) {
		snprintf(why, size, _("the keyring holding the password is locked"));
		return KEYRING_LOCKED;
	}
	value = secret_item_get_secret(item);
	if (value == NULL) {
		snprintf(why, size, _("the keyring entry has no secret loaded"));
		return KEYRING_FAILED;
	}
	data = secret_value_get(value, &len);
	if (len == 0 || len > SECRET_MAX || (out->data = calloc(1, SECRET_MAX + 1)) == NULL) {
		secret_value_unref(value);
		snprintf(why, size, len == 0 ? _("the keyring entry is empty")
			 : _("the keyring entry is too long or memory is short"));
		return KEYRING_FAILED;
	}
	memcpy(out->data, data, len);
	out->len = len;
	secret_value_unref(value);
	return KEYRING_FOUND;
}

enum keyring_status keyring_lookup(const struct account *acct, struct secret *out,
				   char *why, size_t why_size)
{
	enum keyring_status status = KEYRING_FAILED;
	struct watchdog w;
	SecretService *service;
	GHashTable *attrs = NULL;
	GList *items = NULL;
	GError *error = NULL;
	bool fired;

	why[0] = '\0';
	if (!watchdog_start(&w)) {
		snprintf(why, why_size, _("cannot start a thread"));
		return KEYRING_FAILED;
	}
	service = open_service(&w, &status, why, why_size);
	if (service != NULL) {
		attrs = attributes_for(acct, false);
		/* LOAD_SECRETS without UNLOCK: a locked item comes back locked
		 * instead of raising an unlock prompt. */
		items = secret_service_search_sync(service, &lookup_schema, attrs,
						   SECRET_SEARCH_ALL | SECRET_SEARCH_LOAD_SECRETS,
						   w.cancellable, &error);
	}
	fired = watchdog_stop(&w);
	if (service != NULL) {
		if (error != NULL || fired)
			status = classify_error(error, fired, why, why_size);
		else if (items == NULL)
			status = KEYRING_NOT_FOUND;
		else
			status = take_secret(best_item(items, acct), out, why, why_size);
	}
	if (status == KEYRING_NOT_FOUND)
		snprintf(why, why_size, _("no keyring entry for %s at %s"), acct->user, acct->host);
	g_list_free_full(items, g_object_unref);
	if (attrs != NULL)
		g_hash_table_unref(attrs);
	g_clear_error(&error);
	if (service != NULL)
		g_object_unref(service);
	return status;
}

static bool service_failed(enum keyring_status status, const char *why, struct result *r)
{
	(void)status;
	return result_fail(r, RESULT_CONFIG, _("keyring: %s"), why);
}

bool keyring_store(const struct account *acct, const char *secret, struct result *r)
{
	enum keyring_status status = KEYRING_FAILED;
	char why[256], label[512];
	struct watchdog w;
	SecretService *service;
	SecretValue *value;
	GHashTable *attrs;
	GError *error = NULL;
	bool ok = false, fired;

	if (!watchdog_start(&w))
		return result_fail(r, RESULT_OSERR, _("cannot start a thread"));
	service = open_service(&w, &status, why, sizeof why);
	if (service == NULL) {
		watchdog_stop(&w);
		return service_failed(status, why, r);
	}
	snprintf(label, sizeof label, _("relaymail password for account %s (%s at %s)"),
		 acct->name, acct->user, acct->host);
	attrs = attributes_for(acct, true);
	value = secret_value_new(secret, -1, "text/plain");
	ok = secret_service_store_sync(service, &relaymail_schema, attrs, SECRET_COLLECTION_DEFAULT,
				       label, value, w.cancellable, &error);
	fired = watchdog_stop(&w);
	if (!ok) {
		classify_error(error, fired, why, sizeof why);
		result_fail(r, RESULT_CONFIG, _("keyring: cannot store the password: %s"), why);
	}
	secret_value_unref(value);
	g_hash_table_unref(attrs);
	g_clear_error(&error);
	g_object_unref(service);
	return ok;
}

bool keyring_forget(const struct account *acct, bool *removed, struct result *r)
{
	enum keyring_status status = KEYRING_FAILED;
	char why[256];
	struct watchdog w;
	SecretService *service;
	GHashTable *attrs;
	GError *error = NULL;
	bool fired;

	*removed = false;
	if (!watchdog_start(&w))
		return result_fail(r, RESULT_OSERR, _("cannot start a thread"));
	service = open_service(&w, &status, why, sizeof why);
	if (service == NULL) {
		watchdog_stop(&w);
		return service_failed(status, why, r);
	}
	attrs = attributes_for(acct, true);
	*removed = secret_service_clear_sync(service, &relaymail_schema, attrs, w.cancellable, &error);
	fired = watchdog_stop(&w);
	if (error != NULL || fired) {
		classify_error(error, fired, why, sizeof why);
		result_fail(r, RESULT_CONFIG, _("keyring: cannot remove the password: %s"), why);
	}
	g_hash_table_unref(attrs);
	g_object_unref(service);
	if (error != NULL || fired) {
		g_clear_error(&error);
		return false;
	}
	return true;
}
