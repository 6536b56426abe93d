/*-------------------------------------------------------------------------
 *
 * prom_http.c
 *		The pull endpoint: GET /metrics in the Prometheus text exposition
 *		format, served by the export worker.
 *
 * The worker's waits go through otel_prom_http_wait(), which adds the
 * listening socket (non-blocking) to the latch wait.  When a scraper
 * connects, the worker accepts, reads the request (bounded in size and
 * time), takes a snapshot of the metric store and answers with one
 * HTTP/1.1 response and "Connection: close".  Everything happens in the
 * worker process, one connection at a time, so a scrape costs no extra
 * process and sees exactly what the next push would send; a scrape that
 * arrives while the worker is in the middle of an export waits for it (at
 * most otel_aliyun.export_timeout_ms).  Job and instance are left to the
 * scraper (its target labels); the other resource attributes are exposed
 * on target_info.
 *
 * The address is otel_aliyun.metrics_listen_address (host:port, off when
 * empty); a change takes effect at the next wait after a reload.  If the
 * address cannot be bound, the worker says so in the log at most once a
 * minute and tries again every ten seconds.
 *
 * IDENTIFICATION
 *	  src/prom_http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <fcntl.h>

#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "encode_prom.h"
#include "guc.h"
#include "metrics_builtin.h"
#include "metrics_store.h"
#include "prom_http.h"

#define REQUEST_MAX			8192	/* bytes of request head read */
#define READ_TIMEOUT_MS		2000
#define WRITE_TIMEOUT_MS	5000
#define MAX_ACCEPT			8		/* connections answered per wake-up */
#define RETRY_BIND_MS		10000
#define LOG_INTERVAL_MS		60000

static pgsocket listen_fd = PGINVALID_SOCKET;
static char listen_addr[256];	/* the setting the socket was opened for */
static bool listen_tried = false;
static TimestampTz last_bind_attempt = 0;
static TimestampTz last_logged = 0;

static void
log_problem(const char *fmt, const char *arg, int err)
{
	TimestampTz now = GetCurrentTimestamp();

	if (last_logged != 0 &&
		!TimestampDifferenceExceeds(last_logged, now, LOG_INTERVAL_MS))
		return;
	last_logged = now;
	errno = err;
	ereport(LOG, (errmsg(fmt, arg)));
}

void
otel_prom_http_close(void)
{
	if (listen_fd != PGINVALID_SOCKET)
		closesocket(listen_fd);
	listen_fd = PGINVALID_SOCKET;
}

/* Open a listening socket on addr ("host:port" or "[v6]:port"). */
static pgsocket
open_listener(const char *addr)
{
	char		host[256];
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	Size		hlen;
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	int			rc;
	pgsocket	fd = PGINVALID_SOCKET;
	int			save_errno = 0;

	if (colon == NULL)
		return PGINVALID_SOCKET;
	hlen = colon - addr;
	if (addr[0] == '[' && hlen >= 2 && addr[hlen - 1] == ']')
	{
		h = addr + 1;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return PGINVALID_SOCKET;
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
	if (rc != 0)
	{
		log_problem("otel_aliyun: could not resolve metrics_listen_address \"%s\"",
					addr, 0);
		return PGINVALID_SOCKET;
	}

	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
	{
		int			one = 1;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == PGINVALID_SOCKET)
		{
			save_errno = errno;
			continue;
		}
		(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
			listen(fd, 16) == 0 && pg_set_noblock(fd))
			break;
		save_errno = errno;
		closesocket(fd);
		fd = PGINVALID_SOCKET;
	}
	freeaddrinfo(res);

	if (fd == PGINVALID_SOCKET)
		log_problem("otel_aliyun: could not listen on metrics_listen_address \"%s\": %m",
					addr, save_errno);
	else
		ereport(LOG,
				(errmsg("otel_aliyun: serving Prometheus metrics on http://%s/metrics",
						addr)));
	return fd;
}

/* Follow otel_aliyun.metrics_listen_address. */
static void
ensure_listener(void)
{
	const char *want = otel_metrics_listen_address ? otel_metrics_listen_address : "";

	if (strcmp(want, listen_addr) != 0)
	{
		otel_prom_http_close();
		strlcpy(listen_addr, want, sizeof(listen_addr));
		listen_tried = false;
	}
	if (listen_addr[0] == '\0' || listen_fd != PGINVALID_SOCKET)
		return;
	if (listen_tried &&
		!TimestampDifferenceExceeds(last_bind_attempt, GetCurrentTimestamp(),
									RETRY_BIND_MS))
		return;
	listen_tried = true;
	last_bind_attempt = GetCurrentTimestamp();
	listen_fd = open_listener(listen_addr);
}

