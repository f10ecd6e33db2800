/* Inside the queue: one entry (see the format at the top of queue.c) and
 * the helpers queue.c (storing, listing) and queue_flush.c (delivering)
 * share.  Not a public interface. */
#ifndef RELAYMAIL_QUEUE_ENTRY_H
#define RELAYMAIL_QUEUE_ENTRY_H

#include <stdio.h>
#include <sys/types.h>

#include "envelope.h"
#include "queue.h"
#include "result.h"

struct entry {
	char id[QUEUE_ID_MAX];
	char *account;
	struct envelope env;    /* sender, recipients, domain and flags */
	char *dsn[3];           /* notify, ret, envid (owned; env points here) */
	long long created, next;
	unsigned attempts;
	char *last_error;
	char *message_id;
	off_t size;
};

struct entry_list {
	struct entry *items;
	size_t n;
};

void queue_entry_free(struct entry *e);

/* Rewrite <dir>/<id>.env atomically. */
bool queue_entry_save(const char *dir, const struct entry *e, struct result *r);

bool queue_entry_set_error(struct entry *e, const char *reason);

/* Seconds until the next attempt after `attempts` attempts (with jitter). */
long long queue_backoff(unsigned attempts);

/* Every complete entry of dir, by account then age; damaged ones skipped. */
bool queue_scan(const char *dir, struct entry_list *list, struct result *r);

void queue_list_free(struct entry_list *list);

bool queue_fsync_dir(const char *dir);

#endif
