--
-- Metrics from SQL: counter_add, updown_add, gauge_set, histogram_record,
-- define_metric and the otel_aliyun.metrics view (src/sql_metrics.c,
-- src/metrics_store.c), and every kind of bad input.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS otel_aliyun;
RESET client_min_messages;
\set VERBOSITY default

-- the series of this test, without the moving parts
CREATE VIEW regress_series AS
	SELECT name, type, labels, value, count, sum, bucket_bounds, bucket_counts,
		   description, unit, builtin, start_time <= now() AS started
	FROM otel_aliyun.metrics WHERE name LIKE 'regress\_%';

-- counters: one series per (name, labels); label order does not matter
SELECT otel_aliyun.counter_add('regress_orders', 1);
SELECT otel_aliyun.counter_add('regress_orders', 2.5);
SELECT otel_aliyun.counter_add('regress_orders', 1, '{"region": "hz", "tier": "gold"}');
SELECT otel_aliyun.counter_add('regress_orders', 4, '{"tier": "gold", "region": "hz"}');
SELECT otel_aliyun.counter_add('regress_orders', 0, '{"region": "sh"}');
-- numbers and booleans become their text
SELECT otel_aliyun.counter_add('regress_typed', 1, '{"n": 2.50, "ok": true, "s": "x"}');
-- NULL labels mean none
SELECT otel_aliyun.counter_add('regress_orders', 1, NULL);
-- an empty value is no label at all, as in Prometheus
SELECT otel_aliyun.counter_add('regress_orders', 1, '{"region": ""}');

-- up-down counters go both ways; gauges take the last value, infinities too
SELECT otel_aliyun.updown_add('regress_queue', 5, '{"q": "a"}');
SELECT otel_aliyun.updown_add('regress_queue', -7.5, '{"q": "a"}');
SELECT otel_aliyun.gauge_set('regress_temp', 21.5, '{"room": "1"}', 'Room temperature', 'Cel');
SELECT otel_aliyun.gauge_set('regress_temp', -3, '{"room": "1"}');
SELECT otel_aliyun.gauge_set('regress_temp', 'Infinity', '{"room": "2"}');

-- histograms: the OpenTelemetry duration buckets by default (upper bounds
-- included), or the ones defined first
SELECT otel_aliyun.histogram_record('regress_latency', v)
FROM unnest(ARRAY[0.0005, 0.001, 0.003, 0.05, 0.7, 20]) AS v;
SELECT otel_aliyun.define_metric('regress_size', 'histogram', 'Payload size', 'By',
								 ARRAY[100, 1000, 10000]);
SELECT otel_aliyun.histogram_record('regress_size', v, '{"kind": "post"}')
FROM unnest(ARRAY[-5, 100, 101, 5000, 99999]) AS v;
-- the same buckets again is fine, so is a new description
SELECT otel_aliyun.define_metric('regress_size', 'histogram', 'Payload size in bytes',
								 NULL, ARRAY[100, 1000, 10000]);
SELECT otel_aliyun.define_metric('regress_defined', 'updown_counter', 'Defined first');

SELECT name, type, labels, value, count, sum, bucket_bounds, bucket_counts,
	   description, unit, builtin, started
FROM regress_series;

-- ---- bad input ----

-- metric names
SELECT otel_aliyun.counter_add('1orders', 1);
SELECT otel_aliyun.counter_add('orders-total', 1);
SELECT otel_aliyun.counter_add('orders.total', 1);
SELECT otel_aliyun.counter_add('', 1);
SELECT otel_aliyun.counter_add('__orders', 1);
SELECT otel_aliyun.counter_add(repeat('a', 201), 1);
SELECT otel_aliyun.counter_add(NULL, 1);
SELECT otel_aliyun.counter_add('regress_x', NULL);
-- names of built-in metrics
SELECT otel_aliyun.gauge_set('pg_up', 1);
SELECT otel_aliyun.counter_add('otel_aliyun_anything', 1);
SELECT otel_aliyun.histogram_record('postgresql_query_duration_seconds', 1);

