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

#include "miscadmin.h"
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
int			otel_traces_protocol = OTEL_OTLP_HTTP_PROTOBUF;
int			otel_logs_protocol = OTEL_OTLP_HTTP_PROTOBUF;
int			otel_metrics_protocol = OTEL_OTLP_HTTP_PROTOBUF;

int			otel_compression = OTEL_COMPRESSION_GZIP;
int			otel_export_timeout_ms = 10000;
int			otel_export_interval_ms = 5000;
int			otel_max_export_batch_size = 4096;
int			otel_max_retries = 5;
char	   *otel_tls_ca_file = NULL;
bool		otel_tls_verify = true;
char	   *otel_file_directory = NULL;
int			otel_file_max_size_mb = 100;

int			otel_buffer_size_mb = 16;
int			otel_logs_buffer_size_mb = 4;

int			otel_logs_exporter = OTEL_LOGS_EXPORTER_FILE;
char	   *otel_logs_endpoint = NULL;
int			otel_logs_batch_size = 1024;
int			otel_logs_export_interval_ms = 2000;
bool		otel_logs_warn_on_drop = false;
bool		otel_capture_server_log = false;
int			otel_capture_server_log_min_level = WARNING;
char	   *otel_sls_endpoint = NULL;
char	   *otel_sls_project = NULL;
char	   *otel_sls_logstore = NULL;
char	   *otel_sls_topic = NULL;
char	   *otel_sls_access_key_id = NULL;
char	   *otel_sls_access_key_secret = NULL;
char	   *otel_sls_security_token = NULL;
int			otel_sls_compression = OTEL_SLS_COMPRESSION_LZ4;
int			otel_sls_signature_version = OTEL_SLS_SIGNATURE_V1;
char	   *otel_sls_region = NULL;

int			otel_metrics_exporter = OTEL_METRICS_EXPORTER_PROMETHEUS;
char	   *otel_prometheus_remote_write_url = NULL;
char	   *otel_prometheus_username = NULL;
char	   *otel_prometheus_password = NULL;
char	   *otel_prometheus_bearer_token = NULL;
char	   *otel_metrics_endpoint = NULL;
int			otel_metrics_export_interval_ms = 15000;
int			otel_series_overflow = OTEL_SERIES_OVERFLOW_ERROR;
char	   *otel_metrics_listen_address = NULL;
char	   *otel_builtin_metrics = NULL;
int			otel_builtin_metrics_mask = OTEL_BUILTIN_QUERY | OTEL_BUILTIN_DATABASE | OTEL_BUILTIN_EXPORTER;
int			otel_max_series = 5000;

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

/* the values of OTEL_EXPORTER_OTLP_PROTOCOL */
static const struct config_enum_entry otlp_protocol_options[] = {
	{"http/protobuf", OTEL_OTLP_HTTP_PROTOBUF, false},
	{"http/json", OTEL_OTLP_HTTP_JSON, false},
	{"grpc", OTEL_OTLP_GRPC, false},
	{NULL, 0, false}
};

static const struct config_enum_entry logs_exporter_options[] = {
	{"sls", OTEL_LOGS_EXPORTER_SLS, false},
	{"otlp", OTEL_LOGS_EXPORTER_OTLP, false},
	{"file", OTEL_LOGS_EXPORTER_FILE, false},
	{"none", OTEL_LOGS_EXPORTER_NONE, false},
	{NULL, 0, false}
};

static const struct config_enum_entry sls_compression_options[] = {
	{"lz4", OTEL_SLS_COMPRESSION_LZ4, false},
	{"none", OTEL_SLS_COMPRESSION_NONE, false},
	{NULL, 0, false}
};

static const struct config_enum_entry sls_signature_options[] = {
	{"v1", OTEL_SLS_SIGNATURE_V1, false},
	{"v4", OTEL_SLS_SIGNATURE_V4, false},
	{NULL, 0, false}
};

/* server log levels, as log_min_messages spells them */
static const struct config_enum_entry server_log_level_options[] = {
	{"debug5", DEBUG5, false},
	{"debug4", DEBUG4, false},
	{"debug3", DEBUG3, false},
	{"debug2", DEBUG2, false},
	{"debug1", DEBUG1, false},
	{"debug", DEBUG2, true},
	{"info", INFO, false},
	{"notice", NOTICE, false},
	{"warning", WARNING, false},
	{"error", ERROR, false},
	{"log", LOG, false},
	{"fatal", FATAL, false},
	{"panic", PANIC, false},
	{NULL, 0, false}
};

