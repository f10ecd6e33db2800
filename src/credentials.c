#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "credentials.h"
#include "i18n.h"
#include "keyring.h"
#include "log.h"
#include "oauth.h"

extern char **environ;

/* Before a secret is in memory: no core file and no ptrace or /proc/PID/mem
 * access by other processes of the same user.  Children start dumpable
 * again at exec, but keep RLIMIT_CORE 0. */
static void protect_process(void)
{
	struct rlimit none = { 0, 0 };

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &none);
}

void secret_wipe(struct secret *s)
{
	if (s->data != NULL) {
		explicit_bzero(s->data, SECRET_MAX + 1);
		free(s->data);
	}
	s->data = NULL;
	s->len = 0;
	oauth_close(s->oauth);
	s->oauth = NULL;
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

bool secret_set(struct secret *s, const char *data, size_t len, struct result *r)
{
	if (len > SECRET_MAX)
		return result_fail(r, RESULT_PROTOCOL, _("a secret longer than %d bytes"), SECRET_MAX);
	if (!secret_alloc(s, r))
		return false;
	memcpy(s->data, data, len);
	s->len = len;
	return true;
}

/* Read a secret file.  private_file: it must be ours and closed to group
 * and others (systemd credentials are managed by systemd instead). */
bool credentials_from_file(const char *key, const char *path, bool private_file,
			     struct secret *s, struct result *r)
{
	struct stat st;
	bool ok = false;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return result_fail(r, RESULT_CONFIG, _("%s %s: cannot open: %s"), key, path,
				   strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		result_fail(r, RESULT_CONFIG, _("%s %s: not a regular file"), key, path);
		goto out;
	}
	if (private_file && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		result_fail(r, RESULT_CONFIG,
			    _("%s %s: refusing a file that group or others can access (chmod 600)"),
			    key, path);
		goto out;
	}
	if (private_file && st.st_uid != geteuid()) {
		result_fail(r, RESULT_CONFIG, _("%s %s: refusing a file owned by another user"),
			    key, path);
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
		result_fail(r, RESULT_CONFIG, n < 0 ? _("%s %s: cannot read") :
			    _("%s %s: longer than 1024 bytes"), key, path);
		goto out;
	}
	s->data[s->len] = '\0';
	trim_newline(s);
	if (s->len == 0 || memchr(s->data, '\0', s->len) || strpbrk(s->data, "\r\n")) {
		result_fail(r, RESULT_CONFIG, s->len == 0 ? _("%s %s is empty")
			    : _("%s %s holds more than one line"), key, path);
		goto out;
	}
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

static bool spawn_command(const char *key, const char *cmd, int out_fd, pid_t *pid, struct result *r)
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
		return result_fail(r, RESULT_CONFIG, _("%s: cannot run '%s': %s"), key, cmd,
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
static bool read_command_output(const char *key, int fd, struct secret *s, struct result *r)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += PASSWORD_COMMAND_TIMEOUT;
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		long left = ms_left(&deadline);
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0)
			return result_fail(r, RESULT_CONFIG, _("%s: no answer within %d seconds"),
					   key, PASSWORD_COMMAND_TIMEOUT);
		n = read(fd, s->data + s->len, SECRET_MAX + 1 - s->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return result_fail(r, RESULT_CONFIG, _("%s: read error: %s"), key,
					   strerror(errno));
		if (n == 0)
			return true;
		s->len += (size_t)n;
		if (s->len > SECRET_MAX)
			return result_fail(r, RESULT_CONFIG, _("%s: output longer than %d bytes"), key, SECRET_MAX);
	}
}

/* A command that closed its output may still run: the time bound covers
 * its exit too. */
static bool wait_bounded(const char *key, pid_t pid, int *status, struct result *r)
{
	for (int i = 0; i < PASSWORD_COMMAND_TIMEOUT * 100; i++) {
		pid_t done = waitpid(pid, status, WNOHANG);

		if (done == pid)
			return true;
		if (done < 0 && errno != EINTR)
			return result_fail(r, RESULT_CONFIG, "%s: %s", key, strerror(errno));
		usleep(10000);
	}
	return result_fail(r, RESULT_CONFIG, _("%s: no answer within %d seconds"), key,
			   PASSWORD_COMMAND_TIMEOUT);
}

bool credentials_from_command(const char *key, const char *cmd, struct secret *s, struct result *r)
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
	if (!spawn_command(key, cmd, pipefd[1], &pid, r))
		goto out;
	close(pipefd[1]);
	pipefd[1] = -1;
	ok = read_command_output(key, pipefd[0], s, r) && wait_bounded(key, pid, &status, r);
	if (!ok) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (ok && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		ok = false;
		if (WIFEXITED(status))
			result_fail(r, RESULT_CONFIG, _("%s failed with exit status %d"), key,
				    WEXITSTATUS(status));
		else
			result_fail(r, RESULT_CONFIG, _("%s was killed by signal %d"), key,
				    WTERMSIG(status));
	}
	if (ok) {
		s->data[s->len] = '\0';
		trim_newline(s);
		if (s->len == 0 || memchr(s->data, '\0', s->len) || strpbrk(s->data, "\r\n")) {
			ok = false;
			result_fail(r, RESULT_CONFIG, s->len == 0 ? _("%s printed nothing")
				    : _("%s printed more than one line"), key);
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

/* systemd's LoadCredential=: $CREDENTIALS_DIRECTORY/<credential or account>,
 * or the absolute path the credential key names.  Empty path: none. */
static void systemd_path(const struct account *acct, char *path, size_t size)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	const char *name = acct->credential ? acct->credential : acct->name;

	int n = 0;

	if (acct->credential != NULL && acct->credential[0] == '/')
		n = snprintf(path, size, "%s", acct->credential);
	else if (dir != NULL && dir[0] == '/' && strchr(name, '/') == NULL)
		n = snprintf(path, size, "%s/%s", dir, name);
	/* A cut path would name another file. */
	if (n <= 0 || (size_t)n >= size)
		path[0] = '\0';
}

/* Read one line from the terminal with echo off. */
static bool prompt_tty(int tty, const char *prompt, struct secret *s, struct result *r)
{
	struct termios saved, quiet;
	bool restore = tcgetattr(tty, &saved) == 0;
	ssize_t n = 0;
	char c;

	if (!secret_alloc(s, r))
		return false;
	if (restore) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		tcsetattr(tty, TCSAFLUSH, &quiet);
	}
	if (write(tty, prompt, strlen(prompt)) < 0)
		n = -1;
	while (n >= 0 && (n = read(tty, &c, 1)) == 1 && c != '\n') {
		if (s->len < SECRET_MAX)
			s->data[s->len++] = c;
	}
	if (restore)
		tcsetattr(tty, TCSAFLUSH, &saved);
	if (write(tty, "\n", 1) < 0)
		n = -1;
	if (n < 0 || s->len == 0) {
		secret_wipe(s);
		return result_fail(r, RESULT_CONFIG, _("no password entered"));
	}
	trim_newline(s);
	return true;
}

static int open_tty(void)
{
	return open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
}

static bool prompt_for_account(const struct account *acct, struct secret *s, struct result *r)
{
	char prompt[512];
	int tty = open_tty();
	bool ok;

	if (tty < 0)
		return result_fail(r, RESULT_CONFIG, _("no terminal to ask for the password"));
	snprintf(prompt, sizeof prompt, _("Password for %s at %s (account %s): "), acct->user,
		 acct->host, acct->name);
	ok = prompt_tty(tty, prompt, s, r);
	close(tty);
	return ok;
}

static const char *keyring_hint(void)
{
	return _("set password_command, password_file or a systemd credential, or store it with "
		 "relaymail --set-password");
}

bool credentials_get(const struct account *acct, struct secret *out, struct result *r)
{
	enum password_source pin = acct->password_source;
	bool any = pin == PASSWORD_SOURCE_AUTO;
	char why[256] = "", path[4096];
	int tty;

	out->data = NULL;
	out->len = 0;
	out->oauth = NULL;
	if (acct->user == NULL)
		return true;
	protect_process();
	/* The access token is fetched when AUTH needs it (oauth.h). */
	if (acct->oauth_grant != OAUTH_GRANT_NONE)
		return oauth_open(acct, &out->oauth, r);
	if (any || pin == PASSWORD_SOURCE_KEYRING) {
		if (keyring_lookup(acct, out, why, sizeof why) == KEYRING_FOUND)
			return true;
		if (!any)
			return result_fail(r, RESULT_CONFIG, _("no password for account '%s' from the keyring: %s; %s"),
					   acct->name, why, keyring_hint());
	}
	if ((any && acct->password_command) || pin == PASSWORD_SOURCE_COMMAND) {
		if (acct->password_command == NULL)
			return result_fail(r, RESULT_CONFIG, _("password_source = command but no password_command"));
		return credentials_from_command("password_command", acct->password_command, out, r);
	}
	if ((any && acct->password_file) || pin == PASSWORD_SOURCE_FILE) {
		if (acct->password_file == NULL)
			return result_fail(r, RESULT_CONFIG, _("password_source = file but no password_file"));
		return credentials_from_file("password_file", acct->password_file, true, out, r);
	}
	systemd_path(acct, path, sizeof path);
	if ((any && path[0] && (acct->credential || access(path, F_OK) == 0)) ||
	    pin == PASSWORD_SOURCE_SYSTEMD) {
		if (path[0] == '\0')
			return result_fail(r, RESULT_CONFIG,
					   _("password_source = systemd but CREDENTIALS_DIRECTORY is not set"));
		return credentials_from_file("credential", path, false, out, r);
	}
	if (any || pin == PASSWORD_SOURCE_PROMPT) {
		tty = open_tty();
		if (tty >= 0) {
			close(tty);
			return prompt_for_account(acct, out, r);
		}
	}
	return result_fail(r, RESULT_CONFIG, _("no password for account '%s' (%s at %s): %s%s%s"),
			   acct->name, acct->user, acct->host, why, why[0] ? "; " : "", keyring_hint());
}

bool credentials_describe(const struct account *acct, char *buf, size_t size, struct result *r)
{
	struct secret found = { NULL, 0, NULL };
	enum password_source pin = acct->password_source;
	bool any = pin == PASSWORD_SOURCE_AUTO;
	char why[256] = "", path[4096];

	if (acct->user == NULL) {
		snprintf(buf, size, _("none: the account has no user and does not authenticate"));
		return true;
	}
	if (acct->oauth_grant != OAUTH_GRANT_NONE) {
		struct oauth_state st;

		protect_process();
		oauth_describe(acct, &st);
		if (!st.refresh_present)
			return result_fail(r, RESULT_CONFIG, "%s", st.refresh_problem);
		snprintf(buf, size, _("OAuth access tokens; refresh token: %s"), st.refresh_where);
		return true;
	}
	if (any || pin == PASSWORD_SOURCE_KEYRING) {
		enum keyring_status st;

		protect_process();
		st = keyring_lookup(acct, &found, why, sizeof why);

		secret_wipe(&found);
		if (st == KEYRING_FOUND) {
			snprintf(buf, size, _("keyring (entry for %s at %s)"), acct->user, acct->host);
			return true;
		}
	}
	systemd_path(acct, path, sizeof path);
	if ((any && acct->password_command) || pin == PASSWORD_SOURCE_COMMAND)
		snprintf(buf, size, _("password_command: %s"), acct->password_command ? acct->password_command : "-");
	else if ((any && acct->password_file) || pin == PASSWORD_SOURCE_FILE)
		snprintf(buf, size, _("password_file: %s"), acct->password_file ? acct->password_file : "-");
	else if ((any && path[0] && (acct->credential || access(path, F_OK) == 0)) ||
		 pin == PASSWORD_SOURCE_SYSTEMD)
		snprintf(buf, size, _("systemd credential: %s"), path[0] ? path : "-");
	else if (any || pin == PASSWORD_SOURCE_PROMPT)
		snprintf(buf, size, _("prompt on the terminal (keyring: %s)"), why[0] ? why : "-");
	else
		return result_fail(r, RESULT_CONFIG, _("no password source for account '%s': %s"),
				   acct->name, why);
	return true;
}

bool credentials_read_new(struct secret *out, struct result *r)
{
	int tty;
	bool ok;

	protect_process();
	if (isatty(STDIN_FILENO)) {
		tty = open_tty();
		if (tty < 0)
			return result_fail(r, RESULT_CONFIG, _("no terminal to ask for the password"));
		ok = prompt_tty(tty, _("Password: "), out, r);
		close(tty);
		return ok;
	}
	if (!secret_alloc(out, r))
		return false;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, out->data + out->len, SECRET_MAX + 1 - out->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out->len += (size_t)n;
		if (out->len > SECRET_MAX)
			break;
	}
	trim_newline(out);
	if (out->len == 0 || out->len > SECRET_MAX || strpbrk(out->data, "\r\n") || memchr(out->data, 0, out->len)) {
		secret_wipe(out);
		return result_fail(r, RESULT_USAGE, _("the password on standard input must be one non-empty line of at most 1024 bytes"));
	}
	return true;
}
