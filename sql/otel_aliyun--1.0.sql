/* otel_aliyun--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION otel_aliyun" to load this file. \quit

-- Exporting state, one row per signal.  Never shows secrets.
CREATE FUNCTION otel_aliyun.stats(
	OUT signal text,
	OUT produced bigint,
	OUT sampled_out bigint,
	OUT dropped bigint,
	OUT exported bigint,
	OUT failed bigint,
	OUT retries bigint,
	OUT requests bigint,
	OUT bytes_sent bigint,
	OUT rejected bigint,
	OUT invalid_context bigint,
	OUT truncated bigint,
	OUT buffer_used_bytes bigint,
	OUT buffer_size_bytes bigint,
	OUT last_error text,
	OUT last_error_time timestamptz,
	OUT last_success_time timestamptz,
	OUT destination text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'otel_aliyun_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW otel_aliyun.stats AS SELECT * FROM otel_aliyun.stats();

CREATE FUNCTION otel_aliyun.stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'otel_aliyun_stats_reset'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION otel_aliyun.flush(timeout_ms int DEFAULT 10000)
RETURNS boolean
AS 'MODULE_PATHNAME', 'otel_aliyun_flush'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION otel_aliyun.current_traceparent()
RETURNS text
AS 'MODULE_PATHNAME', 'otel_aliyun_current_traceparent'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

REVOKE ALL ON FUNCTION otel_aliyun.stats() FROM PUBLIC;
REVOKE ALL ON otel_aliyun.stats FROM PUBLIC;
REVOKE ALL ON FUNCTION otel_aliyun.stats_reset() FROM PUBLIC;
REVOKE ALL ON FUNCTION otel_aliyun.flush(int) FROM PUBLIC;
GRANT SELECT ON otel_aliyun.stats TO pg_monitor;
GRANT EXECUTE ON FUNCTION otel_aliyun.stats() TO pg_monitor;


-- W3C traceparent parser (trace_context.c), for tests and diagnostics.
CREATE FUNCTION otel_aliyun.parse_traceparent(
	traceparent text,
	OUT valid boolean,
	OUT trace_id text,
	OUT parent_span_id text,
	OUT flags int,
	OUT sampled boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'otel_aliyun_parse_traceparent'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- sqlcommenter context found at the start or end of a query text;
-- found is 'none', 'valid' or 'invalid'; comment_start is a 0-based byte offset.
CREATE FUNCTION otel_aliyun.context_from_query(
	query text,
	OUT found text,
	OUT traceparent text,
	OUT tracestate text,
	OUT comment_start int,
	OUT comment_len int)
RETURNS record
AS 'MODULE_PATHNAME', 'otel_aliyun_context_from_query'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Checks every configured destination: a real test export for HTTP
-- endpoints (one diagnostic span), writability for the file directory.
-- Makes network requests from the session: superusers only by default.
CREATE FUNCTION otel_aliyun.diagnose()
RETURNS TABLE(signal text, destination text, endpoint text, reachable bool,
			  http_status int, latency_ms double precision, detail text,
			  hint text)
AS 'MODULE_PATHNAME', 'otel_aliyun_diagnose'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION otel_aliyun.diagnose() FROM PUBLIC;

-- Query text helpers (query_text.c), for tests and diagnostics: what spans
-- put in db.query.summary, db.query.text (lexer sanitising, for statements
-- without a JumbleState; placeholder '$' numbers them $1, $2, ..., '?' is
-- the conventions' placeholder) and db.operation.name.
CREATE FUNCTION otel_aliyun.query_summary(query text)
RETURNS text
AS 'MODULE_PATHNAME', 'otel_aliyun_query_summary'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION otel_aliyun.query_sanitise(query text, placeholder text DEFAULT '$')
RETURNS text
AS 'MODULE_PATHNAME', 'otel_aliyun_query_sanitise'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION otel_aliyun.query_operation(query text)
RETURNS text
AS 'MODULE_PATHNAME', 'otel_aliyun_query_operation'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Structured log records from SQL (sql_log.c).  They go into the shared
-- log buffer and are exported by the worker (otel_aliyun.logs_exporter);
-- the call never waits for the network.  Returns false when the record was
-- not queued: buffer full (dropped and counted), otel_aliyun.enabled off,
-- or logs_exporter = none.  Not STRICT, so that NULLs get a clear error.
CREATE FUNCTION otel_aliyun.log(severity text, body text, attributes jsonb DEFAULT '{}')
RETURNS boolean
AS 'MODULE_PATHNAME', 'otel_aliyun_log'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION otel_aliyun.log_trace(body text, attributes jsonb DEFAULT '{}')
RETURNS boolean
AS 'MODULE_PATHNAME', 'otel_aliyun_log_trace'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION otel_aliyun.log_debug(body text, attributes jsonb DEFAULT '{}')
RETURNS boolean
AS 'MODULE_PATHNAME', 'otel_aliyun_log_debug'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION otel_aliyun.log_info(body text, attributes jsonb DEFAULT '{}')
RETURNS boolean
AS 'MODULE_PATHNAME', 'otel_aliyun_log_info'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION otel_aliyun.log_warn(body text, attributes jsonb DEFAULT '{}')
RETURNS boolean
AS 'MODULE_PATHNAME', 'otel_aliyun_log_warn'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION otel_aliyun.log_error(body text, attributes jsonb DEFAULT '{}')
RETURNS boolean
AS 'MODULE_PATHNAME', 'otel_aliyun_log_error'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION otel_aliyun.log_fatal(body text, attributes jsonb DEFAULT '{}')
RETURNS boolean
AS 'MODULE_PATHNAME', 'otel_aliyun_log_fatal'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- Only members of otel_aliyun_writer (and superusers) may write log
-- records.  The role is cluster-wide: created by the first database that
-- installs the extension, kept by DROP EXTENSION.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'otel_aliyun_writer') THEN
		CREATE ROLE otel_aliyun_writer NOLOGIN;
	END IF;
END
$$;

GRANT USAGE ON SCHEMA @extschema@ TO otel_aliyun_writer;
REVOKE ALL ON FUNCTION otel_aliyun.log(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION otel_aliyun.log_trace(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION otel_aliyun.log_debug(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION otel_aliyun.log_info(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION otel_aliyun.log_warn(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION otel_aliyun.log_error(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION otel_aliyun.log_fatal(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION otel_aliyun.log(text, text, jsonb) TO otel_aliyun_writer;
GRANT EXECUTE ON FUNCTION otel_aliyun.log_trace(text, jsonb) TO otel_aliyun_writer;
GRANT EXECUTE ON FUNCTION otel_aliyun.log_debug(text, jsonb) TO otel_aliyun_writer;
GRANT EXECUTE ON FUNCTION otel_aliyun.log_info(text, jsonb) TO otel_aliyun_writer;
GRANT EXECUTE ON FUNCTION otel_aliyun.log_warn(text, jsonb) TO otel_aliyun_writer;
GRANT EXECUTE ON FUNCTION otel_aliyun.log_error(text, jsonb) TO otel_aliyun_writer;
GRANT EXECUTE ON FUNCTION otel_aliyun.log_fatal(text, jsonb) TO otel_aliyun_writer;

-- Metrics from SQL (sql_metrics.c), aggregated in shared memory, one series
-- per (name, labels), and pushed by the worker every
-- otel_aliyun.metrics_export_interval_ms (otel_aliyun.metrics_exporter).
-- Nothing here waits for the network.  description and unit, when given,
-- are kept with the metric.  Not STRICT, so that NULLs get a clear error.
CREATE FUNCTION otel_aliyun.counter_add(name text, value double precision,
	labels jsonb DEFAULT '{}', description text DEFAULT NULL, unit text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'otel_aliyun_counter_add'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION otel_aliyun.updown_add(name text, value double precision,
	labels jsonb DEFAULT '{}', description text DEFAULT NULL, unit text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'otel_aliyun_updown_add'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION otel_aliyun.gauge_set(name text, value double precision,
	labels jsonb DEFAULT '{}', description text DEFAULT NULL, unit text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'otel_aliyun_gauge_set'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION otel_aliyun.histogram_record(name text, value double precision,
	labels jsonb DEFAULT '{}', description text DEFAULT NULL, unit text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'otel_aliyun_histogram_record'
LANGUAGE C VOLATILE PARALLEL SAFE;

-- type: counter, updown_counter, gauge or histogram.  buckets: histogram
-- upper bounds (default the OpenTelemetry duration buckets in seconds
-- 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10), set before the first value.
CREATE FUNCTION otel_aliyun.define_metric(name text, type text,
	description text DEFAULT NULL, unit text DEFAULT NULL,
	buckets double precision[] DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'otel_aliyun_define_metric'
LANGUAGE C VOLATILE PARALLEL SAFE;

-- Every series with its current value; histograms with count, sum and
-- cumulative bucket counts (the last one is +Inf).
CREATE FUNCTION otel_aliyun.metrics(
	OUT name text,
	OUT type text,
	OUT labels jsonb,
	OUT value double precision,
	OUT count bigint,
	OUT sum double precision,
	OUT bucket_bounds double precision[],
	OUT bucket_counts bigint[],
	OUT description text,
	OUT unit text,
	OUT start_time timestamptz,
	OUT builtin boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'otel_aliyun_metrics'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW otel_aliyun.metrics AS
	SELECT * FROM otel_aliyun.metrics() ORDER BY name, labels::text;

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'otel_aliyun_writer') THEN
		CREATE ROLE otel_aliyun_writer NOLOGIN;
	END IF;
END
$$;

GRANT USAGE ON SCHEMA @extschema@ TO otel_aliyun_writer;
REVOKE ALL ON FUNCTION otel_aliyun.counter_add(text, double precision, jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION otel_aliyun.updown_add(text, double precision, jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION otel_aliyun.gauge_set(text, double precision, jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION otel_aliyun.histogram_record(text, double precision, jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION otel_aliyun.define_metric(text, text, text, text, double precision[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION otel_aliyun.metrics() FROM PUBLIC;
REVOKE ALL ON otel_aliyun.metrics FROM PUBLIC;
GRANT EXECUTE ON FUNCTION otel_aliyun.counter_add(text, double precision, jsonb, text, text) TO otel_aliyun_writer;
GRANT EXECUTE ON FUNCTION otel_aliyun.updown_add(text, double precision, jsonb, text, text) TO otel_aliyun_writer;
GRANT EXECUTE ON FUNCTION otel_aliyun.gauge_set(text, double precision, jsonb, text, text) TO otel_aliyun_writer;
GRANT EXECUTE ON FUNCTION otel_aliyun.histogram_record(text, double precision, jsonb, text, text) TO otel_aliyun_writer;
GRANT EXECUTE ON FUNCTION otel_aliyun.define_metric(text, text, text, text, double precision[]) TO otel_aliyun_writer;
GRANT EXECUTE ON FUNCTION otel_aliyun.metrics() TO pg_monitor, otel_aliyun_writer;
GRANT SELECT ON otel_aliyun.metrics TO pg_monitor, otel_aliyun_writer;
-- monitoring roles reach the views (their grants above say which)
GRANT USAGE ON SCHEMA @extschema@ TO pg_monitor;
