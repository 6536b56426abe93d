
# Copyright (c) otel_aliyun contributors

# Metrics pushed by Prometheus remote write into a real Prometheus (Debian's
# prometheus, --web.enable-remote-write-receiver), through a proxy that
# records and decodes every request independently of the extension and can
# inject failures.  Asserted through Prometheus' HTTP API: exact values,
# labels and histogram buckets of SQL-recorded metrics, naming (_total,
# _bucket/_sum/_count), job/instance/target_info, the built-in query
# histogram and database metrics; on the wire: snappy, the remote write
# headers, Basic authentication, sorted labels; 503 then 200 retried with no
# duplicate or out-of-order sample; 400 dropped and counted; concurrent
# recording from 16 pgbench clients; the series cap.

use strict;
use warnings;
use MIME::Base64 qw(encode_base64);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;
use PromTest;

my $prom = PromTest::Server->new(name => 'prom');
my $proxy = PromTest::Proxy->new(upstream => $prom->base);

my $node = otel_node(
	'rw',
	otel => {
		prometheus_remote_write_url => $proxy->write_url,
		prometheus_username => 'LTAI5tExampleKeyId',
		prometheus_password => 'se:cret/pw',
		# pushes only on flush(), so that every request is accounted for
		metrics_export_interval_ms => 3600000,
		service_name => 'pg-metrics',
		service_version => '9.8.7',
		resource_attributes => 'team=db,service.namespace=shop',
		sample_rate => 0,
		max_retries => 5,
		max_series => 1000,
	});

# ---- SQL metrics: exact values, labels and buckets ----

$node->safe_psql(
	'postgres', q{
SELECT otel_aliyun.counter_add('app_orders', 3, '{"region": "hz"}', 'Orders placed');
SELECT otel_aliyun.counter_add('app_orders', 4.5, '{"region": "hz"}');
SELECT otel_aliyun.counter_add('app_orders', 1, '{"region": "sh"}');
SELECT otel_aliyun.counter_add('app_done_total', 2);
SELECT otel_aliyun.updown_add('app_queue', 5);
SELECT otel_aliyun.updown_add('app_queue', -2);
SELECT otel_aliyun.gauge_set('app_temp', 20, '{"room": "a"}');
SELECT otel_aliyun.gauge_set('app_temp', 21.5, '{"room": "a"}');
SELECT otel_aliyun.define_metric('app_size', 'histogram', 'Payload size', 'By', ARRAY[100, 1000]);
SELECT otel_aliyun.histogram_record('app_size', v, '{"kind": "post"}')
  FROM unnest(ARRAY[50, 100, 500, 5000]) v;
SELECT otel_aliyun.histogram_record('app_latency', v)
  FROM unnest(ARRAY[0.0004, 0.002, 0.002, 0.07, 3]) v;
});
# one failing statement for the query histogram
my ($rc) = $node->psql('postgres', 'SELECT 1/0');
isnt($rc, 0, 'division by zero fails');
# and one that fails before any planner or executor hook sees it
($rc) = $node->psql('postgres', 'SELEC 1');
isnt($rc, 0, 'syntax error fails');

ok(otel_flush($node), 'flush delivers the metrics');

is($prom->value('app_orders_total{region="hz"}'), 7.5, 'counter hz');
is($prom->value('app_orders_total{region="sh"}'), 1, 'counter sh');
is($prom->value('app_orders'), undef, 'counters are exported with _total only');
is($prom->value('app_done_total'), 2, 'a name ending in _total keeps it');
is($prom->value('app_done_total_total'), undef, 'no double _total');
is($prom->value('app_queue'), 3, 'up-down counter is a gauge');
is($prom->value('app_temp{room="a"}'), 21.5, 'gauge keeps the last value');

my %size = map { $_->{metric}{le} => 0 + $_->{value}[1] }
  @{ $prom->query('app_size_bucket{kind="post"}') };
is_deeply(\%size, { '100' => 2, '1000' => 3, '+Inf' => 4 },
	'custom histogram buckets are cumulative, upper bounds inclusive');
is($prom->value('app_size_count{kind="post"}'), 4, 'histogram count');
is($prom->value('app_size_sum{kind="post"}'), 5650, 'histogram sum');

my %lat = map { $_->{metric}{le} => 0 + $_->{value}[1] }
  @{ $prom->query('app_latency_bucket') };
