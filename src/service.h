/* relaymail --serve: the system service.
 *
 * Runs as the service user (relaymail), holds the system account's secret
 * and writes the system queue.  It takes its listening Unix socket from
 * systemd (socket activation, Accept=no: LISTEN_FDS/LISTEN_PID) or opens
 * [service] socket itself.  Each client (any local user) is identified by
 * SO_PEERCRED only; [service] allowed_users and allow_from_override decide
 * what it may do.  Messages go through a pool of warm relay sessions
 * (pool.h) and the shared fate of a message (submit.h); the client gets its
 * answer only once the message was delivered or durably queued.
 * Protocol: service_proto.h.  Returns on SIGTERM/SIGINT, or after
 * service_idle seconds without clients when socket-activated.
 */
#ifndef RELAYMAIL_SERVICE_H
#define RELAYMAIL_SERVICE_H

#include <stdbool.h>

#include "config.h"
#include "result.h"

bool service_run(const struct config *cfg, bool verbose, struct result *r);

/* The system queue and failed-mail store of the service's account: its
 * queue_dir / failed_dir, else under /var/spool/relaymail. */
void service_queue_dirs(const struct account *acct, char *queue_dir, char *failed_dir, size_t size);

#endif
