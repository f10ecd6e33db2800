#include "autoconfig.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deliver.h"
#include "i18n.h"
#include "log.h"
#include "notice.h"
#include "queue.h"
#include "submit.h"

#define FALLBACK_CHAIN_MAX 8

static void notify(const struct submit_ctx *ctx, bool is_error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void notify(const struct submit_ctx *ctx, bool is_error, const char *fmt, ...)
{
	char text[RESULT_MSG_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (ctx->notify != NULL)
		ctx->notify(ctx->notify_arg, is_error, text);
	else if (is_error)
		log_error("%s", text);
	else
		log_warn("%s", text);
}

static bool attempt(const struct submit_ctx *ctx, const struct account *acct,
		    const struct secret *secret, const struct envelope *env,
		    const struct message *msg, struct smtp_outcome *out, struct result *r)
{
	struct timespec start;

	if (ctx->pool == NULL || acct != ctx->acct)
		return deliver(acct, secret, env, msg, ctx->verbose, ctx->log, out, r);
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (!pool_send(ctx->pool, env, msg, out, r))
		return false;
	deliver_log(ctx->log, acct, env, msg, out, &start);
	return true;
}

/* fallback = ACCOUNT: on a temporary failure (the relay has not taken the
 * message) the next account of the chain is tried before queueing.  A
 * permanent refusal never fails over, so nothing is sent twice. */
static void try_fallbacks(const struct submit_ctx *ctx, const struct envelope *env,
			  const struct message *msg, struct smtp_outcome *outcome,
			  struct result *r)
{
	const struct account *first = ctx->acct;
	const char *next = first->fallback;

	for (int hop = 0; next != NULL && r->cls == RESULT_TEMPFAIL; hop++) {
		struct account alt;
		struct secret secret = { NULL, 0, NULL };
		struct result tried;

		result_clear(&tried);
		if (hop == FALLBACK_CHAIN_MAX || strcmp(next, first->name) == 0) {
			notify(ctx, false, _("fallback chain of account '%s' is too long or loops"), first->name);
			return;
		}
		if (!config_account_resolve(ctx->cfg, next, &alt, &tried) ||
		    !credentials_get(&alt, &secret, &tried)) {
			notify(ctx, false, _("fallback account '%s' unusable: %s"), next, tried.msg);
			return;
		}
		notify(ctx, false, _("%s; trying fallback account '%s'"), r->msg, alt.name);
		if (attempt(ctx, &alt, &secret, env, msg, outcome, &tried))
			result_clear(r);
		else if (tried.cls != RESULT_TEMPFAIL)
			*r = tried;     /* a permanent answer ends the chain */
		else
			snprintf(r->msg, sizeof r->msg, "%s", tried.msg);
		secret_wipe(&secret);
		next = alt.fallback;
	}
}

/* "<reason>; message kept in <file>" on one line: the file name matters
 * most, so the reason is shortened if need be. */
static void append_kept(struct result *r, const char *kept)
{
	char note[PATH_MAX + 32];
	size_t room = sizeof r->msg - 1, used = strlen(r->msg), need;

	snprintf(note, sizeof note, _("message kept in %s"), kept);
	need = strlen(note) + 2;
	if (need > room)
		need = room;
	if (used + need > room)
		used = room - need;
	memcpy(r->msg + used, "; ", 2);
	memcpy(r->msg + used + 2, note, need - 2);
	r->msg[used + need] = '\0';
}

static bool directories(const struct submit_ctx *ctx, char *queue_dir, char *failed_dir,
			size_t size, struct result *r)
{
	if (ctx->queue_dir != NULL && ctx->failed_dir != NULL) {
		snprintf(queue_dir, size, "%s", ctx->queue_dir);
		snprintf(failed_dir, size, "%s", ctx->failed_dir);
		return true;
	}
	return queue_paths(ctx->acct, queue_dir, failed_dir, size, r);
}

/* Nowhere to keep it: the caller must (non-zero status), and is told why. */
static void not_kept(struct result *r, const char *why)
{
	char reason[RESULT_MSG_MAX];

	snprintf(reason, sizeof reason, "%s", r->msg);
	snprintf(r->msg, sizeof r->msg, _("%s; the message was not kept: %s"), reason, why);
}

/* No message is lost: a temporary failure goes to the queue (and counts as
 * success, as sendmail's callers expect); anything else is kept in the
 * failed-mail store, and the error line says where.  kept receives the
 * failed-mail file ("" when queued or not kept); false: not kept at all. */
static bool keep_message(const struct submit_ctx *ctx, const struct envelope *env,
			 const struct message *msg, struct result *r, char *kept, size_t kept_size)
{
	char queue_dir[PATH_MAX], failed_dir[PATH_MAX], id[QUEUE_ID_MAX];
	char msgid[256];
	struct result store;
	struct event e = {
		.kind = "failed", .env = env, .acct = ctx->acct,
		.size = (long long)message_wire_size(msg), .reply = r->msg,
		.message_id = message_id(msg, msgid, sizeof msgid),
	};

	*kept = '\0';
	result_clear(&store);
	if (!directories(ctx, queue_dir, failed_dir, sizeof queue_dir, &store)) {
		eventlog_write(ctx->log, &e);
		not_kept(r, store.msg);
		return false;
	}
	if (r->cls == RESULT_TEMPFAIL && ctx->acct->queue) {
		if (queue_store(queue_dir, ctx->acct, env, msg, ctx->local_user, r->msg, id, sizeof id,
				&store)) {
			if (ctx->report != NULL)
				ctx->report->queued = true;
			if (!ctx->quiet)
				notify(ctx, false, _("%s; message queued as %s, relaymail -q will retry"), r->msg, id);
			e.kind = "queued";
			e.queue_id = id;
			eventlog_write(ctx->log, &e);
			result_clear(r);
			return true;
		}
		notify(ctx, true, _("cannot queue the message: %s"), store.msg);
	}
	eventlog_write(ctx->log, &e);
	if (queue_keep_failed(failed_dir, env, msg, r->msg, kept, kept_size, &store)) {
		append_kept(r, kept);
		return true;
	}
	*kept = '\0';
	notify(ctx, true, _("cannot keep the message: %s"), store.msg);
	return false;
}

void submit_keep(const struct submit_ctx *ctx, const struct envelope *env,
		 const struct message *msg, struct result *r)
{
	char kept[PATH_MAX];

	keep_message(ctx, env, msg, r, kept, sizeof kept);
}

/* Recipients with status cls (4 or 5) in the outcome, as a shallow copy of
 * env whose recipient list the caller frees. */
static bool refused_part(const struct envelope *env, const struct smtp_outcome *out, int cls,
			 struct envelope *part, struct result *r)
{
	*part = *env;
	memset(&part->recipients, 0, sizeof part->recipients);
	for (size_t i = 0; i < env->recipients.n && i < SMTP_MAX_STATUS; i++) {
		if (out->rcpt_status[i] == cls && !address_list_add(&part->recipients, env->recipients.items[i], r))
			return false;
	}
	return true;
}

/* The relay's reply to recipient i (its own when kept, else a plain line). */
static const char *refusal_text(const struct smtp_outcome *out, size_t i, const char *rcpt,
				char *buf, size_t size)
{
	for (size_t k = 0; k < out->n_refusals && k < SMTP_REFUSALS_KEPT; k++) {
		if (out->refusals[k].rcpt == i)
			return out->refusals[k].text;
	}
	snprintf(buf, size, _("RCPT TO:<%s>: refused permanently"), rcpt);
	return buf;
}

static const char *spool_dir(const struct submit_ctx *ctx)
{
	const char *tmp = getenv("TMPDIR");

	if (ctx->queue_dir != NULL)
		return ctx->queue_dir;  /* the service: its own private directory */
	return tmp != NULL && *tmp != '\0' ? tmp : "/tmp";
}

/* The notice of notice.h about the refused recipients, through the same
 * account (a warm session of the service, or a connection of its own).
 * Sent once: a failure is reported and logged, never queued. */
static void send_notice(const struct submit_ctx *ctx, const struct notice_about *about,
			const char *to)
{
	struct notice n;
	struct smtp_outcome out;
	struct result r;

	result_clear(&r);
	if (notice_build(about, to, spool_dir(ctx), &n, &r) &&
	    attempt(ctx, ctx->acct, ctx->secret, &n.env, &n.msg, &out, &r)) {
		if (!ctx->quiet)
			notify(ctx, false, _("a notice of the refused recipients went to <%s>"), to);
	} else if (ctx->quiet) {
		log_error_quiet(_("the notice to <%s> could not be sent: %s"), to, r.msg);
	} else {
		notify(ctx, true, _("the notice to <%s> could not be sent: %s"), to, r.msg);
	}
	notice_free(&n);
}

/* The relay took the message for some recipients and refused the others
 * permanently: as Postfix and dma report it, the message was accepted
 * (r stays OK), each refused recipient is named with the relay's reply,
 * the copy for them is kept in the failed-mail store and the sender gets a
 * notice.  Only when that copy cannot be kept is r a failure (the caller
 * then keeps the message). */
static void report_refused(const struct submit_ctx *ctx, const struct envelope *env,
			   const struct envelope *refused, const struct message *msg,
			   const struct smtp_outcome *out, struct result *r)
{
	struct notice_failure failed[SMTP_REFUSALS_KEPT];
	char lines[SMTP_REFUSALS_KEPT][RESULT_MSG_MAX], kept[PATH_MAX];
	size_t delivered = env->recipients.n - out->n_rejected, n = 0;
	struct result copy;
	const char *to;

	for (size_t i = 0; i < env->recipients.n && i < SMTP_MAX_STATUS; i++) {
		char buf[RESULT_MSG_MAX];
		const char *text;

		if (out->rcpt_status[i] != 5)
			continue;
		text = refusal_text(out, i, env->recipients.items[i], buf, sizeof buf);
		if (!ctx->quiet)
			notify(ctx, false, "%s", text);
		if (n < SMTP_REFUSALS_KEPT) {
			snprintf(lines[n], sizeof lines[n], "%s", text);
			failed[n].rcpt = env->recipients.items[i];
			failed[n].error = lines[n];
			n++;
		}
	}
	result_fail(&copy, RESULT_NOUSER,
		    ngettext("%zu refused; delivered to the other recipient",
			     "%zu refused; delivered to the %zu other recipients", delivered),
		    refused->recipients.n, delivered);
	if (!keep_message(ctx, refused, msg, &copy, kept, sizeof kept)) {
		*r = copy;      /* nowhere to keep it: the caller must */
		return;
	}
	if (!ctx->quiet)
		notify(ctx, false, "%s", copy.msg);
	to = notice_recipient(ctx->acct, refused, msg);
	if (to != NULL) {
		struct notice_about about = {
			.env = refused, .msg = msg, .failed = failed, .n_failed = n,
			.reason = out->rejection, .kept = kept[0] ? kept : NULL,
		};

		send_notice(ctx, &about, to);
	}
}

/* Some recipients were refused and the message went to the others.  The
 * temporarily refused ones are queued alone; the permanently refused ones
 * are reported (report_refused()). */
static void handle_partial(const struct submit_ctx *ctx, const struct envelope *env,
			   const struct message *msg, const struct smtp_outcome *out,
			   struct result *r)
{
	struct envelope later, refused;
	struct result temp;

	memset(&later, 0, sizeof later);
	memset(&refused, 0, sizeof refused);
	if (!refused_part(env, out, 4, &later, r) || !refused_part(env, out, 5, &refused, r))
		goto out;
	if (later.recipients.n > 0) {
		result_fail(&temp, RESULT_TEMPFAIL, "%s", out->temp_rejection);
		submit_keep(ctx, &later, msg, &temp);
		if (temp.cls != RESULT_OK)
			*r = temp;
	}
	if (refused.recipients.n > 0)
		report_refused(ctx, env, &refused, msg, out, r);
out:
	address_list_free(&later.recipients);
	address_list_free(&refused.recipients);
}

void submit_refused(const struct submit_ctx *ctx, const struct envelope *env,
		    const struct message *msg, const struct smtp_outcome *outcome, struct result *r)
{
	if (r->cls == RESULT_OK && outcome->n_rejected > 0)
		handle_partial(ctx, env, msg, outcome, r);
}

void submit_message(const struct submit_ctx *ctx, const struct envelope *env,
		    const struct message *msg, struct smtp_outcome *outcome, struct result *r)
{
	if (!attempt(ctx, ctx->acct, ctx->secret, env, msg, outcome, r))
		try_fallbacks(ctx, env, msg, outcome, r);
	if (r->cls == RESULT_OK && outcome->n_rejected > 0)
		submit_refused(ctx, env, msg, outcome, r);
	else if (r->cls != RESULT_OK)
		submit_keep(ctx, env, msg, r);
}