-- label names and values
SELECT otel_aliyun.counter_add('regress_orders', 1, '{"1a": "x"}');
SELECT otel_aliyun.counter_add('regress_orders', 1, '{"a.b": "x"}');
SELECT otel_aliyun.counter_add('regress_orders', 1, '{"a-b": "x"}');
SELECT otel_aliyun.counter_add('regress_orders', 1, '{"__name__": "x"}');
SELECT otel_aliyun.counter_add('regress_orders', 1, '{"": "x"}');
SELECT otel_aliyun.histogram_record('regress_latency', 1, '{"le": "1"}');
SELECT otel_aliyun.counter_add('regress_orders', 1, '{"a": null}');
SELECT otel_aliyun.counter_add('regress_orders', 1, '{"a": {"b": 1}}');
SELECT otel_aliyun.counter_add('regress_orders', 1, '{"a": [1, 2]}');
SELECT otel_aliyun.counter_add('regress_orders', 1, jsonb_build_object('a', repeat('v', 257)));
-- labels must be an object
SELECT otel_aliyun.counter_add('regress_orders', 1, '[1, 2]');
SELECT otel_aliyun.counter_add('regress_orders', 1, '"region"');
SELECT otel_aliyun.counter_add('regress_orders', 1, '42');
-- too many labels (16 at most)
SELECT otel_aliyun.counter_add('regress_orders', 1,
	(SELECT jsonb_object_agg('l' || i, i) FROM generate_series(1, 17) i));
SELECT otel_aliyun.counter_add('regress_many', 1,
	(SELECT jsonb_object_agg('l' || i, i) FROM generate_series(1, 16) i));

-- values
SELECT otel_aliyun.counter_add('regress_orders', -1);
SELECT otel_aliyun.counter_add('regress_orders', 'NaN');
SELECT otel_aliyun.counter_add('regress_orders', 'Infinity');
SELECT otel_aliyun.updown_add('regress_queue', '-Infinity', '{"q": "a"}');
SELECT otel_aliyun.gauge_set('regress_temp', 'NaN');
SELECT otel_aliyun.histogram_record('regress_latency', 'Infinity');
SELECT otel_aliyun.histogram_record('regress_latency', 'NaN');

-- one name, one type
SELECT otel_aliyun.gauge_set('regress_orders', 1);
SELECT otel_aliyun.histogram_record('regress_temp', 1);
SELECT otel_aliyun.define_metric('regress_queue', 'counter');

-- names that would clash once exported to Prometheus
SELECT otel_aliyun.gauge_set('regress_orders_total', 1);
SELECT otel_aliyun.counter_add('regress_orders_total', 1);
SELECT otel_aliyun.gauge_set('regress_latency_count', 1);
SELECT otel_aliyun.define_metric('regress_latency_bucket', 'updown_counter');
SELECT otel_aliyun.gauge_set('postgresql_query_duration_seconds_sum', 1);
-- (no clash: regress_temp_total_bucket..., regress_queue_x_total)
SELECT otel_aliyun.histogram_record('regress_temp_total', 1);
SELECT otel_aliyun.counter_add('regress_queue_x', 1);

-- define_metric
SELECT otel_aliyun.define_metric('regress_bad', 'summary');
SELECT otel_aliyun.define_metric('regress_bad', NULL);
SELECT otel_aliyun.define_metric('regress_bad', 'gauge', NULL, NULL, ARRAY[1.0]);
SELECT otel_aliyun.define_metric('regress_bad', 'histogram', NULL, NULL, ARRAY[]::float8[]);
SELECT otel_aliyun.define_metric('regress_bad', 'histogram', NULL, NULL, ARRAY[1, 1]);
SELECT otel_aliyun.define_metric('regress_bad', 'histogram', NULL, NULL, ARRAY[2, 1]);
SELECT otel_aliyun.define_metric('regress_bad', 'histogram', NULL, NULL, ARRAY[1, 'NaN']::float8[]);
SELECT otel_aliyun.define_metric('regress_bad', 'histogram', NULL, NULL, ARRAY[1, 'Infinity']::float8[]);
SELECT otel_aliyun.define_metric('regress_bad', 'histogram', NULL, NULL, ARRAY[1, NULL]);
SELECT otel_aliyun.define_metric('regress_bad', 'histogram', NULL, NULL, ARRAY[[1, 2], [3, 4]]);
SELECT otel_aliyun.define_metric('regress_bad', 'histogram', NULL, NULL,
	(SELECT array_agg(i::float8) FROM generate_series(1, 41) i));
