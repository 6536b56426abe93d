--
-- Query text: db.query.summary, db.operation.name and lexer sanitising
-- (src/query_text.c)
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS otel_aliyun;
RESET client_min_messages;

CREATE TEMP TABLE qt_cases (id serial, q text);
INSERT INTO qt_cases (q) VALUES
	-- DML, FROM lists, joins, subqueries
	('SELECT * FROM public.orders o LEFT JOIN "Customers" c USING (id), items i WHERE o.x = 1'),
	('select a from t1, (select * from t2) s, t3 where a in (select b from t4)'),
	('SELECT * FROM a JOIN b ON a.x = b.x AND b.y IN (1,2), c WHERE c.z = 1'),
	('SELECT * FROM (a JOIN b ON true) JOIN c ON true'),
	('SELECT * FROM t1 NATURAL JOIN t2, LATERAL (SELECT * FROM t3 WHERE t3.a = t1.a) l'),
	('SELECT extract(year FROM ts), substring(s from 1 for 2) FROM events'),
	('SELECT a IS DISTINCT FROM b FROM t'),
	('SELECT * FROM generate_series(1, 10) g, pg_class'),
	('SELECT * FROM t ORDER BY a, b'),
	('SELECT * FROM t1 FOR NO KEY UPDATE OF t1'),
	('(SELECT 1 FROM a) UNION (SELECT 2 FROM b)'),
	('WITH cte AS (SELECT * FROM src) INSERT INTO dst SELECT * FROM cte'),
	('WITH RECURSIVE r(n) AS (VALUES (1) UNION ALL SELECT n+1 FROM r WHERE n < 5) SELECT * FROM r'),
	('INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = excluded.a'),
	('UPDATE ONLY accounts a SET bal = bal - 10 FROM rates r WHERE a.id = r.id'),
	('DELETE FROM logs l USING sessions s WHERE l.sid = s.id'),
	('MERGE INTO tgt t USING src s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)'),
	('MERGE INTO t USING (SELECT * FROM s) AS x ON t.id = x.id WHEN MATCHED THEN DELETE'),
	('TABLE t'),
	('VALUES (1, 2)'),
	-- quoting of other dialects, as in the conventions' examples
	('SELECT * FROM "song list", ''artists'''),
	('SELECT * FROM [dbo].[My Table] JOIN `db`.`x`'),
	-- DDL and utility statements
	('CREATE TABLE IF NOT EXISTS s.t (id int REFERENCES p(id) ON DELETE CASCADE ON UPDATE SET NULL)'),
	('CREATE TEMP TABLE tmp AS SELECT * FROM big WHERE x > 5'),
	('CREATE OR REPLACE VIEW v AS SELECT a FROM t'),
	('CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM t'),
	('CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx ON t (a)'),
	('CREATE INDEX ON t (a)'),
	('CREATE OR REPLACE FUNCTION f(x int) RETURNS int AS $$ SELECT x FROM secret $$ LANGUAGE sql'),
	('DROP TABLE IF EXISTS a, b.c CASCADE'),
	('ALTER TABLE ONLY t ADD COLUMN c int DEFAULT -1'),
	('ALTER SYSTEM SET work_mem = ''64MB'''),
	('TRUNCATE TABLE a, ONLY b'),
	('VACUUM (VERBOSE, ANALYZE) t1, t2 (a)'),
	('VACUUM FULL'),
	('ANALYZE VERBOSE t'),
	('LOCK TABLE t IN ACCESS EXCLUSIVE MODE'),
	('REINDEX TABLE CONCURRENTLY t'),
	('REFRESH MATERIALIZED VIEW CONCURRENTLY mv'),
	('COPY t (a, b) FROM STDIN'),
	('COPY (SELECT * FROM t WHERE a = 1) TO STDOUT'),
	('CALL proc(1, ''x'')'),
	('EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t WHERE a = 1'),
	('EXPLAIN ANALYZE VERBOSE UPDATE t SET a = 2'),
	('PREPARE p(int) AS SELECT * FROM t WHERE a = $1'),
	('PREPARE TRANSACTION ''gx1'''),
	('EXECUTE p(5)'),
	('DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t'),
	('FETCH 10 FROM c'),
	('BEGIN ISOLATION LEVEL SERIALIZABLE'),
	('START TRANSACTION'),
	('COMMIT PREPARED ''gx1'''),
	('ROLLBACK'),
	('SET search_path = a, b'),
	('SHOW work_mem'),
	('DO $$BEGIN PERFORM 1; END$$'),
	('GRANT SELECT, UPDATE ON t TO bob'),
	('NOTIFY chan, ''payload'''),
	('BEGIN; UPDATE t SET a = 1; COMMIT;'),
	-- literals of every kind
	('SELECT true, FALSE, NULL, $1, x-1, x - -1, a[1]-1, (2)-1, 1.5e-3, .5, 0x1F, 0b101, 1_000'),
	('SELECT B''101'', X''1f'', E''it\''s'', n''x'', U&''d\0061'' UESCAPE ''!'', U&"id", $q$ $ $q$'),
	('UPDATE t SET a = -1, b = +2 WHERE c BETWEEN -5 AND -3 LIMIT -1'),
	('SELECT a-1, a -1, 5-1, -1-1, ''x''||''y'''),
	-- nothing to say, and text that does not lex
	('garbage words here'),
	(''),
	('   -- only a comment'),
	('SELECT ''unterminated'),
	('SELECT /* unterminated /* nested */ comment 123'),
	('SELECT $tag$ unterminated 123'),
	('SELECT "unterminated ident, 123'),
	('SELECT $a$x$b$y$a$, 5');

SELECT id, otel_aliyun.query_operation(q) AS operation,
	   otel_aliyun.query_summary(q) AS summary
FROM qt_cases ORDER BY id;

SELECT id, otel_aliyun.query_sanitise(q) AS numbered,
	   otel_aliyun.query_sanitise(q, '?') AS question
FROM qt_cases ORDER BY id;

-- comments go, the blanks around them stay
SELECT otel_aliyun.query_sanitise(E'SELECT 1 -- one\r\nFROM /* a /* b */ c */ t -- end');

-- new numbers follow the highest $n already used
SELECT otel_aliyun.query_sanitise('SELECT $2, 7, $10, ''x''');

-- the summary stops before the part that would pass 255 bytes
SELECT length(s), s LIKE 'SELECT %', right(s, 5)
FROM (SELECT otel_aliyun.query_summary(
		'SELECT * FROM ' || string_agg('table_number_' || g, ', ')) AS s
	  FROM generate_series(1, 100) g) x;
SELECT length(otel_aliyun.query_summary(
		'SELECT * FROM ' || repeat('x', 300)));

-- deep nesting and long text
SELECT otel_aliyun.query_summary(repeat('(', 1000) || 'SELECT 1 FROM deep' || repeat(')', 1000));
SELECT length(otel_aliyun.query_sanitise(
		'SELECT ' || string_agg(g::text, ', ') || ' FROM t', '?'))
FROM generate_series(1, 100000) g;

-- NULL in, NULL out; an unknown placeholder is an error
SELECT otel_aliyun.query_summary(NULL) IS NULL,
	   otel_aliyun.query_sanitise(NULL) IS NULL,
	   otel_aliyun.query_operation(NULL) IS NULL;
SELECT otel_aliyun.query_sanitise('SELECT 1', '%s');
