/*-------------------------------------------------------------------------
 *
 * guc.c
 *		Definition and validation of every otel_aliyun.* setting.
 *
 * Secrets (tokens, header lists, access keys) are GUC_SUPERUSER_ONLY, so
 * that pg_settings and SHOW hide them from everybody else, and their check
 * hooks never echo the value.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/elog.h"
#include "utils/guc.h"

#include "guc.h"
#include "kvlist.h"

bool		otel_enabled = true;
char	   *otel_service_name = NULL;
char	   *otel_service_version = NULL;
char	   *otel_deployment_environment = NULL;
char	   *otel_cloud_region = NULL;
char	   *otel_resource_attributes = NULL;

double		otel_sample_rate = 1.0;
int			otel_track = OTEL_TRACK_TOP;
int			otel_semconv = OTEL_SEMCONV_BOTH;
bool		otel_capture_raw_query_text = false;
int			otel_max_query_text_length = 4096;
char	   *otel_traceparent = NULL;
char	   *otel_tracestate = NULL;
char	   *otel_traces_endpoint = NULL;
char	   *otel_arms_token = NULL;
char	   *otel_headers = NULL;

int			otel_compression = OTEL_COMPRESSION_GZIP;
int			otel_export_timeout_ms = 10000;
int			otel_export_interval_ms = 5000;
int			otel_max_export_batch_size = 1024;
int			otel_max_retries = 5;
char	   *otel_tls_ca_file = NULL;
bool		otel_tls_verify = true;
char	   *otel_file_directory = NULL;
int			otel_file_max_size_mb = 100;

int			otel_buffer_size_mb = 16;
int			otel_logs_buffer_size_mb = 4;

static const struct config_enum_entry track_options[] = {
	{"none", OTEL_TRACK_NONE, false},
	{"top", OTEL_TRACK_TOP, false},
	{"all", OTEL_TRACK_ALL, false},
	{NULL, 0, false}
};

static const struct config_enum_entry semconv_options[] = {
	{"stable", OTEL_SEMCONV_STABLE, false},
	{"old", OTEL_SEMCONV_OLD, false},
	{"both", OTEL_SEMCONV_BOTH, false},
	{"database", OTEL_SEMCONV_STABLE, true},
	{"database/dup", OTEL_SEMCONV_BOTH, true},
	{NULL, 0, false}
};

static const struct config_enum_entry compression_options[] = {
	{"gzip", OTEL_COMPRESSION_GZIP, false},
	{"none", OTEL_COMPRESSION_NONE, false},
	{NULL, 0, false}
};

static emit_log_hook_type prev_emit_log_hook = NULL;

/* settings whose values must never reach a log */
static const char *const secret_gucs[] = {
	"otel_aliyun.arms_token",
	"otel_aliyun.headers",
	"otel_aliyun.traces_endpoint",
	"otel_aliyun.sls_access_key_id",
	"otel_aliyun.sls_access_key_secret",
	"otel_aliyun.sls_security_token",
	"otel_aliyun.prometheus_password",
	"otel_aliyun.prometheus_bearer_token",
	"otel_aliyun.logs_endpoint",
	"otel_aliyun.metrics_endpoint",
	"otel_aliyun.prometheus_remote_write_url",
	NULL
};

/* "k=v,k=v" lists: resource attributes and headers. */
static bool
check_kvlist(char **newval, void **extra, GucSource source)
{
	const char *err;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (!otel_kvlist_parse(*newval, NULL, NULL, &err))
	{
		GUC_check_errdetail("%s", err);
		GUC_check_errhint("Use a comma-separated list of key=value pairs; percent-encode commas, equal signs and non-ASCII characters in keys and values.");
		return false;
	}
	return true;
}

/* header lists: also no line breaks once decoded */
static void
header_line_break(const char *key, const char *value, void *arg)
{
	if (strpbrk(key, "\r\n") != NULL || strpbrk(value, "\r\n") != NULL)
		*(bool *) arg = true;
}

static bool
check_headers(char **newval, void **extra, GucSource source)
{
	bool		bad = false;

	if (!check_kvlist(newval, extra, source))
		return false;
	if (*newval && (*newval)[0] &&
		otel_kvlist_parse(*newval, header_line_break, &bad, NULL) && bad)
	{
		GUC_check_errdetail("A header name or value contains a line break.");
		return false;
	}
	return true;
}

/* An endpoint is a full http(s) URL, or empty. */
static bool
check_url(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	if (v == NULL || v[0] == '\0')
		return true;
	if (pg_strncasecmp(v, "http://", 7) != 0 && pg_strncasecmp(v, "https://", 8) != 0)
	{
		GUC_check_errdetail("The endpoint must be a full URL starting with http:// or https://.");
		GUC_check_errhint("For example http://tracing-analysis-dc-hz.aliyuncs.com/adapt_<token>/api/otlp/traces or http://localhost:4318/v1/traces.");
		return false;
	}
	return true;
}

/* A header value may not contain CR or LF (header injection). */
static bool
check_header_value(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	if (v != NULL && (strchr(v, '\r') != NULL || strchr(v, '\n') != NULL))
	{
		GUC_check_errdetail("The value contains a line break.");
		return false;
	}
	return true;
}

