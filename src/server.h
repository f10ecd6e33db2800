/* -bs: an SMTP server on a pair of descriptors (stdin/stdout) for
 * Symfony's and Laravel's sendmail transport.
 *
 * Each message is relayed synchronously through the same pipeline as the
 * pipe mode (message_read -> envelope_build -> deliver) before the reply to
 * the end of DATA, so the client sees the relay's real 4xx/5xx reply.  It
 * never offers AUTH or STARTTLS: the peer is a local process.  Returns when
 * the client quits or closes its side; false only for local errors (r).
 */
#ifndef RELAYMAIL_SERVER_H
#define RELAYMAIL_SERVER_H

#include "config.h"
#include "options.h"
#include "result.h"

#define SERVER_LINE_MAX 4096

/* service: system mode, each message goes to relaymail --serve (acct may
 * then be NULL); NULL: relayed by this process with acct, or, when cfg has
 * account_by_sender and no --account was given, with the account that each
 * MAIL FROM chooses (cfg may be NULL: acct for every message). */
bool server_run(const struct options *opts, const struct config *cfg, const struct account *acct,
		const struct service_config *service, int in_fd, int out_fd, struct result *r);

/* Before an account is known: greet with 421 and the reason, then return. */
void server_refuse(int out_fd, const char *reason);

#endif
