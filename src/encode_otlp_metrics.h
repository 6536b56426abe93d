/*-------------------------------------------------------------------------
 * encode_otlp_metrics.h
 *		Metric snapshots (metrics_store.h) to an OTLP
 *		ExportMetricsServiceRequest (protobuf-c): one ResourceMetrics with
 *		the server's Resource, one ScopeMetrics (otel_aliyun), one Metric per
 *		metric name.  Counters and up-down counters are cumulative Sums
 *		(monotonic or not), gauges Gauges, histograms cumulative explicit-
 *		bucket Histograms with the exact bucket counts.  Every data point
 *		carries its series' start time, stable from one export to the next,
 *		and the snapshot's time.  Pure code: works in a private memory
 *		context, output appended to the caller's StringInfo.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_ENCODE_OTLP_METRICS_H
#define OTEL_ENCODE_OTLP_METRICS_H

#include "lib/stringinfo.h"
#include "metrics_store.h"

/*
 * Append the request holding the series [from, to) of snap to out, their
 * data points stamped time_ns.  Returns the number of data points.
 */
extern int	otel_encode_metrics_pb(const OtelMetricsSnapshot *snap, int from, int to,
								   int64 time_ns, StringInfo out);

/*
 * Read an ExportMetricsServiceResponse: rejected_data_points and the
 * error message of its partial_success.  False if it does not decode.
 */
extern bool otel_decode_metrics_response(const char *body, Size len,
										 int64 *rejected, char *errbuf, Size errlen);

#endif							/* OTEL_ENCODE_OTLP_METRICS_H */