void
otel_define_gucs(void)
{
	DefineCustomBoolVariable("otel_aliyun.enabled",
							 "Records spans, logs and metrics when on.",
							 NULL, &otel_enabled, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("otel_aliyun.service_name",
							   "service.name resource attribute.",
							   NULL, &otel_service_name, "postgresql",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.service_version",
							   "service.version resource attribute (default: the server version).",
							   NULL, &otel_service_version, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.deployment_environment",
							   "deployment.environment.name resource attribute.",
							   NULL, &otel_deployment_environment, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.cloud_region",
							   "cloud.region resource attribute, e.g. cn-hangzhou.",
							   NULL, &otel_cloud_region, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.resource_attributes",
							   "Extra resource attributes as key=value,key=value (OTEL_RESOURCE_ATTRIBUTES format).",
							   NULL, &otel_resource_attributes, "",
							   PGC_SIGHUP, 0, check_kvlist, NULL, NULL);

	DefineCustomRealVariable("otel_aliyun.sample_rate",
							 "Fraction of statements without a sampled parent that are traced.",
							 "ParentBased(TraceIdRatioBased): a statement with a traceparent follows its sampled flag.",
							 &otel_sample_rate, 1.0, 0.0, 1.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("otel_aliyun.track",
							 "Which statements become spans: none, top (client statements) or all (also nested ones).",
							 NULL, &otel_track, OTEL_TRACK_TOP, track_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("otel_aliyun.semconv",
							 "Database semantic convention names: stable, old or both.",
							 NULL, &otel_semconv, OTEL_SEMCONV_BOTH, semconv_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("otel_aliyun.raw_query_text",
							 "Sends the query text as written, literals included, instead of the normalised text.",
							 NULL, &otel_capture_raw_query_text, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("otel_aliyun.max_query_text_length",
							"Longest db.query.text sent, in bytes; longer texts are cut.",
							NULL, &otel_max_query_text_length, 4096, 64, 65536,
							PGC_SUSET, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.traceparent",
							   "W3C traceparent that statements of this session or transaction join.",
							   "Use SET LOCAL in pooled connections. Invalid values are ignored and counted.",
							   &otel_traceparent, "",
							   PGC_USERSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.tracestate",
							   "W3C tracestate going with otel_aliyun.traceparent.",
							   NULL, &otel_tracestate, "",
							   PGC_USERSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);

	DefineCustomStringVariable("otel_aliyun.traces_endpoint",
							   "OTLP/HTTP traces URL (ARMS or any collector). Empty: write OTLP/JSON files under the data directory.",
							   NULL, &otel_traces_endpoint, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, check_url, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.arms_token",
							   "ARMS token, sent as the Authentication header.",
							   NULL, &otel_arms_token, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   check_header_value, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.headers",
							   "Extra export headers as key=value,key=value (OTEL_EXPORTER_OTLP_HEADERS format).",
							   NULL, &otel_headers, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   check_headers, NULL, NULL);
	DefineCustomEnumVariable("otel_aliyun.compression",
							 "Compression of OTLP/HTTP export bodies.",
							 NULL, &otel_compression, OTEL_COMPRESSION_GZIP, compression_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("otel_aliyun.export_timeout_ms",
							"Total time one export request may take.",
							NULL, &otel_export_timeout_ms, 10000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("otel_aliyun.export_interval_ms",
							"Longest time a record waits in the buffer before it is exported.",
							NULL, &otel_export_interval_ms, 5000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("otel_aliyun.max_export_batch_size",
							"Most records in one export request.",
							NULL, &otel_max_export_batch_size, 1024, 1, 65536,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("otel_aliyun.max_retries",
							"Retries of a failed export before its records are dropped.",
							NULL, &otel_max_retries, 5, 0, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.tls_ca_file",
							   "CA bundle for HTTPS exports (empty: the system store).",
							   NULL, &otel_tls_ca_file, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("otel_aliyun.tls_verify",
							 "Verifies the server certificate and host name of HTTPS endpoints.",
							 NULL, &otel_tls_verify, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.file_directory",
							   "Directory (relative to the data directory) of the OTLP/JSON files written when no endpoint is set.",
							   NULL, &otel_file_directory, "otel_aliyun",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomIntVariable("otel_aliyun.file_max_size_mb",
							"Size at which an OTLP/JSON file is rotated.",
							NULL, &otel_file_max_size_mb, 100, 1, 100000,
							PGC_SIGHUP, GUC_UNIT_MB, NULL, NULL, NULL);

	DefineCustomIntVariable("otel_aliyun.buffer_size",
							"Shared memory for spans waiting to be exported.",
							NULL, &otel_buffer_size_mb, 16, 1, 4096,
							PGC_POSTMASTER, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("otel_aliyun.logs_buffer_size",
							"Shared memory for log records waiting to be exported.",
							NULL, &otel_logs_buffer_size_mb, 4, 1, 4096,
							PGC_POSTMASTER, GUC_UNIT_MB, NULL, NULL, NULL);

	MarkGUCPrefixReserved("otel_aliyun");
}

/*
 * PostgreSQL itself logs 'parameter "x" changed to "value"' on reload and
 * echoes rejected values; for our secrets the value is cut out of the
 * message before anything (the server log, our own log capture) sees it.
 * Installed last, so it runs before the other emit_log_hooks of ours.
 */
static void
otel_mask_secrets(ErrorData *edata)
{
	if (edata->message && strstr(edata->message, "\"otel_aliyun.") != NULL)
	{
		for (int i = 0; secret_gucs[i]; i++)
		{
			char		quoted[NAMEDATALEN + 4];
			const char *at;

			snprintf(quoted, sizeof(quoted), "\"%s\"", secret_gucs[i]);
			at = strstr(edata->message, quoted);
			if (at == NULL)
				continue;
			/* keep "...parameter "name"" and drop whatever follows */
			edata->message = psprintf("%.*s (value hidden)",
									  (int) (at - edata->message + strlen(quoted)),
									  edata->message);
			edata->detail = NULL;
			edata->detail_log = NULL;
			break;
		}
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
otel_guc_install_log_mask(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = otel_mask_secrets;
}
