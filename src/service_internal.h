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
#include "pool.h"

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
};

struct service_client {
	struct service *svc;
	int fd;
};

/* Thread body for one client; frees arg and closes its descriptor. */
void *service_client_main(void *arg);

/* Start a queue run in the background unless one is going on (then it
 * runs again when that one ends).  force: every entry, not only due ones. */
void service_request_flush(struct service *svc, bool force);

/* Run the queue now in this thread (FLUSH of a client); r (may be NULL)
 * gets the outcome of the run. */
void service_flush_now(struct service *svc, bool force, struct result *r);

#endif
