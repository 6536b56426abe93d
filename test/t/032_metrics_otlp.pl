
# Copyright (c) otel_aliyun contributors

# Metrics over OTLP/HTTP (/v1/metrics), decoded by the test receiver with
# protoc-generated classes: cumulative Sums (monotonic for counters, not for
# up-down counters), Gauges, explicit-bucket Histograms with exact bucket
# counts and bounds, start times stable from one export to the next, the
# built-in query histogram under its OTLP name and attribute keys, the
# Resource and scope; gzip; 503 retried; partial success counted.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;

my $rx = OtelTest::Receiver->new(name => 'receiver');
my $node = otel_node(
	'otlp',
	otel => {
		metrics_exporter => 'otlp',
		metrics_endpoint => $rx->url('/v1/metrics'),
		metrics_export_interval_ms => 3600000,
		service_name => 'pg-otlp',
		sample_rate => 0,
	});

$node->safe_psql(
	'postgres', q{
SELECT otel_aliyun.counter_add('app_orders', 3, '{"region": "hz"}', 'Orders placed', '{order}');
SELECT otel_aliyun.updown_add('app_queue', -4, '{"q": "a"}');
SELECT otel_aliyun.gauge_set('app_temp', 21.5);
SELECT otel_aliyun.define_metric('app_size', 'histogram', 'Payload size', 'By', ARRAY[100, 1000]);
SELECT otel_aliyun.histogram_record('app_size', v) FROM unnest(ARRAY[50, 100, 500, 5000]) v;
});
ok(otel_flush($node), 'flush');

sub points_of
{
	my ($pts, $name, %attr) = @_;
	return [
		grep {
			my $p = $_;
			$p->{name} eq $name
			  && !grep { ($p->{attributes}{$_} // "\0") ne $attr{$_} } keys %attr
		} @$pts
	];
}

my $pts = $rx->metrics;
my $reqs = $rx->requests;
ok(@$reqs >= 1, 'receiver got the export');
is($reqs->[-1]{path}, '/v1/metrics', 'posted to /v1/metrics');
is($reqs->[-1]{content_encoding}, 'gzip', 'gzip');
is($reqs->[-1]{content_type}, 'application/x-protobuf', 'protobuf');
is($reqs->[-1]{decode_error}, undef, 'decodes as ExportMetricsServiceRequest');

my ($c) = @{ points_of($pts, 'app_orders', region => 'hz') };
ok($c, 'counter point');
is($c->{type}, 'sum', 'counter is a Sum');
ok($c->{isMonotonic}, 'monotonic');
is($c->{aggregationTemporality}, 2, 'cumulative');
is($c->{value}, 3, 'value');
is($c->{valueType}, 'as_double', 'double value');
is($c->{description}, 'Orders placed', 'description');
is($c->{unit}, '{order}', 'unit');
is_deeply($c->{attributes}, { region => 'hz' }, 'attributes');
is($c->{resource}{'service.name'}, 'pg-otlp', 'resource');
is($c->{scope}{name}, 'otel_aliyun', 'scope');

my ($u) = @{ points_of($pts, 'app_queue') };
is($u->{type}, 'sum', 'up-down counter is a Sum');
ok(!$u->{isMonotonic}, '... not monotonic');
is($u->{aggregationTemporality}, 2, '... cumulative');
is($u->{value}, -4, '... value');

my ($g) = @{ points_of($pts, 'app_temp') };
is($g->{type}, 'gauge', 'gauge');
is($g->{value}, 21.5, 'gauge value');

my ($h) = @{ points_of($pts, 'app_size') };
is($h->{type}, 'histogram', 'histogram');
is($h->{aggregationTemporality}, 2, 'cumulative histogram');
is_deeply($h->{explicitBounds}, [ 100, 1000 ], 'explicit bounds');
is_deeply($h->{bucketCounts}, [ 2, 1, 1 ], 'exact (per-bucket) counts');
is($h->{count}, 4, 'count');
is($h->{sum}, 5650, 'sum');
is($h->{unit}, 'By', 'unit');

my ($q) = @{ points_of($pts, 'postgresql.query.duration',
	'db.namespace' => 'postgres', 'db.operation.name' => 'SELECT') };
ok($q, 'built-in query histogram under its OTLP name and attribute keys');
is($q->{unit}, 's', '... in seconds');
is_deeply($q->{explicitBounds}, [ 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10 ],
	'... with the OpenTelemetry duration buckets');
ok($q->{count} >= 5, '... counting the statements');
ok(@{ points_of($pts, 'pg_stat_database_xact_commit', datname => 'postgres') } == 1,
	'database metrics too');

# ---- a second export: same start times, later time, cumulative values ----
$node->safe_psql('postgres',
	"SELECT otel_aliyun.counter_add('app_orders', 2, '{\"region\": \"hz\"}')");
$rx->reset;
ok(otel_flush($node), 'second flush');
my ($c2) = @{ points_of($rx->metrics, 'app_orders', region => 'hz') };
is($c2->{value}, 5, 'cumulative value');
is($c2->{startTimeUnixNano}, $c->{startTimeUnixNano}, 'start time is stable');
ok($c2->{timeUnixNano} > $c->{timeUnixNano}, 'time moves on');
ok($c->{startTimeUnixNano} > 0 && $c->{startTimeUnixNano} <= $c->{timeUnixNano},
	'start time before time');

# ---- 503: retried ----
my $before = otel_stats($node, 'metrics');
$rx->reset;
$rx->set_mode(status => 503, count => 1, retry_after => '0');
ok(otel_flush($node, 30000), 'flush succeeds after a 503');
my @st = map { $_->{status_returned} } @{ $rx->requests };
is_deeply(\@st, [ 503, 200 ], '503 then 200');
is(otel_stats($node, 'metrics')->{retries} - $before->{retries}, 1, 'one retry');

# ---- partial success: counted, not retried ----
$before = otel_stats($node, 'metrics');
$rx->reset;
$rx->set_mode(partial_rejected => 2, partial_message => 'two bad points', count => 1);
ok(otel_flush($node), 'flush with a partial success');
my $after = otel_stats($node, 'metrics');
is($after->{rejected} - $before->{rejected}, 2, 'rejected data points counted');
is(scalar(@{ $rx->requests }), 1, 'not retried');
like($after->{last_error}, qr/two bad points/, 'message kept');

$node->stop;
done_testing();
