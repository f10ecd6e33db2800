/* relaymail --serve: the listening socket, the client threads, the warm
 * session pool and the queue schedule (see service.h). */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "i18n.h"
#include "log.h"
#include "queue.h"
#include "service.h"
#include "service_internal.h"

#define LISTEN_FDS_START 3
#define TICK_MS 1000
#define FORCED_FLUSH_GAP_S 60

/* systemd's protocol (sd_listen_fds(3)): one socket as fd 3, for us. */
static int activated_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct stat st;

	if (pid == NULL || fds == NULL || strtol(pid, NULL, 10) != (long)getpid() ||
	    strcmp(fds, "1") != 0)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (fstat(LISTEN_FDS_START, &st) != 0 || !S_ISSOCK(st.st_mode))
		return -1;
	fcntl(LISTEN_FDS_START, F_SETFD, FD_CLOEXEC);
	return LISTEN_FDS_START;
}

static bool socket_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used = fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0;

	if (fd >= 0)
		close(fd);
	return used;
}

/* Without systemd: bind the socket ourselves.  A stale socket file of an
 * earlier run is replaced; anything else at that path is left alone. */
static int own_socket(const char *path, struct result *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			result_fail(r, RESULT_CANTCREAT, _("%s exists and is not a socket"), path);
			return -1;
		}
		if (socket_in_use(&sa)) {
			result_fail(r, RESULT_CANTCREAT, _("%s is in use by another service"), path);
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    chmod(path, 0666) != 0 || listen(fd, 128) != 0) {
		result_fail(r, RESULT_CANTCREAT, _("cannot listen on %s: %s"), path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void *flush_thread(void *arg)
{
	struct service *svc = arg;
	bool force;

	pthread_mutex_lock(&svc->lock);
	while (svc->flush_wanted) {
		force = svc->flush_force;
		svc->flush_wanted = false;
		svc->flush_force = false;
		pthread_mutex_unlock(&svc->lock);
		service_flush_now(svc, force, NULL);
		pthread_mutex_lock(&svc->lock);
	}
	svc->flushing = false;
	svc->last_activity = time(NULL);
	pthread_cond_broadcast(&svc->changed);
	pthread_mutex_unlock(&svc->lock);
	return NULL;
}

void service_flush_now(struct service *svc, bool force, struct result *out)
{
	struct result r;
	/* A client's FLUSH (out != NULL) waits for a run that holds the queue:
	 * that one may have scanned before the entries the client means. */
	struct queue_flush_opts opts = {
		.force = force, .verbose = svc->verbose, .failed_dir = svc->failed_dir,
		.pool = svc->pool, .pool_account = svc->acct.name, .wait_for_lock = out != NULL,
	};

	result_clear(&r);
	if (!queue_is_empty(svc->queue_dir) &&
	    !queue_flush_with(svc->cfg, svc->queue_dir, &opts, &r))
		log_error(_("service: queue run failed: %s"), r.msg);
	if (out != NULL)
		*out = r;
}

void service_request_flush(struct service *svc, bool force)
{
	pthread_t t;

	if (queue_is_empty(svc->queue_dir))
		return;
	pthread_mutex_lock(&svc->lock);
	/* "The relay is back" is news once a minute: entries that keep failing
	 * for reasons of their own must not be retried after every message. */
	if (force && time(NULL) - svc->last_forced < FORCED_FLUSH_GAP_S)
		force = false;
	if (force)
		svc->last_forced = time(NULL);
	svc->flush_wanted = true;
	svc->flush_force = svc->flush_force || force;
	if (!svc->flushing && pthread_create(&t, NULL, flush_thread, svc) == 0) {
		svc->flushing = true;
		pthread_detach(t);
	}
	pthread_mutex_unlock(&svc->lock);
}

static bool start_client(struct service *svc, int listen_fd)
{
	struct service_client *c;
	pthread_t t;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return errno == EINTR || errno == EAGAIN || errno == ECONNABORTED;
	c = malloc(sizeof *c);
	if (c == NULL) {
		close(fd);
		return true;
	}
	c->svc = svc;
	c->fd = fd;
	pthread_mutex_lock(&svc->lock);
	svc->active++;
	pthread_mutex_unlock(&svc->lock);
	if (pthread_create(&t, NULL, service_client_main, c) != 0) {
		close(fd);
		free(c);
		pthread_mutex_lock(&svc->lock);
		svc->active--;
		pthread_mutex_unlock(&svc->lock);
		return true;
	}
	pthread_detach(t);
	return true;
}

/* Under the lock: time to exit because nobody came for a while? */
static bool idle_for_long(const struct service *svc, bool activated)
{
	return activated && svc->sc->service_idle > 0 && svc->active == 0 && !svc->flushing &&
	       time(NULL) - svc->last_activity >= (time_t)svc->sc->service_idle;
}

static void wait_for_clients(struct service *svc)
{
	pthread_mutex_lock(&svc->lock);
	while (svc->active > 0 || svc->flushing)
		pthread_cond_wait(&svc->changed, &svc->lock);
	pthread_mutex_unlock(&svc->lock);
}

static void serve(struct service *svc, int listen_fd, int signal_fd, bool activated)
{
	time_t next_run = time(NULL);

	for (;;) {
		struct pollfd pfd[2] = { { .fd = signal_fd, .events = POLLIN },
					 { .fd = listen_fd, .events = POLLIN } };
		bool full, idle;

		pthread_mutex_lock(&svc->lock);
		full = svc->active >= svc->sc->max_clients;
		idle = idle_for_long(svc, activated);
		pthread_mutex_unlock(&svc->lock);
		if (idle)
			break;
		/* At max_clients, the others wait in the socket's backlog. */
		if (poll(pfd, full ? 1 : 2, TICK_MS) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			break;
		if (!full && (pfd[1].revents & POLLIN) && !start_client(svc, listen_fd))
			break;
		pool_reap(svc->pool);
		if (time(NULL) >= next_run) {
			service_request_flush(svc, false);
			next_run = time(NULL) + (time_t)svc->sc->retry_interval;
		}
	}
	wait_for_clients(svc);
}

static bool prepare(struct service *svc, const struct config *cfg, bool verbose, struct result *r)
{
	struct pool_params pp;

	memset(svc, 0, sizeof *svc);
	svc->cfg = cfg;
	svc->sc = &cfg->service;
	svc->verbose = verbose;
	svc->last_activity = time(NULL);
	if (!config_account_resolve(cfg, cfg->service.account, &svc->acct, r))
		return false;
	service_queue_dirs(&svc->acct, svc->queue_dir, svc->failed_dir, sizeof svc->queue_dir);
	if (!queue_prepare_dir(svc->queue_dir, r) || !queue_prepare_dir(svc->failed_dir, r))
		return false;
	/* The one secret: read once, kept for the warm sessions. */
	if (!credentials_get(&svc->acct, &svc->secret, r))
		return false;
	pp.acct = &svc->acct;
	pp.secret = &svc->secret;
	pp.max_sessions = cfg->service.max_sessions;
	pp.idle_s = cfg->service.session_idle;
	pp.verbose = verbose;
	if (!pool_new(&pp, &svc->pool, r))
		return false;
	pthread_mutex_init(&svc->lock, NULL);
	pthread_mutex_init(&svc->parse_lock, NULL);
	pthread_cond_init(&svc->changed, NULL);
	return service_accounts_init(svc, r);
}

void service_queue_dirs(const struct account *acct, char *queue_dir, char *failed_dir, size_t size)
{
	snprintf(queue_dir, size, "%s", acct->queue_dir ? acct->queue_dir : SERVICE_DEFAULT_SPOOL "/queue");
	snprintf(failed_dir, size, "%s",
		 acct->failed_dir ? acct->failed_dir : SERVICE_DEFAULT_SPOOL "/failed");
}

bool service_run(const struct config *cfg, bool verbose, struct result *r)
{
	struct service svc;
	sigset_t stop;
	int listen_fd, signal_fd = -1;
	bool activated, prepared, ok = false;

	if (!cfg->service.present)
		return result_fail(r, RESULT_CONFIG, _("the system file has no [service] section"));
	prepared = prepare(&svc, cfg, verbose, r);
	if (!prepared)
		goto out;
	listen_fd = activated_socket();
	activated = listen_fd >= 0;
	if (!activated && (listen_fd = own_socket(config_service_socket(&cfg->service), r)) < 0)
		goto out;
	/* Every thread inherits the mask: the signals arrive only here. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal_fd = signalfd(-1, &stop, SFD_CLOEXEC);
	if (signal_fd < 0) {
		result_fail(r, RESULT_OSERR, _("signalfd: %s"), strerror(errno));
		goto out;
	}
	log_info(_("service: serving account '%s' on %s (%s)"), svc.acct.name,
		 config_service_socket(&cfg->service), activated ? _("socket activation") : _("own socket"));
	serve(&svc, listen_fd, signal_fd, activated);
	close(listen_fd);
	if (!activated)
		unlink(config_service_socket(&cfg->service));
	ok = true;
out:
	if (signal_fd >= 0)
		close(signal_fd);
	if (prepared)
		service_accounts_free(&svc);
	pool_free(svc.pool);
	secret_wipe(&svc.secret);
	return ok;
}
