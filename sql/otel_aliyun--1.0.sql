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
