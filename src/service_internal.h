/* Inside relaymail --serve: the state service.c (the listener, the
 * schedule) and service_client.c (one client) share.  Not a public
 * interface. */
#ifndef RELAYMAIL_SERVICE_INTERNAL_H
#define RELAYMAIL_SERVICE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "credentials.h"
#include "message.h"
#include "options.h"
#include "pool.h"

/* account_by_sender: another account of the system file, loaded when a
 * sender first chooses it (service_accounts.c). */
struct served_account {
	bool ready;                     /* acct and secret are set (then read-only) */
	struct account acct;
	struct secret secret;
};

struct service {
	const struct config *cfg;
	const struct service_config *sc;
	struct account acct;
	struct secret secret;
	struct pool *pool;
	char queue_dir[PATH_MAX];
	char failed_dir[PATH_MAX];
	bool verbose;

	pthread_mutex_t lock;           /* guards what follows */
	pthread_cond_t changed;
	unsigned active;                /* client threads running */
	time_t last_activity;
	bool flushing;                  /* a queue run is going on */
	bool flush_wanted;              /* run the queue once more */
	bool flush_force;               /* ... every entry, not only the due ones */
	time_t last_forced;             /* when a forced run was last asked for */
	pthread_mutex_t parse_lock;     /* getopt has global state */
	pthread_mutex_t accounts_lock;  /* loading a slot of others */
	struct served_account *others;  /* one slot per account of cfg; NULL unless account_by_sender */
};

/* What serves one message: an account, its secret, and its warm
 * sessions (NULL: a connection of its own). */
struct served {
	const struct account *acct;
	const struct secret *secret;
	struct pool *pool;
};

struct service_client {
	struct service *svc;
	int fd;
};

/* The accounts a sender may choose: none unless the system file sets
 * account_by_sender. */
bool service_accounts_init(struct service *svc, struct result *r);
void service_accounts_free(struct service *svc);

/* The [service] account, or with account_by_sender the account the
 * message's envelope sender chooses (-f as the service allows it, or
 * From: with -t or envelope_from = header); its secret is read when the
 * account is first chosen.  False: r says why (the secret could not be
 * read: the message is not taken). */
bool service_account_for(struct service *svc, const struct options *opts, const struct message *msg,
			 struct served *out, struct result *r);

/* Thread body for one client; frees arg and closes its descriptor. */
void *service_client_main(void *arg);

/* Start a queue run in the background unless one is going on (then it
 * runs again when that one ends).  force: every entry, not only due ones. */
void service_request_flush(struct service *svc, bool force);

/* Run the queue now in this thread (FLUSH of a client); r (may be NULL)
 * gets the outcome of the run. */
void service_flush_now(struct service *svc, bool force, struct result *r);

#endif
