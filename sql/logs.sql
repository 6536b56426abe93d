--
-- Log records from SQL: otel_aliyun.log() and its shorthands
-- (src/sql_log.c), the logs settings (src/guc.c), permissions, and every
-- kind of bad input.  With otel_aliyun.logs_exporter = file (the default)
-- the worker writes OTLP/JSON lines into the data directory, which this test
-- reads back to check what was exported.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS otel_aliyun;
RESET client_min_messages;
\set VERBOSITY default

-- exported records whose body matches a pattern, with the attributes as
-- {key: AnyValue} and the session attributes set aside
CREATE FUNCTION regress_logs(pattern text)
RETURNS TABLE(severity_number int, severity_text text, body text,
			  attrs jsonb, session jsonb, role_name text, trace_id text,
			  span_id text, flags int, time_ok bool)
LANGUAGE sql AS $$
	SELECT (r->>'severityNumber')::int, r->>'severityText',
		   r->'body'->>'stringValue',
		   a - '{db.namespace,db.name,user.name,db.user,postgresql.application_name,postgresql.backend_pid}'::text[],
		   jsonb_build_object(
			'db', a->'db.namespace'->>'stringValue' = current_database(),
			'db_old', a->'db.name'->>'stringValue' = current_database(),
			'role', a->'user.name'->>'stringValue' = current_user,
			'role_old', a->'db.user'->>'stringValue' = current_user,
			'app', a->'postgresql.application_name'->>'stringValue',
			'pid', (a->'postgresql.backend_pid'->>'intValue')::int = pg_backend_pid()),
		   a->'user.name'->>'stringValue',
		   r->>'traceId', r->>'spanId', (r->>'flags')::int,
		   (r->>'timeUnixNano')::numeric BETWEEN
				(extract(epoch FROM now() - interval '1 hour') * 1e9)
				AND (extract(epoch FROM now() + interval '1 hour') * 1e9)
	FROM regexp_split_to_table(pg_read_file('otel_aliyun/otel_logs.jsonl'), E'\n') AS line,
		 jsonb_path_query(line::jsonb, '$.resourceLogs[*].scopeLogs[*].logRecords[*]') AS r,
		 LATERAL (SELECT coalesce(jsonb_object_agg(kv->>'key', kv->'value'), '{}')
				  FROM jsonb_array_elements(r->'attributes') kv) AS x(a)
	WHERE line <> '' AND r->'body'->>'stringValue' LIKE pattern
	ORDER BY (r->>'timeUnixNano')::numeric
$$;

SELECT truncated AS truncated_before FROM otel_aliyun.stats WHERE signal = 'logs' \gset

-- every severity name, in any case, and the shorthands
SELECT otel_aliyun.log(s, 'regress-sev ' || s)
FROM unnest(ARRAY['trace', 'TRACE2', 'trace3', 'trace4', 'debug', 'Debug2',
				  'info', 'info4', 'warn', 'WARNING', 'warn3', 'error', 'error2',
				  'fatal', 'fatal4']) AS s;
SELECT otel_aliyun.log_trace('regress-short trace'),
	   otel_aliyun.log_debug('regress-short debug'),
	   otel_aliyun.log_info('regress-short info', '{"k": 1}'),
	   otel_aliyun.log_warn('regress-short warn'),
	   otel_aliyun.log_error('regress-short error'),
	   otel_aliyun.log_fatal('regress-short fatal', NULL);

-- attributes: every JSON type; nulls are left out; NULL attributes = none
SELECT otel_aliyun.log('info', 'regress-types', '{
	"s": "text", "i": 42, "neg": -7, "big": 12345678901234567890, "d": 2.5,
	"t": true, "f": false, "nothing": null,
	"arr": [1, "two", 3.5, false, null, [4], {"x": 1}],
	"obj": {"a": {"b": {"c": "deep"}}, "e": {}, "n": null},
	"unicode": "snow \u2603"}');
SELECT otel_aliyun.log('info', 'regress-null-attrs', NULL);
SELECT otel_aliyun.log('info', '', '{"empty_body": true}');
-- a user attribute with a session attribute's name wins over it
SELECT otel_aliyun.log('info', 'regress-override', '{"postgresql.application_name": "mine"}');
-- the record carries the trace context of the statement that made it
SELECT otel_aliyun.log('info', 'regress-traced',
					   jsonb_build_object('tp', otel_aliyun.current_traceparent()));

-- long values and bodies are cut (and counted), never refused
SELECT otel_aliyun.log('info', 'regress-long ' || repeat('b', 70000),
					   jsonb_build_object('v', repeat('v', 9000),
										  'u', repeat('é', 5000)));

-- bad input: clear errors
SELECT otel_aliyun.log('verbose', 'x');
SELECT otel_aliyun.log('', 'x');
SELECT otel_aliyun.log('info5', 'x');
SELECT otel_aliyun.log(NULL, 'x');
SELECT otel_aliyun.log('info', NULL);
SELECT otel_aliyun.log_info(NULL);
SELECT otel_aliyun.log('info', 'x', '[1, 2]');
SELECT otel_aliyun.log('info', 'x', '"just a string"');
SELECT otel_aliyun.log('info', 'x', '42');
SELECT otel_aliyun.log('info', 'x', '{"": 1}');
SELECT otel_aliyun.log('info', 'x', jsonb_build_object(repeat('k', 257), 1));
SELECT otel_aliyun.log('info', 'x', (SELECT jsonb_object_agg('k' || g, g) FROM generate_series(1, 129) g));
SELECT otel_aliyun.log('info', 'x', (SELECT jsonb_build_object('a', jsonb_agg(g)) FROM generate_series(1, 1100) g));
SELECT otel_aliyun.log('info', 'x', '{"1": {"2": {"3": {"4": {"5": {"6": {"7": {"8": {"9": 1}}}}}}}}}');
SELECT otel_aliyun.log('info', 'x', (SELECT jsonb_object_agg('k' || g, repeat('z', 8000)) FROM generate_series(1, 40) g));
-- limits that are fine
SELECT otel_aliyun.log('info', 'regress-limits',
	(SELECT jsonb_object_agg('k' || g, g) FROM generate_series(1, 126) g)
	|| jsonb_build_object(repeat('k', 256), 1)
	|| '{"1": {"2": {"3": {"4": {"5": {"6": {"7": {"8": 1}}}}}}}}');

