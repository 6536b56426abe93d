/*-------------------------------------------------------------------------
 * guc.h
 *		Every otel_aliyun.* configuration variable.  guc.c owns and defines
 *		them; every other file only reads them.  Values are validated by the
 *		check hooks in guc.c, so readers may trust them.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_GUC_H
#define OTEL_GUC_H

typedef enum OtelTrackLevel
{
	OTEL_TRACK_NONE,
	OTEL_TRACK_TOP,
	OTEL_TRACK_ALL
} OtelTrackLevel;

typedef enum OtelSemconvMode
{
	OTEL_SEMCONV_STABLE = 1,	/* db.system.name, db.query.text, ... */
	OTEL_SEMCONV_OLD = 2,		/* db.system, db.statement, ... */
	OTEL_SEMCONV_BOTH = 3		/* database/dup */
} OtelSemconvMode;

typedef enum OtelCompression
{
	OTEL_COMPRESSION_NONE,
	OTEL_COMPRESSION_GZIP
} OtelCompression;

/* otel_aliyun.{traces,logs,metrics}_protocol: how OTLP travels */
typedef enum OtelOtlpProtocol
{
	OTEL_OTLP_HTTP_PROTOBUF,	/* OTLP/HTTP, binary protobuf body */
	OTEL_OTLP_HTTP_JSON,		/* OTLP/HTTP, OTLP/JSON body */
	OTEL_OTLP_GRPC				/* OTLP/gRPC (grpc.h), endpoint http(s)://host:port */
} OtelOtlpProtocol;

/* otel_aliyun.logs_exporter */
typedef enum OtelLogsExporter
{
	OTEL_LOGS_EXPORTER_NONE,
	OTEL_LOGS_EXPORTER_FILE,
	OTEL_LOGS_EXPORTER_OTLP,
	OTEL_LOGS_EXPORTER_SLS
} OtelLogsExporter;

/* otel_aliyun.sls_compression */
typedef enum OtelSlsCompression
{
	OTEL_SLS_COMPRESSION_NONE,
	OTEL_SLS_COMPRESSION_LZ4
} OtelSlsCompression;

/* otel_aliyun.sls_signature_version */
typedef enum OtelSlsSignatureVersion
{
	OTEL_SLS_SIGNATURE_V1 = 1,	/* hmac-sha1 */
	OTEL_SLS_SIGNATURE_V4 = 4	/* SLS4-HMAC-SHA256, region-scoped */
} OtelSlsSignatureVersion;

/* general */
extern bool otel_enabled;
extern char *otel_service_name;
extern char *otel_service_version;
extern char *otel_deployment_environment;
extern char *otel_cloud_region;
extern char *otel_resource_attributes;

/* traces */
extern double otel_sample_rate;
extern int	otel_track;
extern int	otel_semconv;
extern bool otel_capture_raw_query_text;
extern int	otel_max_query_text_length;
extern char *otel_traceparent;
extern char *otel_tracestate;
extern char *otel_traces_endpoint;
extern char *otel_arms_token;
extern char *otel_headers;
extern int	otel_traces_protocol;	/* OtelOtlpProtocol */

/* export */
extern int	otel_compression;
extern int	otel_export_timeout_ms;
extern int	otel_export_interval_ms;
extern int	otel_max_export_batch_size;
extern int	otel_max_retries;
extern char *otel_tls_ca_file;
extern bool otel_tls_verify;
extern char *otel_file_directory;
extern int	otel_file_max_size_mb;

/* logs (issue 4): SQL log functions, server-log capture, SLS / OTLP */
extern int	otel_logs_exporter;
extern char *otel_logs_endpoint;
extern int	otel_logs_protocol;		/* OtelOtlpProtocol, logs_exporter = otlp */
extern int	otel_logs_batch_size;
extern int	otel_logs_export_interval_ms;
extern bool otel_logs_warn_on_drop;
extern bool otel_capture_server_log;
extern int	otel_capture_server_log_min_level;	/* an elevel, e.g. WARNING */
extern char *otel_sls_endpoint;
extern char *otel_sls_project;
extern char *otel_sls_logstore;
extern char *otel_sls_topic;
extern char *otel_sls_access_key_id;
extern char *otel_sls_access_key_secret;
extern char *otel_sls_security_token;
extern int	otel_sls_compression;
extern int	otel_sls_signature_version;
extern char *otel_sls_region;

/* metrics (issue 5): SQL metric functions, built-in metrics, Prometheus */
typedef enum OtelMetricsExporter
{
	OTEL_METRICS_EXPORTER_PROMETHEUS,	/* remote write */
	OTEL_METRICS_EXPORTER_OTLP, /* OTLP/HTTP /v1/metrics */
	OTEL_METRICS_EXPORTER_NONE
} OtelMetricsExporter;

typedef enum OtelSeriesOverflow
{
	OTEL_SERIES_OVERFLOW_ERROR, /* a new series past the cap is an ERROR */
	OTEL_SERIES_OVERFLOW_DROP	/* ... is dropped and counted */
} OtelSeriesOverflow;

/* groups of otel_aliyun.builtin_metrics */
#define OTEL_BUILTIN_QUERY		0x01	/* query duration histogram */
#define OTEL_BUILTIN_DATABASE	0x02	/* pg_stat_database & co */
#define OTEL_BUILTIN_EXPORTER	0x04	/* the extension's own health */

extern int	otel_metrics_exporter;
extern char *otel_prometheus_remote_write_url;
extern char *otel_prometheus_username;
extern char *otel_prometheus_password;
extern char *otel_prometheus_bearer_token;
extern char *otel_metrics_endpoint;
extern int	otel_metrics_protocol;	/* OtelOtlpProtocol, metrics_exporter = otlp */
extern int	otel_metrics_export_interval_ms;
extern int	otel_series_overflow;
extern char *otel_metrics_listen_address;
extern char *otel_builtin_metrics;
extern int	otel_builtin_metrics_mask;	/* OTEL_BUILTIN_* bits */
extern int	otel_max_series;	/* postmaster start only */

/*
 * The URL metrics are pushed to with the chosen exporter (remote write URL
 * or OTLP endpoint), or NULL when none is set.
 */
static inline const char *
otel_metrics_push_url(void)
{
	const char *url = NULL;

	if (otel_metrics_exporter == OTEL_METRICS_EXPORTER_PROMETHEUS)
		url = otel_prometheus_remote_write_url;
	else if (otel_metrics_exporter == OTEL_METRICS_EXPORTER_OTLP)
		url = otel_metrics_endpoint;
	return (url != NULL && url[0] != '\0') ? url : NULL;
}

/*
 * Do metrics leave the server: pushed (otel_metrics_push_url) or pulled
 * (listen address)?  Cheap: a few loads.
 */
static inline bool
otel_metrics_leave_server(void)
{
	return (otel_metrics_listen_address && otel_metrics_listen_address[0]) ||
		otel_metrics_push_url() != NULL;
}

/* shared memory (postmaster start only) */
extern int	otel_buffer_size_mb;
extern int	otel_logs_buffer_size_mb;

extern void otel_define_gucs(void);

/*
 * emit_log_hook that hides the values of secret settings in messages about
 * them; call after every other emit_log_hook of ours is installed.
 */
extern void otel_guc_install_log_mask(void);

#endif							/* OTEL_GUC_H */
