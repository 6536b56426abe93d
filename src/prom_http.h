/*-------------------------------------------------------------------------
 * prom_http.h
 *		Pull mode: the export worker answers GET /metrics on
 *		otel_aliyun.metrics_listen_address with the Prometheus text
 *		exposition format, for users who scrape instead of push.
 *		prom_http.c owns the listening socket (worker only) and nothing in
 *		shared memory.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_PROM_HTTP_H
#define OTEL_PROM_HTTP_H

/*
 * The worker's wait: like WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT |
 * WL_EXIT_ON_PM_DEATH, timeout_ms, PG_WAIT_EXTENSION), and, when pull mode
 * is on, also woken by a connecting scraper, which is answered before
 * returning.  (Re)opens or closes the listening socket when the setting
 * changed.  Returns the WaitLatch result bits.
 */
extern int	otel_prom_http_wait(long timeout_ms);

/* Close the listening socket (worker exit). */
extern void otel_prom_http_close(void);

#endif							/* OTEL_PROM_HTTP_H */