SELECT otel_aliyun.flush();

-- what the worker exported
SELECT severity_number, severity_text, body, time_ok, trace_id IS NOT NULL AS traced,
	   flags, session
FROM regress_logs('regress-sev %');
SELECT severity_number, severity_text, body, attrs
FROM regress_logs('regress-short %');
SELECT jsonb_pretty(attrs) FROM regress_logs('regress-types');
SELECT attrs, session->>'app' AS app FROM regress_logs('regress-null-attrs');
SELECT body, attrs FROM regress_logs('') WHERE attrs ? 'empty_body';
SELECT attrs, session->>'app' AS app FROM regress_logs('regress-override');
SELECT attrs->'tp'->>'stringValue' = '00-' || trace_id || '-' || span_id || '-01' AS same_context,
	   flags
FROM regress_logs('regress-traced');
SELECT length(body) AS body_len,
	   length(attrs->'v'->>'stringValue') AS v_len,
	   octet_length(attrs->'u'->>'stringValue') AS u_bytes,
	   attrs->'u'->>'stringValue' = repeat('é', 4096) AS u_whole_chars
FROM regress_logs('regress-long %');
SELECT (SELECT count(*) FROM jsonb_object_keys(attrs)) AS nattrs
FROM regress_logs('regress-limits');

-- three values were cut: the body, v and u
SELECT truncated - :truncated_before AS truncated FROM otel_aliyun.stats WHERE signal = 'logs';

-- settings
SHOW otel_aliyun.logs_exporter;
SHOW otel_aliyun.capture_server_log;
SHOW otel_aliyun.capture_server_log_min_level;
SHOW otel_aliyun.sls_compression;
SET otel_aliyun.logs_exporter = 'sls';		-- reload-only
SET otel_aliyun.logs_warn_on_drop = on;
RESET otel_aliyun.logs_warn_on_drop;
SET otel_aliyun.capture_server_log_min_level = 'error';
SET otel_aliyun.capture_server_log_min_level = 'loud';
RESET otel_aliyun.capture_server_log_min_level;
SELECT set_config('otel_aliyun.sls_endpoint', 'http://x', false);	-- reload-only
-- what the check hooks refuse (ALTER SYSTEM validates without applying)
ALTER SYSTEM SET otel_aliyun.sls_endpoint = 'cn-hangzhou.log.aliyuncs.com/path';
ALTER SYSTEM SET otel_aliyun.sls_endpoint = 'ftp://cn-hangzhou.log.aliyuncs.com';
ALTER SYSTEM SET otel_aliyun.sls_endpoint = 'user@cn-hangzhou.log.aliyuncs.com';
ALTER SYSTEM SET otel_aliyun.sls_endpoint = 'http://localhost:99999999';
ALTER SYSTEM SET otel_aliyun.sls_project = 'My_Project';
ALTER SYSTEM SET otel_aliyun.sls_logstore = 'bad/store';
ALTER SYSTEM SET otel_aliyun.logs_batch_size = 5000;
ALTER SYSTEM SET otel_aliyun.logs_exporter = 'kafka';
ALTER SYSTEM SET otel_aliyun.sls_access_key_secret = E'line\nbreak';
ALTER SYSTEM SET otel_aliyun.logs_endpoint = 'collector:4318/v1/logs';
ALTER SYSTEM RESET ALL;

-- permissions: only otel_aliyun_writer members may write log records, and
-- the secrets stay hidden from them
CREATE ROLE regress_otel_logs_user;
GRANT USAGE ON SCHEMA otel_aliyun TO regress_otel_logs_user;
SET ROLE regress_otel_logs_user;
SELECT otel_aliyun.log('info', 'regress-denied');
SELECT otel_aliyun.log_info('regress-denied');
RESET ROLE;
GRANT otel_aliyun_writer TO regress_otel_logs_user;
SET ROLE regress_otel_logs_user;
SELECT otel_aliyun.log('info', 'regress-granted');
SELECT otel_aliyun.log_warn('regress-granted');
SHOW otel_aliyun.sls_access_key_secret;
SHOW otel_aliyun.sls_access_key_id;
SHOW otel_aliyun.sls_security_token;
SHOW otel_aliyun.logs_endpoint;
SELECT name FROM pg_settings WHERE name LIKE 'otel_aliyun.sls_access%';
SET otel_aliyun.capture_server_log = on;
RESET ROLE;
SELECT otel_aliyun.flush();
SELECT severity_text, body, role_name FROM regress_logs('regress-granted');
SELECT count(*) FROM regress_logs('regress-denied');
REVOKE otel_aliyun_writer FROM regress_otel_logs_user;
REVOKE USAGE ON SCHEMA otel_aliyun FROM regress_otel_logs_user;
DROP ROLE regress_otel_logs_user;

DROP FUNCTION regress_logs(text);
