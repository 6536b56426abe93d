
# Copyright (c) otel_aliyun contributors

# Hooks are chained: pg_stat_statements and auto_explain loaded alongside
# (before and after otel_aliyun) keep working; postgresql.query_id equals
# pg_stat_statements' queryid; block counts agree with pg_stat_statements;
# with track = all, statements run by PL/pgSQL functions are children of
# the statement that called them.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;

my $rx = OtelTest::Receiver->new;

my %orders = (
	after => 'pg_stat_statements,auto_explain,otel_aliyun',
	before => 'otel_aliyun,pg_stat_statements,auto_explain',
);

for my $order (sort keys %orders)
{
	$rx->reset;
	my $node = otel_node(
		"compat_$order",
		preload => $orders{$order},
		otel => { traces_endpoint => $rx->url, sample_rate => 1 },
		conf => join("\n",
			'pg_stat_statements.track = all',
			'pg_stat_statements.track_planning = on',
			'auto_explain.log_min_duration = 0',
			'auto_explain.log_analyze = on',
			'auto_explain.log_buffers = on',
			'auto_explain.log_nested_statements = on'));
	my $tag = "otel_aliyun $order the others";
	$node->safe_psql(
		'postgres', q{
CREATE EXTENSION pg_stat_statements;
CREATE TABLE c9_items (id int PRIMARY KEY, n int);
INSERT INTO c9_items SELECT g, g % 7 FROM generate_series(1, 1000) g;
CREATE TABLE c9_log (id int, note text);
CREATE FUNCTION c9_work(k int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE r int;
BEGIN
	SELECT count(*) INTO r FROM c9_items WHERE n = k;
	INSERT INTO c9_log VALUES (k, 'c9');
	PERFORM c9_inner(k);
	RETURN r;
END $$;
CREATE FUNCTION c9_inner(k int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	UPDATE c9_log SET note = 'c9 inner' WHERE id = k;
END $$;
CREATE TABLE c9_audit (id int);
CREATE FUNCTION c9_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO c9_audit VALUES (NEW.id);
	RETURN NULL;
END $$;
CREATE TRIGGER c9_audit AFTER INSERT ON c9_log FOR EACH ROW EXECUTE FUNCTION c9_audit_row();
SELECT pg_stat_statements_reset();
});
	ok(otel_flush($node), "$tag: flush");
	$rx->reset;

	my $logpos = -s $node->logfile;
	$node->safe_psql('postgres',
		join('', map { "SELECT id, n FROM c9_items WHERE id = $_;\n" } 1 .. 5));
	ok(otel_flush($node), "$tag: flush");

	# pg_stat_statements
	my ($qid, $calls, $hits) = split /\|/, $node->safe_psql('postgres',
		q{SELECT queryid, calls, shared_blks_hit + shared_blks_read FROM pg_stat_statements
		  WHERE query = 'SELECT id, n FROM c9_items WHERE id = $1'});
	is($calls, 5, "$tag: pg_stat_statements counted the 5 calls");
	my @s = server_spans($rx->spans, text => 'SELECT id, n FROM c9_items WHERE id = $1');
	is(scalar @s, 5, "$tag: 5 statement spans");
	is(scalar(grep { defined attr($_, 'postgresql.query_id') && attr($_, 'postgresql.query_id') eq $qid } @s),
		5, "$tag: postgresql.query_id = pg_stat_statements.queryid ($qid)");
	my $span_hits = 0;
	$span_hits += (attr($_, 'postgresql.shared_blks_hit') // 0) + (attr($_, 'postgresql.shared_blks_read') // 0)
	  for @s;
	# otel_aliyun's own first catalog lookups may fall inside pg_stat_statements'
	# planning measurement when it is the inner hook: a few blocks of slack
	ok(abs($span_hits - $hits) <= 10,
		"$tag: blocks over the spans ($span_hits) = pg_stat_statements' ($hits), planning included");

	# auto_explain
	my $log = slurp_file($node->logfile, $logpos);
	like($log, qr/Query Text: SELECT id, n FROM c9_items WHERE id = 3.*?Index Scan using c9_items_pkey/s,
		"$tag: auto_explain logged the plans");

	# ---- track = all: nested statements --------------------------------------
	$rx->reset;
	$node->safe_psql('postgres', "SET otel_aliyun.track = 'all';\nSELECT c9_work(3);");
	$node->safe_psql('postgres', "SET otel_aliyun.track = 'top';\nSELECT c9_work(4);");
	my ($settled, $t_last) = otel_settle($node);
	ok($settled, "$tag: flush");
	my $spans = $rx->spans;

	my @tops = server_spans($spans, text => 'SELECT c9_work($1)');
	is(scalar @tops, 2, "$tag: two top-level statement spans");
	my ($all_top) = grep {
		my $t = $_;
		grep { $_->{traceId} eq $t->{traceId} && $_->{kindName} ne 'SERVER'
			  && (attr($_, 'db.query.text') // '') =~ /c9_items/ } @$spans
	} @tops;
	ok($all_top, "$tag: track = all: nested statements recorded in the caller's trace")
	  or do { dump_spans($spans, 'spans'); next };
	my @trace = grep { $_->{traceId} eq $all_top->{traceId} } @$spans;
	my %by = map { $_->{spanId} => $_ } @trace;
	my $ancestor_of = sub {
		my ($s, $anc) = @_;
		while ($s && $s->{parentSpanId} ne '')
		{
			return 1 if $s->{parentSpanId} eq $anc->{spanId};
			$s = $by{ $s->{parentSpanId} };
		}
		return 0;
	};
	for my $re ([ qr/^SELECT count\(\*\) FROM c9_items WHERE n = k$|c9_items WHERE n =/, 'SELECT in the function' ],
		[ qr/^INSERT INTO c9_log/, 'INSERT in the function' ],
		[ qr/c9_inner/, 'PERFORM of the inner function' ],
		[ qr/^UPDATE c9_log/, 'UPDATE in the inner function' ])
	{
		my ($pat, $label) = @$re;
		my @n = grep { (attr($_, 'db.query.text') // '') =~ $pat && $_->{spanId} ne $all_top->{spanId} } @trace;
		is(scalar @n, 1, "$tag: $label: one nested statement span") or next;
		ok($ancestor_of->($n[0], $all_top), "$tag: $label: descends from the calling statement");
		is($n[0]->{kindName}, 'INTERNAL', "$tag: $label: INTERNAL");
		cmp_ok(attr($n[0], 'postgresql.nesting_level') // 0, '>=', 1, "$tag: $label: nesting level");
		cmp_ok($n[0]->{startTimeUnixNano}, '>=', $all_top->{startTimeUnixNano}, "$tag: $label: inside in time");
		cmp_ok($n[0]->{endTimeUnixNano}, '<=', $all_top->{endTimeUnixNano}, "$tag: $label: ends inside");
	}
	my $upd = (grep { (attr($_, 'db.query.text') // '') =~ /^UPDATE c9_log/ } @trace)[0];
	my $perf = (grep { (attr($_, 'db.query.text') // '') =~ /c9_inner/ && $_->{spanId} ne $all_top->{spanId} } @trace)[0];
	ok($upd && $perf && $ancestor_of->($upd, $perf), "$tag: the inner UPDATE descends from the PERFORM");
	# an AFTER trigger fires in the ExecutorFinish of the INSERT that queued it
	my $ins = (grep { (attr($_, 'db.query.text') // '') =~ /^INSERT INTO c9_log/ } @trace)[0];
	my @aud = grep { (attr($_, 'db.query.text') // '') =~ /^INSERT INTO c9_audit/ } @trace;
	is(scalar @aud, 1, "$tag: the AFTER trigger's INSERT: one nested statement span");
	ok($ins && @aud && $ancestor_of->($aud[0], $ins),
		"$tag: the AFTER trigger's INSERT descends from the INSERT that fired it");
	my ($nested_qid) = $node->safe_psql('postgres',
		q{SELECT queryid FROM pg_stat_statements WHERE query LIKE 'UPDATE c9_log%'});
	is($upd && attr($upd, 'postgresql.query_id'), $nested_qid,
		"$tag: nested statement's query_id = pg_stat_statements'");

	my ($top_top) = grep { $_ != $all_top } @tops;
	is(scalar(grep { $_->{traceId} eq $top_top->{traceId} && (attr($_, 'db.query.text') // '') =~ /c9_log|c9_items/ } @$spans),
		0, "$tag: track = top: no nested statement spans") if $top_top;
	is(scalar(orphan_spans($spans, $t_last)), 0, "$tag: no orphans");

	# track = top: a trigger's statements are nested, not statements of their own
	$rx->reset;
	$node->safe_psql('postgres', "INSERT INTO c9_log VALUES (99, 'top');\n"
		  . "WITH w AS (INSERT INTO c9_log VALUES (98, 'cte') RETURNING id) SELECT id FROM w;\n"
		  . "SELECT count(*) FROM c9_audit;");
	($settled) = otel_settle($node);
	ok($settled, "$tag: flush");
	$spans = $rx->spans;
	is(scalar(server_spans($spans, text => q{INSERT INTO c9_log VALUES ($1, $2)})), 1,
		"$tag: track = top: the INSERT that fires a trigger is one statement span");
	is(scalar(server_spans($spans, text => q{WITH w AS (INSERT INTO c9_log VALUES ($1, $2) RETURNING id) SELECT id FROM w})),
		1, "$tag: track = top: a SELECT whose WITH inserts is one statement span");
	is(scalar(grep { (attr($_, 'db.query.text') // '') =~ /c9_audit VALUES/ } @$spans), 0,
		"$tag: track = top: no span for the trigger's INSERTs (plain, and under a WITH)");
	is(scalar(server_spans($spans, text => 'SELECT count(*) FROM c9_audit')), 1,
		"$tag: track = top: the next statement is top-level again");

	$node->stop;
	ok(slurp_file($node->logfile) !~ /PANIC|was terminated by signal/, "$tag: no crash");
}

done_testing();
