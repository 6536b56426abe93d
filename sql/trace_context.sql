--
-- W3C Trace Context: traceparent validation and sqlcommenter extraction
-- (src/trace_context.c)
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS otel_aliyun;
RESET client_min_messages;

-- valid values, and every class of invalid value
SELECT label, (otel_aliyun.parse_traceparent(tp)).*
FROM (VALUES
	('sampled', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
	('not sampled', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00'),
	('all flags', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff'),
	('upper trace id', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01'),
	('upper span id', '00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01'),
	('upper flags', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0B'),
	('upper version', '0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
	('zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'),
	('zero span id', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'),
	('version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
	('too short', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1'),
	('short trace id', '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01'),
	('00 with extra field', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-00'),
	('00 with junk', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x'),
	('00 with space', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 '),
	('bad separator', '00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
	('non-hex', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01'),
	('empty', ''),
	('future version', 'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
	('future, extra fields', 'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future'),
	('future, junk', 'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.x'),
	('future, short', 'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7')
) AS t(label, tp);

SELECT * FROM otel_aliyun.parse_traceparent(NULL);

-- sqlcommenter comments at either end of a query
SELECT label, (otel_aliyun.context_from_query(q)).*
FROM (VALUES
	('no comment', $q$SELECT 1$q$),
	('no comment, blanks', E'  SELECT 1 ;\n'),
	('trailing', $q$SELECT * FROM t /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/$q$),
	('trailing, then ;', E'SELECT 1 /*traceparent=''00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00''*/ ;\n'),
	('leading', $q$  /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/ SELECT 1$q$),
	('spec example', $q$SELECT * FROM FOO /*action='%2Fparam*d',controller='index',framework='spring',traceparent='00-5bd66ef5095369c7b0d1f8f4bd33716a-c532cb4098ac3dd2-01',tracestate='congo%3Dt61rcWkgMzE%2Crojo%3D00f067aa0ba902b7'*/$q$),
	('url-encoded traceparent', $q$SELECT 1 /*traceparent='00%2d4bf92f3577b34da6a3ce929d0e0e4736%2D00f067aa0ba902b7%2D01'*/$q$),
	('blanks inside', $q$/* traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' , tracestate = 'a=1' */ SELECT 1$q$),
	('escaped quote', $q$SELECT 1 /*route='it\'s',traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/$q$),
	('url-encoded key', $q$SELECT 1 /*trace%70arent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/$q$),
	('future version', $q$SELECT 1 /*traceparent='01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-xyz'*/$q$),
	('uppercase', $q$SELECT 1 /*traceparent='00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01'*/$q$),
	('zero trace id', $q$SELECT 1 /*traceparent='00-00000000000000000000000000000000-00f067aa0ba902b7-01'*/$q$),
	('unquoted value', $q$SELECT 1 /*traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01*/$q$),
	('bad escape', $q$SELECT 1 /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-%zz'*/$q$),
	('no traceparent key', $q$SELECT 1 /*action='index',tracestate='a=1'*/$q$),
	('free-form comment', $q$SELECT 1 /* not for us */$q$),
	('comment in the middle', $q$SELECT /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/ 1$q$),
	('leading without, trailing with', $q$/*action='x'*/ SELECT 1 /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/$q$),
	('leading wins', $q$/*traceparent='00-11111111111111111111111111111111-1111111111111111-01'*/ SELECT 1 /*traceparent='00-22222222222222222222222222222222-2222222222222222-01'*/$q$),
	('nested leading comment', $q$/* a /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/ */ SELECT 1$q$),
	('bad tracestate dropped', $q$SELECT 1 /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',tracestate='%20a=1'*/$q$),
	('only a comment', $q$/*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/$q$),
	('unterminated', $q$SELECT 1 /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'$q$),
	('empty', '')
) AS t(label, q);

-- tracestate is kept up to 512 bytes and dropped when longer
SELECT n, c.found, length(c.tracestate) AS tracestate_len
FROM generate_series(511, 513) AS n,
	LATERAL otel_aliyun.context_from_query(
		'SELECT 1 /*traceparent=''00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'',tracestate=''' ||
		repeat('k', n - 2) || '=v''*/') AS c;

-- the position lets callers cut the comment out of the query text
SELECT overlay(q PLACING '' FROM c.comment_start + 1 FOR c.comment_len) AS without_comment
FROM (VALUES
	($q$SELECT 1 /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/;$q$),
	($q$/*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/ SELECT 2$q$)
) AS t(q), LATERAL otel_aliyun.context_from_query(q) AS c;
