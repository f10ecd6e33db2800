#include "autoconfig.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "deliver.h"
#include "i18n.h"
#include "log.h"
#include "pool.h"

/* After throttling, the pool tries one more session again after this. */
#define POOL_REGROW_S 30

struct slot {
	struct conn conn;
	struct smtp_session *session;
	struct smtp_outcome open_out;   /* smtp_open()'s outcome, as long as the session */
	bool open;                      /* a session exists (or is being opened) */
	bool ready;                     /* ... and has been opened */
	bool busy;                      /* a thread owns the slot */
	struct timespec last_used;
};

struct pool {
	struct pool_params p;
	pthread_mutex_t lock;
	pthread_cond_t freed;
	unsigned limit;                 /* max_sessions, or fewer after throttling */
	struct timespec throttled_at;   /* or when the limit last grew again */
	unsigned n_open;                /* slots open, the ones being opened included */
	unsigned n_ready;               /* slots open and opened */
	struct slot *slots;
};

/* Whole seconds elapsed, rounded down: not the difference of the seconds
 * fields, which calls 10 ms "1 second" across a second boundary. */
static long seconds_since(const struct timespec *t)
{
	struct timespec now;
	long long ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (long long)(now.tv_sec - t->tv_sec) * 1000000000LL + (now.tv_nsec - t->tv_nsec);
	return (long)(ns / 1000000000LL);
}

bool pool_new(const struct pool_params *params, struct pool **pool, struct result *r)
{
	struct pool *p = calloc(1, sizeof *p);

	if (p == NULL || params->max_sessions == 0 ||
	    (p->slots = calloc(params->max_sessions, sizeof *p->slots)) == NULL) {
		free(p);
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	}
	p->p = *params;
	p->limit = params->max_sessions;
	for (unsigned i = 0; i < params->max_sessions; i++)
		p->slots[i].conn.fd = -1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->freed, NULL);
	*pool = p;
	return true;
}

/* An idle session whose socket is readable has been closed by the relay
 * or carries an unsolicited reply (421 before an idle close): not usable. */
static bool went_stale(const struct slot *s)
{
	struct pollfd pfd = { .fd = s->conn.fd, .events = POLLIN };

	return !smtp_session_usable(s->session) || poll(&pfd, 1, 0) != 0;
}

static void close_slot(struct slot *s)
{
	smtp_close(s->session);
	s->session = NULL;
	conn_close(&s->conn);
	s->conn.fd = -1;
}

/* Under the lock: mark a slot that is being closed free again. */
static void slot_closed(struct pool *p, struct slot *s)
{
	if (s->ready)
		p->n_ready--;
	s->open = false;
	s->ready = false;
	s->busy = false;
	p->n_open--;
	pthread_cond_broadcast(&p->freed);
}

static void close_outside_lock(struct pool *p, struct slot *s)
{
	pthread_mutex_unlock(&p->lock);
	close_slot(s);
	pthread_mutex_lock(&p->lock);
	slot_closed(p, s);
}

/* Under the lock: an idle warm session, a reserved empty slot (*fresh), or
 * NULL when the caller must wait. */
static struct slot *take_slot(struct pool *p, bool *fresh)
{
	struct slot *empty = NULL;

	for (unsigned i = 0; i < p->p.max_sessions; i++) {
		struct slot *s = &p->slots[i];

		if (s->busy)
			continue;
		if (s->open) {
			s->busy = true;
			if (!went_stale(s)) {
				*fresh = false;
				return s;
			}
			close_outside_lock(p, s);
			i = (unsigned)-1;       /* the slots may have changed: look again */
			empty = NULL;
			continue;
		}
		if (empty == NULL)
			empty = s;
	}
	if (p->limit < p->p.max_sessions && seconds_since(&p->throttled_at) >= POOL_REGROW_S) {
		p->limit++;     /* one more, and the next one POOL_REGROW_S later */
		clock_gettime(CLOCK_MONOTONIC, &p->throttled_at);
	}
	if (empty == NULL || p->n_open >= p->limit)
		return NULL;
	empty->open = empty->busy = true;
	p->n_open++;
	*fresh = true;
	return empty;
}