-- buckets are fixed once the histogram exists
SELECT otel_aliyun.define_metric('regress_latency', 'histogram', NULL, NULL, ARRAY[1, 2]);
SELECT otel_aliyun.define_metric('regress_size', 'histogram', NULL, NULL, ARRAY[100, 1000]);
-- units are UCUM-like printable ASCII without spaces; texts have limits
SELECT otel_aliyun.gauge_set('regress_temp', 1, '{}', NULL, 'deg C');
SELECT otel_aliyun.gauge_set('regress_temp', 1, '{}', NULL, repeat('u', 65));
SELECT otel_aliyun.gauge_set('regress_temp', 1, '{}', repeat('d', 1025));
-- nothing above was recorded
SELECT name, count(*) FROM regress_series WHERE name IN ('regress_bad', 'regress_x')
GROUP BY name;
SELECT sum(value) AS orders FROM regress_series WHERE name = 'regress_orders';

-- ---- privileges: EXECUTE is granted to otel_aliyun_writer only; the view
-- to pg_monitor too ----
CREATE ROLE regress_metrics_user;
SET ROLE regress_metrics_user;
SELECT otel_aliyun.counter_add('regress_orders', 1);
-- credentials stay hidden
SHOW otel_aliyun.prometheus_password;
SHOW otel_aliyun.prometheus_bearer_token;
SHOW otel_aliyun.prometheus_username;
RESET ROLE;
GRANT pg_monitor TO regress_metrics_user;
SET ROLE regress_metrics_user;
SELECT otel_aliyun.counter_add('regress_orders', 1);
SELECT otel_aliyun.define_metric('regress_other', 'gauge');
SELECT count(*) > 0 AS monitor_sees_metrics FROM otel_aliyun.metrics WHERE name = 'regress_orders';
RESET ROLE;
REVOKE pg_monitor FROM regress_metrics_user;
GRANT otel_aliyun_writer TO regress_metrics_user;
SET ROLE regress_metrics_user;
SELECT otel_aliyun.counter_add('regress_orders', 1, '{"who": "writer"}');
SELECT count(*) > 0 AS writer_sees_metrics FROM otel_aliyun.metrics WHERE name = 'regress_orders';
RESET ROLE;
REVOKE otel_aliyun_writer FROM regress_metrics_user;
DROP ROLE regress_metrics_user;

-- otel_aliyun.enabled = off: validated, not recorded
SET otel_aliyun.enabled = off;
SELECT otel_aliyun.counter_add('regress_disabled', 1);
SELECT otel_aliyun.counter_add('regress_disabled', -1);
RESET otel_aliyun.enabled;
SELECT count(*) FROM regress_series WHERE name = 'regress_disabled';

-- the built-in query histogram saw this session's statements
SELECT count(*) > 0 AS has_selects
FROM otel_aliyun.metrics
WHERE name = 'postgresql_query_duration_seconds'
  AND labels @> '{"db.operation.name": "SELECT"}'
  AND labels ? 'db.namespace' AND NOT labels ? 'error.type';
-- ... failures included, by SQLSTATE
SELECT 1/0;
SELECT labels->>'error.type' AS error_type, count >= 1 AS counted
FROM otel_aliyun.metrics
WHERE name = 'postgresql_query_duration_seconds' AND labels ? 'error.type'
  AND labels->>'error.type' = '22012';

-- the settings
SHOW otel_aliyun.metrics_exporter;
SHOW otel_aliyun.metrics_export_interval_ms;
SHOW otel_aliyun.max_series;
SHOW otel_aliyun.builtin_metrics;
SET otel_aliyun.metrics_exporter = 'otlp';
-- (ALTER SYSTEM runs the checks of reload-time settings, and writes
-- nothing when they fail)
ALTER SYSTEM SET otel_aliyun.metrics_exporter = 'graphite';
ALTER SYSTEM SET otel_aliyun.builtin_metrics = 'query,bogus';
ALTER SYSTEM SET otel_aliyun.metrics_listen_address = 'localhost';
ALTER SYSTEM SET otel_aliyun.metrics_listen_address = '127.0.0.1:99999';
ALTER SYSTEM SET otel_aliyun.metrics_listen_address = '::1:9187';
ALTER SYSTEM SET otel_aliyun.prometheus_remote_write_url = 'ftp://example.com/write';
ALTER SYSTEM SET otel_aliyun.prometheus_password = E'a\nb';
ALTER SYSTEM SET otel_aliyun.metrics_export_interval_ms = 10;
SET otel_aliyun.metrics_overflow = 'sometimes';
SET otel_aliyun.metrics_overflow = 'drop';
RESET otel_aliyun.metrics_overflow;

DROP VIEW regress_series;
