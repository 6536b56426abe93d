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