static bool open_slot(struct pool *p, struct slot *s, const struct envelope *env, struct result *r)
{
	memset(&s->open_out, 0, sizeof s->open_out);
	s->conn.fd = -1;
	if (deliver_connect(p->p.acct, p->p.verbose, &s->conn, r) &&
	    smtp_open(&s->conn, p->p.acct, p->p.secret, env->domain, &s->session, &s->open_out, r))
		return true;
	close_slot(s);
	return false;
}

/* Under the lock, after a new connection was refused temporarily while
 * others are open or being opened: throttling (the relay serves other
 * sessions of ours) or down?  The pool opens nothing new meanwhile; the
 * sessions being opened decide.  Throttling: the pool keeps to the ones it
 * has.  Down (none could be opened): no limit from this, the caller gives up. */
static bool throttled(struct pool *p)
{
	p->limit = p->n_open;
	clock_gettime(CLOCK_MONOTONIC, &p->throttled_at);
	while (p->n_ready == 0 && p->n_open > 0)
		pthread_cond_wait(&p->freed, &p->lock);
	if (p->n_ready == 0) {
		p->limit = p->p.max_sessions;
		return false;
	}
	p->limit = p->n_open;
	return true;
}

/* A session to send on, opened if need be; NULL with r set when none can be
 * had.  A temporary refusal of a new connection while other sessions are
 * open is throttling: the pool shrinks and the caller waits for those. */
static struct slot *acquire(struct pool *p, const struct envelope *env, bool *fresh,
			    struct result *r)
{
	struct slot *s;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while ((s = take_slot(p, fresh)) == NULL)
			pthread_cond_wait(&p->freed, &p->lock);
		if (!*fresh)
			break;
		pthread_mutex_unlock(&p->lock);
		if (open_slot(p, s, env, r)) {
			pthread_mutex_lock(&p->lock);
			s->ready = true;
			p->n_ready++;
			pthread_cond_broadcast(&p->freed);      /* for throttled() */
			break;
		}
		pthread_mutex_lock(&p->lock);
		slot_closed(p, s);
		if (r->cls != RESULT_TEMPFAIL || p->n_open == 0 || !throttled(p)) {
			s = NULL;
			break;
		}
		log_warn(_("relay %s refused another connection (%s); using the %u open session(s)"),
			 p->p.acct->host, r->msg, p->n_open);
	}
	pthread_mutex_unlock(&p->lock);
	return s;
}

static void release(struct pool *p, struct slot *s)
{
	pthread_mutex_lock(&p->lock);
	clock_gettime(CLOCK_MONOTONIC, &s->last_used);
	if (!smtp_session_usable(s->session)) {
		close_outside_lock(p, s);
	} else {
		s->busy = false;
		pthread_cond_broadcast(&p->freed);
	}
	pthread_mutex_unlock(&p->lock);
}

bool pool_send(struct pool *p, const struct envelope *env, const struct message *msg,
	       struct smtp_outcome *out, struct result *r)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh, ok, broke;
		struct slot *s = acquire(p, env, &fresh, r);

		if (s == NULL) {
			memset(out, 0, sizeof *out);
			return false;
		}
		result_clear(r);
		ok = smtp_send(s->session, env, msg, false, out, r);
		broke = !smtp_session_usable(s->session);
		release(p, s);
		/* A warm session that broke before the relay saw any of the
		 * message is retried once on a new one: nothing can be sent twice.
		 * A refusal the relay answered is its answer, not retried. */
		if (ok || fresh || !broke || r->cls != RESULT_TEMPFAIL || out->content_sent)
			return ok;
	}
	return false;
}

unsigned pool_reap(struct pool *p)
{
	unsigned open;

	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < p->p.max_sessions; i++) {
		struct slot *s = &p->slots[i];

		if (s->open && !s->busy && seconds_since(&s->last_used) >= (long)p->p.idle_s) {
			s->busy = true;
			close_outside_lock(p, s);
		}
	}
	open = p->n_open;
	pthread_mutex_unlock(&p->lock);
	return open;
}

void pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	for (unsigned i = 0; i < p->p.max_sessions; i++) {
		if (p->slots[i].open)
			close_slot(&p->slots[i]);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->freed);
	free(p->slots);
	free(p);
}
