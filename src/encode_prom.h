/*-------------------------------------------------------------------------
 * encode_prom.h
 *		Metric snapshots (metrics_store.h) in Prometheus' two formats: the
 *		remote write 1.0 WriteRequest protobuf (protobuf-c, from
 *		proto/prometheus/) for push, and the text exposition format 0.0.4
 *		for the pull endpoint.  Pure code: output goes to the caller's
 *		StringInfo; works in a private memory context freed before return.
 *
 *		Naming: a counter gets "_total" unless its name has it already (or
 *		it is a postgres_exporter-compatible built-in); an up-down counter
 *		is a gauge; a histogram becomes <name>_bucket{le="..."} (cumulative,
 *		"+Inf" last), <name>_sum and <name>_count.  Label names that are not
 *		valid Prometheus names (the dotted keys of built-in metrics, e.g.
 *		db.namespace) have every invalid character replaced by "_".
 *
 *		Resource: remote write puts job (service.namespace/service.name, or
 *		service.name) and instance (service.instance.id) on every series, a
 *		series' own label of the same name winning, and sends the other
 *		resource attributes once per snapshot as labels of a target_info
 *		gauge of value 1 (the OpenTelemetry-to-Prometheus rule).  The pull
 *		endpoint leaves job and instance to the scraper and exposes
 *		target_info with the other attributes.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_ENCODE_PROM_H
#define OTEL_ENCODE_PROM_H

#include "lib/stringinfo.h"
#include "metrics_store.h"

/*
 * Append a WriteRequest (not compressed) holding the series [from, to) of
 * snap, every sample stamped timestamp_ms, to out; with_target_info adds
 * the target_info series.  Returns the number of time series written.
 */
extern int	otel_encode_prom_write(const OtelMetricsSnapshot *snap, int from, int to,
								   int64 timestamp_ms, bool with_target_info,
								   StringInfo out);

/* Append the whole snapshot in the text exposition format 0.0.4. */
extern void otel_encode_prom_text(const OtelMetricsSnapshot *snap, StringInfo out);

#define OTEL_PROM_TEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif							/* OTEL_ENCODE_PROM_H */
