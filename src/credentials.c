#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "credentials.h"
#include "i18n.h"

extern char **environ;

void secret_wipe(struct secret *s)
{
	if (s->data != NULL) {
		explicit_bzero(s->data, SECRET_MAX + 1);
		free(s->data);
	}
	s->data = NULL;
	s->len = 0;
}

/* One trailing newline (LF or CRLF) is not part of the secret. */
static void trim_newline(struct secret *s)
{
	if (s->len > 0 && s->data[s->len - 1] == '\n')
		s->data[--s->len] = '\0';
	if (s->len > 0 && s->data[s->len - 1] == '\r')
		s->data[--s->len] = '\0';
}

static bool secret_alloc(struct secret *s, struct result *r)
{
	s->data = calloc(1, SECRET_MAX + 1);
	s->len = 0;
	if (s->data == NULL)
		return result_fail(r, RESULT_OSERR, _("out of memory"));
	return true;
}

static bool read_password_file(const struct account *acct, struct secret *s, struct result *r)
{
	const char *path = acct->password_file;
	struct stat st;
	bool ok = false;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return result_fail(r, RESULT_CONFIG, _("password_file %s: cannot open: %s"), path,
				   strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		result_fail(r, RESULT_CONFIG, _("password_file %s: not a regular file"), path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		result_fail(r, RESULT_CONFIG,
			    _("password_file %s: refusing a file that group or others can access (chmod 600)"),
			    path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		result_fail(r, RESULT_CONFIG, _("password_file %s: refusing a file owned by another user"),
			    path);
		goto out;
	}
	if (!secret_alloc(s, r))
		goto out;
	do {
		n = read(fd, s->data + s->len, SECRET_MAX + 1 - s->len);
		if (n > 0)
			s->len += (size_t)n;
	} while ((n > 0 && s->len <= SECRET_MAX) || (n < 0 && errno == EINTR));
	if (n < 0 || s->len > SECRET_MAX) {
		result_fail(r, RESULT_CONFIG, n < 0 ? _("password_file %s: cannot read") :
			    _("password_file %s: longer than 1024 bytes"), path);
		goto out;
	}
	s->data[s->len] = '\0';
	trim_newline(s);
	ok = true;
out:
	close(fd);
	if (!ok)
		secret_wipe(s);
	return ok;
}

/* Without shell syntax the command runs directly: no quoting surprises. */
static bool needs_shell(const char *cmd)
{
	return strpbrk(cmd, "|&;<>()$`\\\"'*?[]#~=%{}\n") != NULL;
}

static char **split_words(char *copy)
{
	size_t n = 0, cap = 8;
	char **argv = malloc(cap * sizeof *argv);
	char *save = NULL;

	if (argv == NULL)
		return NULL;
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n + 1 == cap) {
			char **grown = realloc(argv, (cap *= 2) * sizeof *argv);

			if (grown == NULL) {
				free(argv);
				return NULL;
			}
			argv = grown;
		}
		argv[n++] = w;
	}
	argv[n] = NULL;
	return argv;
}

static bool spawn_command(const char *cmd, int out_fd, pid_t *pid, struct result *r)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t defaults;
	char *copy = NULL, **argv = NULL;
	char sh[] = "sh", dash_c[] = "-c";
	char *sh_argv[] = { sh, dash_c, (char *)cmd, NULL };
	int err;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* The child must not read the message on our stdin. */
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	if (needs_shell(cmd)) {
		err = posix_spawn(pid, "/bin/sh", &fa, &attr, sh_argv, environ);
	} else {
		copy = strdup(cmd);
		argv = copy ? split_words(copy) : NULL;
		err = argv == NULL ? ENOMEM : argv[0] == NULL ? ENOENT
		      : posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(argv);
	free(copy);
	if (err != 0)
		return result_fail(r, RESULT_CONFIG, _("password_command: cannot run '%s': %s"), cmd,
				   strerror(err));
	return true;
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* Read the child's stdout until EOF, the size bound or the deadline. */
static bool read_command_output(int fd, struct secret *s, struct result *r)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += PASSWORD_COMMAND_TIMEOUT;
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		long left = ms_left(&deadline);
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0)
			return result_fail(r, RESULT_CONFIG, _("password_command: no answer within %d seconds"),
					   PASSWORD_COMMAND_TIMEOUT);
		n = read(fd, s->data + s->len, SECRET_MAX + 1 - s->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return result_fail(r, RESULT_CONFIG, _("password_command: read error: %s"),
					   strerror(errno));
		if (n == 0)
			return true;
		s->len += (size_t)n;
		if (s->len > SECRET_MAX)
			return result_fail(r, RESULT_CONFIG, _("password_command: output longer than 1024 bytes"));
	}
}

static bool run_password_command(const struct account *acct, struct secret *s, struct result *r)
{
	int pipefd[2] = { -1, -1 }, status = 0;
	pid_t pid = -1;
	bool ok = false;

	if (!secret_alloc(s, r))
		return false;
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		result_fail(r, RESULT_OSERR, _("cannot create a pipe: %s"), strerror(errno));
		goto out;
	}
	if (!spawn_command(acct->password_command, pipefd[1], &pid, r))
		goto out;
	close(pipefd[1]);
	pipefd[1] = -1;
	ok = read_command_output(pipefd[0], s, r);
	if (!ok)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ok && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		ok = false;
		if (WIFEXITED(status))
			result_fail(r, RESULT_CONFIG, _("password_command failed with exit status %d"),
				    WEXITSTATUS(status));
		else
			result_fail(r, RESULT_CONFIG, _("password_command was killed by signal %d"),
				    WTERMSIG(status));
	}
	if (ok) {
		s->data[s->len] = '\0';
		trim_newline(s);
		if (s->len == 0 || memchr(s->data, '\0', s->len) || strpbrk(s->data, "\r\n")) {
			ok = false;
			result_fail(r, RESULT_CONFIG, s->len == 0 ? _("password_command printed nothing")
				    : _("password_command printed more than one line"));
		}
	}
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (!ok)
		secret_wipe(s);
	return ok;
}

bool credentials_get(const struct account *acct, struct secret *out, struct result *r)
{
	out->data = NULL;
	out->len = 0;
	if (acct->user == NULL)
		return true;
	if (acct->password_command != NULL)
		return run_password_command(acct, out, r);
	if (acct->password_file != NULL)
		return read_password_file(acct, out, r);
	return result_fail(r, RESULT_CONFIG,
			   _("account '%s' sets user but no password source: set password_command or password_file"),
			   acct->name);
}
