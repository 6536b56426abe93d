/*
 * Benchmark sink: an HTTP/1.1 endpoint on loopback that reads each request,
 * counts it and answers 200 with an empty body (an empty
 * Export*ServiceResponse is zero bytes of protobuf), decoding nothing.
 *
 * It stands in for a remote ARMS or collector endpoint, so it must cost the
 * 2-core benchmark machine as little as possible: one thread, poll(), no
 * allocation per request.  Keep-alive, so libcurl reuses its connection.
 * (The tests' receivers, which decode everything, are in test/.)
 *
 *   sink [--port N] [--port-file F]
 *   GET /_stats  -> {"requests": n, "bytes": n, "pid": n}
 *   POST /_reset -> zero the counters
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS	64
#define HDR_MAX		16384
#define CHUNK		(256 * 1024)

typedef struct Conn
{
	int			fd;
	size_t		hlen;			/* header bytes gathered so far */
	long long	body_left;		/* body bytes still to read, -1 in headers */
	long long	body_len;
	int			is_stats;
	int			is_reset;
	char		hdr[HDR_MAX];
} Conn;

static Conn conns[MAX_CONNS];
static long long nrequests,
			nbytes;
static char scratch[CHUNK];

static void
conn_close(Conn *c)
{
	close(c->fd);
	c->fd = -1;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0)
	{
		ssize_t		w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
		{
			struct pollfd pfd = {fd, POLLOUT, 0};

			poll(&pfd, 1, 1000);
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t) w;
	}
	return 0;
}

/* The request is complete: count it and answer. */
static int
respond(Conn *c)
{
	char		body[128],
				resp[256];
	int			blen = 0,
				n;
	const char *ctype = "application/x-protobuf";

	if (c->is_reset)
	{
		nrequests = nbytes = 0;
		blen = snprintf(body, sizeof(body), "{}");
		ctype = "application/json";
	}
	else if (c->is_stats)
	{
		blen = snprintf(body, sizeof(body),
						"{\"requests\": %lld, \"bytes\": %lld, \"pid\": %d}",
						nrequests, nbytes, (int) getpid());
		ctype = "application/json";
	}
	else
	{
		nrequests++;
		nbytes += c->body_len;
	}
	n = snprintf(resp, sizeof(resp),
				 "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%.*s",
				 ctype, blen, blen, body);
	c->hlen = 0;
	c->body_left = -1;
	return write_all(c->fd, resp, (size_t) n);
}

/* Headers are complete in c->hdr[0..end): parse what we need. */
static int
parse_headers(Conn *c, size_t end)
{
	char	   *line = c->hdr,
			   *stop = c->hdr + end;

	c->body_len = 0;
	c->is_stats = strncmp(line, "GET ", 4) == 0;
	c->is_reset = strncmp(line, "POST /_reset", 12) == 0;
	while (line < stop)
	{
		char	   *eol = memchr(line, '\n', (size_t) (stop - line));

		if (eol == NULL)
			break;
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			c->body_len = strtoll(line + 15, NULL, 10);
		else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0)
			return -1;			/* chunked bodies are not expected */
		line = eol + 1;
	}
	if (c->body_len < 0)
		return -1;
	c->body_left = c->body_len;
	return 0;
}

/* Consume what is readable; returns -1 when the connection is done. */
static int
conn_read(Conn *c)
{
	for (;;)
	{
		ssize_t		r;

		if (c->body_left < 0)
		{
			char	   *end;

			r = read(c->fd, c->hdr + c->hlen, HDR_MAX - 1 - c->hlen);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (r <= 0)
				return -1;
			c->hlen += (size_t) r;
			c->hdr[c->hlen] = '\0';
			end = strstr(c->hdr, "\r\n\r\n");
			if (end == NULL)
			{
				if (c->hlen >= HDR_MAX - 1)
					return -1;
				continue;
			}
			end += 4;
			if (parse_headers(c, (size_t) (end - c->hdr)) < 0)
				return -1;
			/* body bytes that came with the headers */
			{
				size_t		extra = c->hlen - (size_t) (end - c->hdr);

				if ((long long) extra > c->body_left)
					return -1;	/* pipelining is not expected */
				c->body_left -= (long long) extra;
			}
		}
		else if (c->body_left > 0)
		{
			size_t		want = c->body_left < CHUNK ? (size_t) c->body_left : CHUNK;

			r = read(c->fd, scratch, want);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (r <= 0)
				return -1;
			c->body_left -= r;
		}
		if (c->body_left == 0 && respond(c) < 0)
			return -1;
	}
}

int
main(int argc, char **argv)
{
	int			port = 0,
				lfd,
				one = 1;
	const char *port_file = NULL;
	struct sockaddr_in addr;
	socklen_t	alen = sizeof(addr);

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
			port_file = argv[++i];
		else
		{
			fprintf(stderr, "usage: %s [--port N] [--port-file F]\n", argv[0]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons((unsigned short) port);
	if (bind(lfd, (struct sockaddr *) &addr, sizeof(addr)) < 0 ||
		listen(lfd, 64) < 0 ||
		getsockname(lfd, (struct sockaddr *) &addr, &alen) < 0)
	{
		perror("sink");
		return 1;
	}
	port = ntohs(addr.sin_port);
	if (port_file)
	{
		char		tmp[4096];
		FILE	   *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		f = fopen(tmp, "w");
		if (f == NULL || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 ||
			rename(tmp, port_file) != 0)
		{
			perror("sink: port file");
			return 1;
		}
	}
	fprintf(stderr, "sink listening on 127.0.0.1:%d\n", port);
	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;

	for (;;)
	{
		struct pollfd pfds[MAX_CONNS + 1];
		int			map[MAX_CONNS + 1];
		int			n = 0;

		pfds[n].fd = lfd;
		pfds[n].events = POLLIN;
		map[n++] = -1;
		for (int i = 0; i < MAX_CONNS; i++)
			if (conns[i].fd >= 0)
			{
				pfds[n].fd = conns[i].fd;
				pfds[n].events = POLLIN;
				map[n++] = i;
			}
		if (poll(pfds, (nfds_t) n, -1) < 0)
		{
			if (errno == EINTR)
				continue;
			perror("sink: poll");
			return 1;
		}
		for (int k = 1; k < n; k++)
			if (pfds[k].revents && conn_read(&conns[map[k]]) < 0)
				conn_close(&conns[map[k]]);
		if (pfds[0].revents & POLLIN)
		{
			int			fd = accept(lfd, NULL, NULL);
			int			slot = -1;

			if (fd < 0)
				continue;
			for (int i = 0; i < MAX_CONNS; i++)
				if (conns[i].fd < 0)
				{
					slot = i;
					break;
				}
			if (slot < 0)
			{
				close(fd);
				continue;
			}
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			conns[slot].fd = fd;
			conns[slot].hlen = 0;
			conns[slot].body_left = -1;
		}
	}
}
