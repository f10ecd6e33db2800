/* Queue directories and entry files: is this directory, this file ours
 * and safe to read or write?
 *
 * A queue directory may have been made by another user first (the
 * /var/tmp fallback) or have files planted in it.  The directory is reached
 * from "/" without following symbolic links, each component checked
 * (queue_dir_open); entry files are opened relative to it with O_NOFOLLOW
 * and must be regular files of ours (queue_open_file).  What the files
 * hold is checked elsewhere (queue_entry.c).
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "i18n.h"
#include "log.h"
#include "queue_entry.h"

/* ---- directories -------------------------------------------------------- */

/* The components on the way are only looked at (search permission is
 * enough); the directory itself is read, written and fsynced. */
#ifdef O_PATH
#define WALK_FLAGS (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#else
#define WALK_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#endif
#define FINAL_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* A directory on the way: only root or we may change what it holds, or it
 * is sticky (/tmp, /var/tmp: others cannot rename or remove our entries). */
static bool check_parent(const struct stat *st, const char *path, const char *upto,
			 struct result *r)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return result_fail(r, RESULT_CANTCREAT,
				   _("refusing %s: %s belongs to uid %lu, neither you nor root"), path,
				   upto, (unsigned long)st->st_uid);
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
		return result_fail(r, RESULT_CANTCREAT,
				   _("refusing %s: %s is writable by other users (chmod go-w %s)"), path,
				   upto, upto);
	return true;
}

/* The queue or failed store itself: ours and private. */
static bool check_final(const struct stat *st, const char *path, struct result *r)
{
	if (st->st_uid != geteuid())
		return result_fail(r, RESULT_CANTCREAT,
				   _("refusing %s: it belongs to uid %lu, not to you (uid %lu); remove it "
				     "or set queue_dir/failed_dir to a directory of your own"),
				   path, (unsigned long)st->st_uid, (unsigned long)geteuid());
	if (st->st_mode & 077)
		return result_fail(r, RESULT_CANTCREAT,
				   _("refusing %s: mode %03o lets other users in (chmod 700 %s)"), path,
				   (unsigned)(st->st_mode & 0777), path);
	return true;
}

/* Open one component below dirfd (made with mode 0700 when allowed). */
static int open_component(int dirfd, const char *name, bool last, bool create)
{
	int flags = last ? FINAL_FLAGS : WALK_FLAGS;
	int fd = openat(dirfd, name, flags);

	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(dirfd, name, 0700) != 0 && errno != EEXIST)
			return -1;
		fd = openat(dirfd, name, flags);
	}
	return fd;
}