is_deeply(
	\%lat,
	{
		'0.001' => 1, '0.005' => 3, '0.01' => 3, '0.05' => 3, '0.1' => 4,
		'0.5' => 4, '1' => 4, '5' => 5, '10' => 5, '+Inf' => 5
	},
	'default buckets are the OpenTelemetry duration buckets');

# labels: exactly the series' own plus job and instance
my $r = $prom->query('app_orders_total{region="hz"}');
my $labels = $r->[0]{metric};
my $inst = $labels->{instance} // '';
like($inst, qr/:\d+$/, "instance is service.instance.id ($inst)");
is_deeply(
	$labels,
	{
		__name__ => 'app_orders_total',
		job => 'shop/pg-metrics',
		instance => $inst,
		region => 'hz'
	},
	'labels: own, job = service.namespace/service.name, instance');

$r = $prom->query('target_info');
is(scalar(@$r), 1, 'one target_info series');
is($r->[0]{metric}{team}, 'db', 'target_info carries resource attributes');
is($r->[0]{metric}{service_version}, '9.8.7',
	'resource attribute names are made valid (service.version -> service_version)');
ok(!exists $r->[0]{metric}{service_namespace} && !exists $r->[0]{metric}{service_name},
	'service.name/namespace go into job, not target_info');
is($r->[0]{metric}{job}, 'shop/pg-metrics', 'target_info has job');

# the built-in query histogram, with the failing statement
is($prom->value(
		'postgresql_query_duration_seconds_count{db_namespace="postgres",error_type="22012"}'),
	1, 'query histogram counts the failed statement by SQLSTATE');
is($prom->value(
		'postgresql_query_duration_seconds_count{db_namespace="postgres",error_type="42601"}'),
	1, '... and the syntax error (no operation known)');
ok($prom->value(
		'sum(postgresql_query_duration_seconds_count{db_namespace="postgres",db_operation_name="SELECT",error_type=""})'
	) >= 11,
	'query histogram counts the successful SELECTs');
my %q = map { $_->{metric}{le} => 0 + $_->{value}[1] } @{ $prom->query(
		'postgresql_query_duration_seconds_bucket{error_type="22012"}') };
is($q{'+Inf'}, 1, 'query histogram has a +Inf bucket');
is(scalar(keys %q), 10, 'query histogram has the 9 OpenTelemetry buckets + Inf');