static void
set_timeout(pgsocket fd, int opt, int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	(void) setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

static bool
send_all(pgsocket fd, const char *p, Size len)
{
	while (len > 0)
	{
		ssize_t		n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

static void
respond(pgsocket fd, int status, const char *reason, const char *ctype,
		const char *body, Size body_len, bool head_only)
{
	char		hdr[512];
	int			n;

	n = snprintf(hdr, sizeof(hdr),
				 "HTTP/1.1 %d %s\r\n"
				 "Content-Type: %s\r\n"
				 "Content-Length: %zu\r\n"
				 "Connection: close\r\n"
				 "\r\n",
				 status, reason, ctype, body_len);
	if (send_all(fd, hdr, n) && !head_only && body_len > 0)
		(void) send_all(fd, body, body_len);
}

/* The body of a scrape: a fresh snapshot in the text format. */
static void
serve_metrics(pgsocket fd, bool head_only)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "otel_aliyun scrape",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	OtelMetricsSnapshot *snap;
	StringInfoData body;

	otel_metrics_exporter_refresh();
	snap = otel_metrics_snapshot();
	initStringInfo(&body);
	if (snap == NULL)
	{
		appendStringInfoString(&body, "out of memory\n");
		respond(fd, 503, "Service Unavailable", "text/plain; charset=utf-8",
				body.data, body.len, head_only);
	}
	else
	{
		otel_encode_prom_text(snap, &body);
		respond(fd, 200, "OK", OTEL_PROM_TEXT_CONTENT_TYPE,
				body.data, body.len, head_only);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/* One connection: read the request head, answer, close. */
static void
serve_connection(pgsocket fd)
{
	char		req[REQUEST_MAX + 1];
	Size		len = 0;
	char	   *path;
	char	   *end;
	bool		head_only;

	set_timeout(fd, SO_RCVTIMEO, READ_TIMEOUT_MS);
	set_timeout(fd, SO_SNDTIMEO, WRITE_TIMEOUT_MS);

	while (len < REQUEST_MAX)
	{
		ssize_t		n = recv(fd, req + len, REQUEST_MAX - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;				/* closed, timed out or failed: no answer */
		len += n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n") != NULL)
			break;
	}
	req[len] = '\0';

	head_only = strncmp(req, "HEAD ", 5) == 0;
	if (strncmp(req, "GET ", 4) != 0 && !head_only)
	{
		respond(fd, 405, "Method Not Allowed", "text/plain; charset=utf-8",
				"only GET is supported\n", 22, false);
		return;
	}
	path = req + (head_only ? 5 : 4);
	end = path + strcspn(path, " ?\r\n");
	*end = '\0';
	if (strcmp(path, "/metrics") == 0)
		serve_metrics(fd, head_only);
	else
	{
		static const char msg[] = "otel_aliyun: metrics are at /metrics\n";

		respond(fd, 404, "Not Found", "text/plain; charset=utf-8",
				msg, sizeof(msg) - 1, head_only);
	}
}

static void
serve_pending(void)
{
	for (int i = 0; i < MAX_ACCEPT && listen_fd != PGINVALID_SOCKET; i++)
	{
		pgsocket	fd = accept(listen_fd, NULL, NULL);
		int			flags;

		if (fd == PGINVALID_SOCKET)
		{
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_problem("otel_aliyun: could not accept a connection on \"%s\": %m",
							listen_addr, errno);
			return;
		}
		/* blocking, with timeouts, whatever the listener's mode */
		flags = fcntl(fd, F_GETFL);
		if (flags >= 0)
			(void) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
		(void) fcntl(fd, F_SETFD, FD_CLOEXEC);
		serve_connection(fd);
		closesocket(fd);
	}
}

int
otel_prom_http_wait(long timeout_ms)
{
	int			rc;

	ensure_listener();
	if (listen_fd == PGINVALID_SOCKET)
		return WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout_ms, PG_WAIT_EXTENSION);

	rc = WaitLatchOrSocket(MyLatch,
						   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH |
						   WL_SOCKET_READABLE,
						   listen_fd, timeout_ms, PG_WAIT_EXTENSION);
	if (rc & WL_SOCKET_READABLE)
		serve_pending();
	return rc;
}
