/*-------------------------------------------------------------------------
 *
 * file_export.c
 *		OTLP/JSON lines appended to files under the data directory.
 *
 * Each signal has its own file, otel_<signal>.jsonl, in the directory named
 * by otel_aliyun.file_directory (relative to the data directory unless
 * absolute).  The worker keeps the files open between calls; they are
 * reopened when the directory setting changes, or when the file was
 * removed or replaced behind our back (a log shipper or an administrator
 * cleaning up).  When a line would take a file past
 * otel_aliyun.file_max_size_mb, the file is renamed to .1 (replacing the
 * previous .1) and a new one is started.
 *
 * A line is written together with its newline in one writev(); if the
 * write fails half way, the file is truncated back so that no partial line
 * is ever followed by the next one.
 *
 * IDENTIFICATION
 *	  src/file_export.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/file_perm.h"
#include "miscadmin.h"
#include "storage/fd.h"

#include "guc.h"
#include "otel_aliyun.h"
#include "file_export.h"

#define OTEL_FILE_DEFAULT_DIR	"otel_aliyun"

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

typedef struct OpenFile
{
	bool		open;
	int			fd;
} OpenFile;

/* the worker's open files, all in open_dir */
static OpenFile files[OTEL_NUM_SIGNALS];
static char open_dir[MAXPGPATH];

static void
close_file(OtelSignal sig)
{
	if (files[sig].open)
	{
		close(files[sig].fd);
		files[sig].open = false;
		files[sig].fd = -1;
	}
}

static void
close_all(void)
{
	int			i;

	for (i = 0; i < OTEL_NUM_SIGNALS; i++)
		close_file((OtelSignal) i);
}

void
otel_file_dir(char *buf, Size buflen)
{
	const char *dir = otel_file_directory;

	if (dir == NULL || dir[0] == '\0')
		dir = OTEL_FILE_DEFAULT_DIR;
	if (is_absolute_path(dir))
		strlcpy(buf, dir, buflen);
	else
		snprintf(buf, buflen, "%s/%s", DataDir, dir);
}

static void
file_path_in(const char *dir, OtelSignal sig, char *buf, Size buflen)
{
	snprintf(buf, buflen, "%s/otel_%s.jsonl", dir, otel_signal_names[sig]);
}

void
otel_file_path(OtelSignal sig, char *buf, Size buflen)
{
	char		dir[MAXPGPATH];

	otel_file_dir(dir, sizeof(dir));
	file_path_in(dir, sig, buf, buflen);
}

/*
 * Open path for appending, creating the directory if it is missing.
 */
static int
open_append(const char *dir, const char *path, char *errbuf, Size errlen)
{
	int			flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | PG_BINARY;
	int			fd;

	fd = open(path, flags, pg_file_create_mode);
	if (fd < 0 && errno == ENOENT)
	{
		if (MakePGDirectory(dir) < 0 && errno != EEXIST)
		{
			snprintf(errbuf, errlen, "could not create directory \"%s\": %s",
					 dir, strerror(errno));
			return -1;
		}
		fd = open(path, flags, pg_file_create_mode);
	}
	if (fd < 0)
		snprintf(errbuf, errlen, "could not open file \"%s\": %s",
				 path, strerror(errno));
	return fd;
}

/*
 * Is the open file still the one at path?  False when it was removed or
 * renamed and something else (or nothing) is at path now.
 */
static bool
still_current(int fd, const char *path)
{
	struct stat st_fd;
	struct stat st_path;

	if (fstat(fd, &st_fd) != 0 || stat(path, &st_path) != 0)
		return false;
	return st_fd.st_dev == st_path.st_dev && st_fd.st_ino == st_path.st_ino;
}

/* write both pieces completely, retrying on EINTR and short writes */
static bool
write_line(int fd, const char *line, Size len)
{
	static char newline[] = "\n";
	struct iovec iov[2];
	int			iovcnt = 2;
	struct iovec *cur = iov;

	iov[0].iov_base = unconstify(char *, line);
	iov[0].iov_len = len;
	iov[1].iov_base = newline;
	iov[1].iov_len = 1;

	while (iovcnt > 0)
	{
		ssize_t		n = writev(fd, cur, iovcnt);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return false;
		}
		if (n == 0)
		{
			/* no progress on a regular file: treat as a full disk */
			errno = ENOSPC;
			return false;
		}
		while (iovcnt > 0 && (size_t) n >= cur->iov_len)
		{
			n -= cur->iov_len;
			cur++;
			iovcnt--;
		}
		if (iovcnt > 0)
		{
			cur->iov_base = (char *) cur->iov_base + n;
			cur->iov_len -= n;
		}
	}
	return true;
}

bool
otel_file_append(OtelSignal sig, const char *line, Size len,
				 char *errbuf, Size errlen)
{
	char		dir[MAXPGPATH];
	char		path[MAXPGPATH];
	char		dummy[1];
	struct stat st;
	off_t		max_size;
	int			fd;

	if (errbuf == NULL || errlen == 0)
	{
		errbuf = dummy;
		errlen = sizeof(dummy);
	}
	errbuf[0] = '\0';

	if ((int) sig < 0 || sig >= OTEL_NUM_SIGNALS)
	{
		snprintf(errbuf, errlen, "invalid signal %d", (int) sig);
		return false;
	}

	/* a changed directory setting (SIGHUP) moves every file */
	otel_file_dir(dir, sizeof(dir));
	if (strcmp(dir, open_dir) != 0)
	{
		close_all();
		strlcpy(open_dir, dir, sizeof(open_dir));
	}
	file_path_in(dir, sig, path, sizeof(path));

	if (files[sig].open && !still_current(files[sig].fd, path))
		close_file(sig);

	if (!files[sig].open)
	{
		fd = open_append(dir, path, errbuf, errlen);
		if (fd < 0)
			return false;
		files[sig].fd = fd;
		files[sig].open = true;
	}
	fd = files[sig].fd;

	if (fstat(fd, &st) != 0)
	{
		snprintf(errbuf, errlen, "could not stat file \"%s\": %s",
				 path, strerror(errno));
		close_file(sig);
		return false;
	}

	/* rotate when this line would pass the limit (never an empty file) */
	max_size = (off_t) otel_file_max_size_mb * 1024 * 1024;
	if (max_size > 0 && st.st_size > 0 &&
		st.st_size + (off_t) len + 1 > max_size)
	{
		char		old_path[MAXPGPATH + 2];

		snprintf(old_path, sizeof(old_path), "%s.1", path);
		close_file(sig);
		if (rename(path, old_path) != 0)
		{
			snprintf(errbuf, errlen, "could not rename file \"%s\" to \"%s\": %s",
					 path, old_path, strerror(errno));
			return false;
		}
		fd = open_append(dir, path, errbuf, errlen);
		if (fd < 0)
			return false;
		files[sig].fd = fd;
		files[sig].open = true;
		st.st_size = 0;
	}

	if (!write_line(fd, line, len))
	{
		int			save_errno = errno;
		bool		truncated;

		/* take back a partial line; the file is reopened next time */
		truncated = (ftruncate(fd, st.st_size) == 0);
		close_file(sig);
		snprintf(errbuf, errlen, "could not write to file \"%s\": %s%s",
				 path, strerror(save_errno),
				 truncated ? "" : " (a partial line may remain)");
		return false;
	}
	return true;
}