# the wire, as the proxy saw it
my $reqs = $proxy->requests;
ok(@$reqs >= 1, 'proxy saw the write');
my $w = $reqs->[-1];
is($w->{decode_error}, undef, 'body decodes (snappy + WriteRequest)');
is($w->{headers}{'content-encoding'}, 'snappy', 'Content-Encoding: snappy');
is($w->{headers}{'content-type'}, 'application/x-protobuf', 'Content-Type');
is($w->{headers}{'x-prometheus-remote-write-version'}, '0.1.0', 'remote write version header');
like($w->{headers}{'user-agent'} // '', qr/otel_aliyun/, 'User-Agent');
is($w->{headers}{authorization},
	'Basic ' . encode_base64('LTAI5tExampleKeyId:se:cret/pw', ''),
	'Basic authentication from prometheus_username/password');
my $unsorted = 0;
my $noname = 0;
for my $s (map { @{ $_->{series} } } @$reqs)
{
	my @o = @{ $s->{label_order} };
	$unsorted++ unless join("\0", @o) eq join("\0", sort @o);
	$noname++ unless defined $s->{labels}{__name__};
}
is($unsorted, 0, 'labels of every time series are sorted by name');
is($noname, 0, 'every time series has __name__');
my ($md) = grep { $_->{family} eq 'app_orders_total' } @{ $w->{metadata} };
ok($md && $md->{type} == 1 && $md->{help} eq 'Orders placed',
	'metadata: counter with its description');
my $st = otel_stats($node, 'metrics');
is($st->{failed}, 0, 'nothing failed');
ok($st->{exported} > 0 && $st->{exported} == $st->{produced},
	"every data point exported ($st->{exported})");

# ---- database metrics (postgres_exporter names) ----

$node->safe_psql('postgres',
	'CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 1000); '
	  . 'DELETE FROM t WHERE x <= 10');
my $commits_before = $node->safe_psql('postgres',
	"SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'");
# a reload wakes the collector, which then reads the statistics again
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok( wait_for(
		sub {
			my $v = $node->safe_psql('postgres',
				"SELECT value FROM otel_aliyun.metrics WHERE name = 'pg_stat_database_tup_deleted' "
				  . "AND labels->>'datname' = 'postgres'");
			return $v ne '' && $v >= 10;
		}),
	'collector picked up the new statistics');
# a flush has the collector read them again before exporting
ok(otel_flush($node), 'flush');
my %view = map { split /\|/ } split /\n/, $node->safe_psql(
	'postgres', q{
	SELECT name || coalesce(labels->>'state', ''), value FROM otel_aliyun.metrics
	WHERE builtin AND (labels->>'datname' = 'postgres' OR NOT labels ? 'datname')
	  AND name LIKE 'pg\_%'});
for my $m (qw(pg_stat_database_xact_commit pg_stat_database_tup_inserted
	pg_stat_database_tup_deleted pg_stat_database_blks_hit pg_stat_database_numbackends))
{
	is($prom->value(qq{${m}{datname="postgres"}}), $view{$m},
		"$m in Prometheus equals otel_aliyun.metrics ($view{$m})");
}
ok($view{pg_stat_database_xact_commit} >= $commits_before,
	'xact_commit is pg_stat_database.xact_commit');
is($view{pg_stat_database_tup_inserted} >= 1000 ? 1 : 0, 1, 'tup_inserted counts the insert');
my $dbid = $node->safe_psql('postgres', "SELECT oid FROM pg_database WHERE datname = 'postgres'");
is($prom->query('pg_stat_database_xact_commit{datname="postgres"}')->[0]{metric}{datid},
	$dbid, 'datid label');
is($prom->value('pg_stat_database_xact_commit_total'), undef,
	'postgres_exporter counters keep their names (no _total)');
is($prom->value('pg_settings_max_connections'),
	$node->safe_psql('postgres', 'SHOW max_connections'), 'pg_settings_max_connections');
is($prom->value('pg_up'), 1, 'pg_up');
my $size = $prom->value('pg_database_size_bytes{datname="postgres"}');
my $real = $node->safe_psql('postgres', "SELECT pg_database_size('postgres')");
ok($size > 0 && abs($size - $real) < 0.2 * $real, "pg_database_size_bytes ($size vs $real)");
my @states = sort map { $_->{metric}{state} }
  @{ $prom->query('pg_stat_activity_count{datname="postgres"}') };
is_deeply(\@states,
	[ 'active', 'disabled', 'fastpath function call', 'idle', 'idle in transaction',
		'idle in transaction (aborted)' ],
	'pg_stat_activity_count has every state');
ok(defined $prom->value('pg_stat_database_xact_commit{datname="template1"}'),
	'every database is covered');
ok(defined $prom->value('otel_aliyun_records_exported_total{signal="metrics"}'),
	'the extension reports its own health');
ok(defined $prom->value('otel_aliyun_buffer_size_bytes{signal="traces"}'),
	'... buffer size');

# ---- concurrent recording: 16 pgbench clients ----

my $script = PostgreSQL::Test::Utils::tempdir() . '/metrics.sql';
open(my $fh, '>', $script) or die;
print $fh q{SELECT otel_aliyun.counter_add('bench_ops', 1);
SELECT otel_aliyun.counter_add('bench_by_client', 1, json_build_object('client', :client_id::int)::jsonb);
SELECT otel_aliyun.histogram_record('bench_lat', 0.003, '{"path": "x"}');
SELECT otel_aliyun.updown_add('bench_level', 1);
SELECT otel_aliyun.updown_add('bench_level', -1);
};
close $fh;
my $selects_sql = q{SELECT sum(count) FROM otel_aliyun.metrics
	WHERE name = 'postgresql_query_duration_seconds'
	  AND labels->>'db.operation.name' = 'SELECT' AND NOT labels ? 'error.type'};
my $selects_before = $node->safe_psql('postgres', $selects_sql);
# extended protocol with prepared statements
$node->command_ok(
	[
		'pgbench', '-n', '-M', 'prepared', '-c', '16', '-j', '2', '-t', '200',
		'-f', $script, '-h', $node->host, '-p', $node->port, 'postgres'
	],
	'pgbench: 16 clients x 200 transactions');
my $selects_after = $node->safe_psql('postgres', $selects_sql);
is($selects_after - $selects_before, 16 * 200 * 5 + 1,
	'query histogram: every pgbench statement counted once (prepared, unsampled)');
ok(otel_flush($node), 'flush');
is($prom->value('bench_ops_total'), 3200, 'no increment lost under concurrency');
my $per = $prom->query('bench_by_client_total');
is(scalar(@$per), 16, 'one series per client, created concurrently');
is(scalar(grep { $_->{value}[1] == 200 } @$per), 16, 'each client series is 200');
is($prom->value('bench_lat_count{path="x"}'), 3200, 'histogram count');
is($prom->value('bench_lat_bucket{path="x",le="0.005"}'), 3200, 'histogram bucket');
is($prom->value('bench_lat_bucket{path="x",le="0.001"}'), 0, 'lower bucket empty');
is($prom->value('bench_level'), 0, 'up-down counter back to 0');

# ---- 503 then 200: retried, delivered once, in order ----

$node->safe_psql('postgres', "SELECT otel_aliyun.counter_add('retry_c', 1)");
my $before = otel_stats($node, 'metrics');
my $nreq = scalar(@{ $proxy->requests });
$proxy->set_mode(status => 503, count => 2, retry_after => '1');
ok(otel_flush($node, 30000), 'flush succeeds after two 503 answers');
$reqs = $proxy->requests;
my @new = @{$reqs}[ $nreq .. $#$reqs ];
is_deeply([ map { $_->{status_returned} } @new ], [ 503, 503, 204 ],
	'503, 503, then delivered');
is(scalar(keys %{ { map { $_->{sha256} => 1 } @new } }), 1,
	'the retried request is the same request');
my $after = otel_stats($node, 'metrics');
is($after->{retries} - $before->{retries}, 2, 'two retries counted');
is($after->{failed}, $before->{failed}, 'nothing failed');
is($prom->value('retry_c_total'), 1, 'retried value arrived');
ok($new[-1]{time} - $new[0]{time} >= 1.8, 'Retry-After honoured');

# ---- 400: dropped and counted, the next export goes through ----

$node->safe_psql('postgres', "SELECT otel_aliyun.counter_add('drop_c', 1)");
$before = otel_stats($node, 'metrics');
$nreq = scalar(@{ $proxy->requests });
$proxy->set_mode(status => 400, count => 1, body => 'bad request from test');
ok(!otel_flush($node), 'flush reports the dropped export');
$after = otel_stats($node, 'metrics');
$reqs = $proxy->requests;
is(scalar(@$reqs) - $nreq, 1, 'a 400 is not retried');
my $dropped = $after->{failed} - $before->{failed};
is($dropped, $after->{produced} - $before->{produced},
	"every data point of the refused export counted as failed ($dropped)");
ok($dropped > 0, 'failed count grew');
like($after->{last_error}, qr/400/, 'last error names the status');
is($prom->value('drop_c_total'), undef, 'the refused sample is not in Prometheus');
ok(otel_flush($node), 'next flush succeeds');
is($prom->value('drop_c_total'), 1, 'and brings the value');

# ---- diagnose() and the stats view ----

is($node->safe_psql('postgres',
		"SELECT destination || ' ' || http_status || ' ' || reachable || ' ' || endpoint "
		  . "FROM otel_aliyun.diagnose() WHERE signal = 'metrics'"),
	'prometheus 204 true ' . $proxy->write_url, 'diagnose: a metrics row, tested for real');
is(otel_stats($node, 'metrics')->{destination}, 'prometheus', 'stats: destination');
$proxy->set_mode(status => 401, count => 1, body => 'unauthorized');
my $diag = $node->safe_psql('postgres',
	"SELECT http_status || ' ' || hint FROM otel_aliyun.diagnose() WHERE signal = 'metrics'");
like($diag, qr/^401 .*prometheus_username/, 'diagnose: 401 hint names the credential settings');

# ---- every accepted sample in order, no duplicates ----

$reqs = $proxy->requests;
my %last;
my ($dups, $ooo, $upstream_bad) = (0, 0, 0);
for my $q (grep { $_->{forwarded} } @$reqs)
{
	$upstream_bad++ unless $q->{upstream_status} >= 200 && $q->{upstream_status} < 300;
	for my $s (@{ $q->{series} })
	{
		my $key = join(',', map { "$_=$s->{labels}{$_}" } sort keys %{ $s->{labels} });
		for my $smp (@{ $s->{samples} })
		{
			if (exists $last{$key})
			{
				$dups++ if $smp->[0] == $last{$key};
				$ooo++ if $smp->[0] < $last{$key};
			}
			$last{$key} = $smp->[0];
		}
	}
}
is($upstream_bad, 0, 'Prometheus accepted every forwarded write (no out-of-order refusals)');
is($dups, 0, 'no duplicate sample');
is($ooo, 0, 'no out-of-order sample');
my $smp = $prom->samples('retry_c_total');
my @t = map { $_->[0] } @{ $smp->[0]{samples} };
is_deeply(\@t, [ sort { $a <=> $b } @t ], 'stored samples in timestamp order');
my %seen;
is(scalar(grep { $seen{$_}++ } @t), 0, 'stored samples have distinct timestamps');

# ---- the series cap ----

my $small = otel_node(
	'cap',
	otel => {
		max_series => 10,
		builtin_metrics => 'none',
		metrics_exporter => 'none',
	});
$small->safe_psql('postgres',
	"SELECT otel_aliyun.gauge_set('cap_g', i, jsonb_build_object('i', i)) "
	  . 'FROM generate_series(1, 10) i');
my ($ret, $out, $err) = $small->psql('postgres',
	"SELECT otel_aliyun.gauge_set('cap_g', 11, '{\"i\": 11}')");
isnt($ret, 0, 'the 11th series is refused');
like($err, qr/the metric store is full/, '... with a clear error');
like($err, qr/HINT:.*max_series/, '... and a hint');
($ret, $out, $err) = $small->psql('postgres',
	"SELECT otel_aliyun.gauge_set('cap_g', 42, '{\"i\": 3}')");
is($ret, 0, 'existing series keep working');
$small->safe_psql('postgres',
	"SET otel_aliyun.metrics_overflow = drop; "
	  . "SELECT otel_aliyun.gauge_set('cap_g', 12, '{\"i\": 12}'); "
	  . "SELECT otel_aliyun.counter_add('cap_other', 1)");
is(otel_stats($small, 'metrics')->{dropped}, 2, 'with metrics_overflow = drop: dropped and counted');
is($small->safe_psql('postgres',
		"SELECT count(*) || ' ' || sum(value) FROM otel_aliyun.metrics WHERE name = 'cap_g'"),
	'10 94', 'the store holds the 10 series, one updated');
is($small->safe_psql('postgres', 'SELECT count(*) FROM otel_aliyun.metrics'),
	10, 'built-in metrics off: no other series');

# ---- the collector runs only while database metrics leave the server ----

my $collectors = q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'otel_aliyun metrics collector'};
is($small->safe_psql('postgres', $collectors), 0,
	'no metrics destination: no collector process');
ok(wait_for(sub { $node->safe_psql('postgres', $collectors) == 1 }),
	'metrics pushed: one collector process');
$node->safe_psql('postgres',
	"ALTER SYSTEM SET otel_aliyun.prometheus_remote_write_url = ''; SELECT pg_reload_conf()");
ok(wait_for(sub { $node->safe_psql('postgres', $collectors) == 0 }),
	'push URL removed: the collector stops');
$node->safe_psql('postgres',
	'ALTER SYSTEM RESET otel_aliyun.prometheus_remote_write_url; SELECT pg_reload_conf()');
ok(wait_for(sub { $node->safe_psql('postgres', $collectors) == 1 }),
	'push URL back: the collector starts again');
my $pid1 = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'otel_aliyun metrics collector'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid1)");
ok( wait_for(
		sub {
			my $p = $node->safe_psql('postgres',
				"SELECT pid FROM pg_stat_activity WHERE backend_type = 'otel_aliyun metrics collector'");
			return $p ne '' && $p != $pid1;
		},
		timeout => 30),
	'a collector that died is started again');
my $commits_now = $node->safe_psql('postgres',
	"SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'");
ok(otel_flush($node), 'flush with the new collector');
cmp_ok($prom->value('pg_stat_database_xact_commit{datname="postgres"}') // 0, '>=',
	$commits_now, 'database metrics are read and pushed again');

$small->stop;
$node->stop;
done_testing();