static const struct config_enum_entry metrics_exporter_options[] = {
	{"prometheus", OTEL_METRICS_EXPORTER_PROMETHEUS, false},
	{"otlp", OTEL_METRICS_EXPORTER_OTLP, false},
	{"none", OTEL_METRICS_EXPORTER_NONE, false},
	{NULL, 0, false}
};

static const struct config_enum_entry series_overflow_options[] = {
	{"error", OTEL_SERIES_OVERFLOW_ERROR, false},
	{"drop", OTEL_SERIES_OVERFLOW_DROP, false},
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

/*
 * SLS endpoint: a host name such as cn-hangzhou.log.aliyuncs.com (HTTPS), or
 * http(s)://host[:port] taken as given; no path, no user information.
 */
static bool
check_sls_endpoint(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;
	const char *p;

	if (v == NULL || v[0] == '\0')
		return true;
	p = v;
	if (pg_strncasecmp(p, "http://", 7) == 0)
		p += 7;
	else if (pg_strncasecmp(p, "https://", 8) == 0)
		p += 8;
	else if (strstr(p, "://") != NULL)
	{
		GUC_check_errdetail("Only the http and https schemes are supported.");
		return false;
	}
	if (*p == '\0' || *p == '.' || *p == '-')
	{
		GUC_check_errdetail("The endpoint has no host name.");
		GUC_check_errhint("For example cn-hangzhou.log.aliyuncs.com, or http://localhost:8080 for a local test endpoint.");
		return false;
	}
	for (; *p && *p != ':' && *p != '/'; p++)
	{
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
		{
			GUC_check_errdetail("The host name may only contain letters, digits, dots and hyphens.");
			GUC_check_errhint("Give the region endpoint without project, path or credentials, for example cn-hangzhou.log.aliyuncs.com.");
			return false;
		}
	}
	if (*p == ':')
	{
		int			digits = 0;

		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
		if (digits == 0 || digits > 5)
		{
			GUC_check_errdetail("The port is not a number.");
			return false;
		}
	}
	if (*p == '/')
		p++;
	if (*p != '\0')
	{
		GUC_check_errdetail("The endpoint must not contain a path or query.");
		GUC_check_errhint("The project goes in otel_aliyun.sls_project and the logstore in otel_aliyun.sls_logstore; the request path is built from them.");
		return false;
	}
	return true;
}

/* Characters allowed in an SLS project (a host name label) or logstore. */
static bool
check_sls_name(const char *v, bool is_project)
{
	Size		len = strlen(v);

	if (len > 63)
		return false;
	for (const char *p = v; *p; p++)
	{
		if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')
			continue;
		if (!is_project && (*p == '_' || (*p >= 'A' && *p <= 'Z')))
			continue;
		return false;
	}
	return true;
}

static bool
check_sls_project(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (!check_sls_name(*newval, true) || (*newval)[0] == '-')
	{
		GUC_check_errdetail("An SLS project name has at most 63 characters: lowercase letters, digits and hyphens, not starting with a hyphen.");
		return false;
	}
	return true;
}

static bool
check_sls_logstore(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (!check_sls_name(*newval, false))
	{
		GUC_check_errdetail("An SLS logstore name has at most 63 characters: letters, digits, hyphens and underscores.");
		return false;
	}
	return true;
}

/*
 * otel_aliyun.builtin_metrics: a comma-separated list of groups (query,
 * database, exporter), "all", or "none" / empty.  The bit mask travels to
 * the assign hook in *extra.
 */
static bool
check_builtin_metrics(char **newval, void **extra, GucSource source)
{
	const char *p = *newval ? *newval : "";
	int			mask = 0;
	int		   *res;

	while (*p)
	{
		const char *start;
		Size		len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		start = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		len = p - start;
		if (len == 0)
			continue;
		if (len == 5 && pg_strncasecmp(start, "query", 5) == 0)
			mask |= OTEL_BUILTIN_QUERY;
		else if (len == 8 && pg_strncasecmp(start, "database", 8) == 0)
			mask |= OTEL_BUILTIN_DATABASE;
		else if (len == 8 && pg_strncasecmp(start, "exporter", 8) == 0)
			mask |= OTEL_BUILTIN_EXPORTER;
		else if (len == 3 && pg_strncasecmp(start, "all", 3) == 0)
			mask |= OTEL_BUILTIN_QUERY | OTEL_BUILTIN_DATABASE | OTEL_BUILTIN_EXPORTER;
		else if (len == 4 && pg_strncasecmp(start, "none", 4) == 0)
			continue;
		else
		{
			GUC_check_errdetail("Unknown built-in metric group \"%.*s\".", (int) Min(len, 64), start);
			GUC_check_errhint("Use a comma-separated list of query, database and exporter, or all, or none.");
			return false;
		}
	}
	res = (int *) malloc(sizeof(int));
	if (res == NULL)
		return false;
	*res = mask;
	*extra = res;
	return true;
}

static void
assign_builtin_metrics(const char *newval, void *extra)
{
	otel_builtin_metrics_mask = *(int *) extra;
}

/* otel_aliyun.metrics_listen_address: host:port or [ipv6]:port, or empty */
static bool
check_listen_address(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;
	const char *colon;
	long		port;
	char	   *end;

	if (v == NULL || v[0] == '\0')
		return true;
	colon = strrchr(v, ':');
	if (colon == NULL || colon == v ||
		(v[0] == '[' && colon[-1] != ']') ||
		(v[0] != '[' && memchr(v, ':', colon - v) != NULL))
	{
		GUC_check_errdetail("The address must be host:port, or [address]:port for IPv6.");
		GUC_check_errhint("For example 127.0.0.1:9187.");
		return false;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || port < 1 || port > 65535)
	{
		GUC_check_errdetail("The port must be a number between 1 and 65535.");
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
	DefineCustomEnumVariable("otel_aliyun.traces_protocol",
							 "How spans travel to otel_aliyun.traces_endpoint: http/protobuf, http/json or grpc.",
							 "For grpc the endpoint is http://host:port (plain text) or https://host:port (TLS), e.g. ARMS on port 8090 or SLS on port 10010.",
							 &otel_traces_protocol, OTEL_OTLP_HTTP_PROTOBUF, otlp_protocol_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
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
							NULL, &otel_max_export_batch_size, 4096, 1, 65536,
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

	/* ---- logs ---- */
	DefineCustomEnumVariable("otel_aliyun.logs_exporter",
							 "Where log records go: sls (PutLogs), otlp (OTLP/HTTP), file (OTLP/JSON lines under the data directory) or none.",
							 NULL, &otel_logs_exporter, OTEL_LOGS_EXPORTER_FILE, logs_exporter_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.logs_endpoint",
							   "OTLP/HTTP logs URL (e.g. http://collector:4318/v1/logs), used when logs_exporter = otlp.",
							   NULL, &otel_logs_endpoint, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, check_url, NULL, NULL);
	DefineCustomEnumVariable("otel_aliyun.logs_protocol",
							 "How log records travel to otel_aliyun.logs_endpoint when logs_exporter = otlp: http/protobuf, http/json or grpc.",
							 "For grpc the endpoint is http://host:port (plain text) or https://host:port (TLS).",
							 &otel_logs_protocol, OTEL_OTLP_HTTP_PROTOBUF, otlp_protocol_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("otel_aliyun.logs_batch_size",
							"Most log records in one export request (SLS accepts at most 4096).",
							NULL, &otel_logs_batch_size, 1024, 1, 4096,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("otel_aliyun.logs_export_interval_ms",
							"Longest time a log record waits in the buffer before it is exported.",
							NULL, &otel_logs_export_interval_ms, 2000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("otel_aliyun.logs_warn_on_drop",
							 "Raises a WARNING when otel_aliyun.log() finds the log buffer full (the record is dropped and counted either way).",
							 NULL, &otel_logs_warn_on_drop, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("otel_aliyun.capture_server_log",
							 "Copies the server's own log messages into the log records exported.",
							 NULL, &otel_capture_server_log, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("otel_aliyun.capture_server_log_min_level",
							 "Least severe server log message captured (same order as log_min_messages).",
							 "Only messages that also pass log_min_messages reach the capture.",
							 &otel_capture_server_log_min_level, WARNING, server_log_level_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("otel_aliyun.sls_endpoint",
							   "SLS endpoint: a region host such as cn-hangzhou.log.aliyuncs.com (HTTPS), or a URL with scheme and port taken as given.",
							   NULL, &otel_sls_endpoint, "",
							   PGC_SIGHUP, 0, check_sls_endpoint, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.sls_project",
							   "SLS project that receives the logs.",
							   NULL, &otel_sls_project, "",
							   PGC_SIGHUP, 0, check_sls_project, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.sls_logstore",
							   "SLS logstore that receives the logs.",
							   NULL, &otel_sls_logstore, "",
							   PGC_SIGHUP, 0, check_sls_logstore, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.sls_topic",
							   "Topic of the log groups sent to SLS (empty: none).",
							   NULL, &otel_sls_topic, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.sls_access_key_id",
							   "AccessKey ID that signs SLS requests.",
							   NULL, &otel_sls_access_key_id, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   check_header_value, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.sls_access_key_secret",
							   "AccessKey secret that signs SLS requests.",
							   NULL, &otel_sls_access_key_secret, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   check_header_value, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.sls_security_token",
							   "STS security token going with a temporary AccessKey (sent as x-acs-security-token).",
							   NULL, &otel_sls_security_token, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   check_header_value, NULL, NULL);
	DefineCustomEnumVariable("otel_aliyun.sls_compression",
							 "Compression of SLS PutLogs bodies: lz4 or none.",
							 NULL, &otel_sls_compression, OTEL_SLS_COMPRESSION_LZ4, sls_compression_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("otel_aliyun.sls_signature_version",
							 "SLS request signature: v1 (hmac-sha1) or v4 (SLS4-HMAC-SHA256, needs the region).",
							 NULL, &otel_sls_signature_version, OTEL_SLS_SIGNATURE_V1, sls_signature_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.sls_region",
							   "Region for v4 signatures, e.g. cn-hangzhou (empty: otel_aliyun.cloud_region, else taken from the endpoint host).",
							   NULL, &otel_sls_region, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);

	/* ---- metrics ---- */
	DefineCustomEnumVariable("otel_aliyun.metrics_exporter",
							 "Where metrics are pushed: prometheus (remote write), otlp (OTLP/HTTP) or none.",
							 "With prometheus and no otel_aliyun.prometheus_remote_write_url nothing is pushed; metrics are still aggregated, shown in otel_aliyun.metrics and served by the pull endpoint.",
							 &otel_metrics_exporter, OTEL_METRICS_EXPORTER_PROMETHEUS, metrics_exporter_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.prometheus_remote_write_url",
							   "Prometheus remote write URL (e.g. Alibaba Cloud Managed Service for Prometheus .../api/v3/write).",
							   NULL, &otel_prometheus_remote_write_url, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, check_url, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.prometheus_username",
							   "User name for Basic authentication to the remote write URL (e.g. an AccessKey ID).",
							   NULL, &otel_prometheus_username, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   check_header_value, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.prometheus_password",
							   "Password for Basic authentication to the remote write URL (e.g. an AccessKey secret).",
							   NULL, &otel_prometheus_password, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   check_header_value, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.prometheus_bearer_token",
							   "Bearer token for the remote write URL (used instead of Basic authentication when set).",
							   NULL, &otel_prometheus_bearer_token, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   check_header_value, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.metrics_endpoint",
							   "OTLP/HTTP metrics URL (e.g. http://collector:4318/v1/metrics), used when metrics_exporter = otlp.",
							   NULL, &otel_metrics_endpoint, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, check_url, NULL, NULL);
	DefineCustomEnumVariable("otel_aliyun.metrics_protocol",
							 "How metrics travel to otel_aliyun.metrics_endpoint when metrics_exporter = otlp: http/protobuf, http/json or grpc.",
							 "For grpc the endpoint is http://host:port (plain text) or https://host:port (TLS).",
							 &otel_metrics_protocol, OTEL_OTLP_HTTP_PROTOBUF, otlp_protocol_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("otel_aliyun.metrics_export_interval_ms",
							"Time between two pushes of every metric series.",
							NULL, &otel_metrics_export_interval_ms, 15000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomEnumVariable("otel_aliyun.metrics_overflow",
							 "What recording a new series past otel_aliyun.max_series does: error, or drop (counted).",
							 "Built-in metrics always drop and count.",
							 &otel_series_overflow, OTEL_SERIES_OVERFLOW_ERROR, series_overflow_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.metrics_listen_address",
							   "host:port on which the export worker serves GET /metrics in the Prometheus text format (empty: off).",
							   NULL, &otel_metrics_listen_address, "",
							   PGC_SIGHUP, 0, check_listen_address, NULL, NULL);
	DefineCustomStringVariable("otel_aliyun.builtin_metrics",
							   "Built-in metric groups recorded: query, database, exporter (comma-separated), all or none.",
							   NULL, &otel_builtin_metrics, "query,database,exporter",
							   PGC_SIGHUP, GUC_LIST_INPUT, check_builtin_metrics,
							   assign_builtin_metrics, NULL);
	DefineCustomIntVariable("otel_aliyun.max_series",
							"Most metric series kept in shared memory.",
							NULL, &otel_max_series, 5000, 10, 1000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);

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