static bool component_error(int dirfd, const char *name, const char *path, const char *upto,
			    int err, struct result *r)
{
	struct stat st;

	if ((err == ELOOP || err == ENOTDIR) &&
	    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return result_fail(r, RESULT_CANTCREAT,
				   _("refusing %s: %s is a symbolic link (give the real path)"), path, upto);
	if (err == ENOTDIR)
		return result_fail(r, RESULT_CANTCREAT, _("refusing %s: %s is not a directory"), path,
				   upto);
	return result_fail(r, RESULT_CANTCREAT, _("cannot open %s: %s"), upto, strerror(err));
}

struct walk {
	const char *path;       /* as given */
	const char *shown;      /* escaped, for messages */
	char copy[PATH_MAX];    /* split into components */
	bool create;
};

/* Step from the open directory *fd into component c of w->copy: *fd is
 * replaced, or -1 when the component is missing and not to be made. */
static bool walk_step(struct walk *w, int *fd, const char *c, bool last, struct result *r)
{
	char upto[SHOWN_PATH], prefix[PATH_MAX];
	struct stat st;
	int next;

	snprintf(prefix, sizeof prefix, "%.*s", (int)(c - w->copy + strlen(c)), w->path);
	log_escape(upto, sizeof upto, prefix);
	if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0)
		return result_fail(r, RESULT_CANTCREAT, _("refusing %s: '.' or '..' in the path"),
				   w->shown);
	next = open_component(*fd, c, last, w->create);
	if (next < 0 && errno == ENOENT && !w->create) {
		close(*fd);
		*fd = -1;
		return true;
	}
	if (next < 0)
		return component_error(*fd, c, w->shown, upto, errno, r);
	close(*fd);
	*fd = next;
	if (fstat(next, &st) != 0)
		return result_fail(r, RESULT_CANTCREAT, _("cannot open %s: %s"), upto, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return result_fail(r, RESULT_CANTCREAT, _("refusing %s: %s is not a directory"),
				   w->shown, upto);
	return last ? check_final(&st, w->shown, r) : check_parent(&st, w->shown, upto, r);
}

bool queue_dir_open(const char *path, bool create, int *out, struct result *r)
{
	struct walk w = { .path = path, .create = create };
	char shown[SHOWN_PATH], *save = NULL, *c, *next;
	struct stat st;
	int fd = -1;
	bool ok = false;

	*out = -1;
	w.shown = log_escape(shown, sizeof shown, path);
	if (path[0] != '/' || strlen(path) >= sizeof w.copy)
		return result_fail(r, RESULT_CANTCREAT, _("refusing %s: not an absolute path"), shown);
	memcpy(w.copy, path, strlen(path) + 1);
	fd = open("/", WALK_FLAGS);
	if (fd < 0 || fstat(fd, &st) != 0) {
		result_fail(r, RESULT_CANTCREAT, _("cannot open %s: %s"), "/", strerror(errno));
		goto out;
	}
	if (!check_parent(&st, shown, "/", r))
		goto out;
	c = strtok_r(w.copy, "/", &save);
	if (c == NULL) {
		result_fail(r, RESULT_CANTCREAT, _("refusing %s: not a directory of your own"), shown);
		goto out;
	}
	for (; c != NULL && fd >= 0; c = next) {
		next = strtok_r(NULL, "/", &save);
		if (!walk_step(&w, &fd, c, next == NULL, r))
			goto out;
	}
	ok = true;
	*out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return ok;
}

bool queue_fsync_dir(int dirfd)
{
	return fsync(dirfd) == 0;
}

/* ---- entry files -------------------------------------------------------- */

bool queue_id_is_valid(const char *name, size_t len)
{
	if (len == 0 || len >= QUEUE_ID_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

/* Ours, a plain file, not writable by others; a message has one name only
 * (a hard link elsewhere would let its content change under us). */
static bool check_file(const struct stat *st, const char *name, struct result *r)
{
	size_t len = strlen(name);

	if (!S_ISREG(st->st_mode))
		return result_fail(r, RESULT_CANTCREAT, _("%s is not a regular file"), name);
	if (st->st_uid != geteuid())
		return result_fail(r, RESULT_CANTCREAT, _("%s belongs to uid %lu, not to you"), name,
				   (unsigned long)st->st_uid);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return result_fail(r, RESULT_CANTCREAT, _("%s is writable by other users (mode %03o)"),
				   name, (unsigned)(st->st_mode & 0777));
	if (len > 4 && strcmp(name + len - 4, ".msg") == 0 && st->st_nlink != 1)
		return result_fail(r, RESULT_CANTCREAT, _("%s has %lu hard links"), name,
				   (unsigned long)st->st_nlink);
	return true;
}

int queue_open_file(int dirfd, const char *name, bool create, struct stat *st, struct result *r)
{
	int flags = (create ? O_RDWR | O_CREAT : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
		    O_CLOEXEC;
	int fd = openat(dirfd, name, flags, 0600);

	if (fd < 0) {
		if (errno == ELOOP)
			result_fail(r, RESULT_CANTCREAT, _("%s is a symbolic link"), name);
		else
			result_fail(r, RESULT_CANTCREAT, _("cannot open %s: %s"), name, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) != 0) {
		result_fail(r, RESULT_CANTCREAT, _("cannot open %s: %s"), name, strerror(errno));
		close(fd);
		return -1;
	}
	/* O_NONBLOCK only kept a planted FIFO from blocking the open. */
	if (!check_file(st, name, r)) {
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
		result_fail(r, RESULT_OSERR, "fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
