
# Copyright (c) otel_aliyun contributors

# Pull mode: the export worker serves GET /metrics in the Prometheus text
# exposition format on otel_aliyun.metrics_listen_address, and a real
# Prometheus scrapes it.  Asserted: values, histogram buckets, label and HELP
# escaping as Prometheus parsed them, target_info, HTTP behaviour (404, 405,
# HEAD, content type), and moving or closing the endpoint on reload.

use strict;
use warnings;
use HTTP::Tiny;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;
use PromTest;

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $node = otel_node(
	'pull',
	otel => {
		metrics_listen_address => "127.0.0.1:$port",
		metrics_exporter => 'none',
		metrics_export_interval_ms => 1000,
		service_name => 'pg-pull',
		resource_attributes => 'team=db',
		sample_rate => 0,
	});
my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $base = "http://127.0.0.1:$port";

ok(wait_for(sub { $http->get("$base/metrics")->{success} }, timeout => 30),
	'the worker serves /metrics');

$node->safe_psql(
	'postgres', q{
SELECT otel_aliyun.counter_add('app_orders', 7.5, '{"region": "hz"}',
	E'Orders\nplaced, in \\\\units');
SELECT otel_aliyun.gauge_set('app_odd', 1, jsonb_build_object('v', E'say "hi"\nback\\\\slash'));
SELECT otel_aliyun.define_metric('app_size', 'histogram', NULL, 'By', ARRAY[100, 1000]);
SELECT otel_aliyun.histogram_record('app_size', v) FROM unnest(ARRAY[50, 100, 500, 5000]) v;
SELECT otel_aliyun.updown_add('app_queue', -4);
});

# ---- the text format, as served ----
my $r = $http->get("$base/metrics");
is($r->{status}, 200, 'GET /metrics: 200');
is($r->{headers}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8',
	'text exposition format 0.0.4');
my $body = $r->{content};
like($body, qr/^# TYPE app_orders_total counter$/m, 'counter TYPE line');
like($body, qr/^# HELP app_orders_total Orders\\nplaced, in \\\\units$/m,
	'HELP escapes newline and backslash');
like($body, qr/^app_orders_total\{region="hz"\} 7\.5$/m, 'counter sample');
like($body, qr/^app_odd\{v="say \\"hi\\"\\nback\\\\slash"\} 1$/m,
	'label values escape quote, newline and backslash');
like($body, qr/^# TYPE app_size histogram$/m, 'histogram TYPE line');
like($body, qr/^app_size_bucket\{le="100"\} 2\napp_size_bucket\{le="1000"\} 3\napp_size_bucket\{le="\+Inf"\} 4\napp_size_sum 5650\napp_size_count 4$/m,
	'histogram buckets, sum and count');
like($body, qr/^# TYPE app_queue gauge$/m, 'up-down counter is a gauge');
like($body, qr/^target_info\{[^}]*team="db"[^}]*\} 1$/m, 'target_info with resource attributes');
unlike($body, qr/\bjob="/, 'job is left to the scraper');
like($body, qr/^postgresql_query_duration_seconds_bucket\{db_namespace="postgres",db_operation_name="SELECT",le="0.001"\} \d+$/m,
	'built-in query histogram');

is($http->get("$base/")->{status}, 404, 'other paths: 404');
is($http->request('POST', "$base/metrics")->{status}, 405, 'POST: 405');
$r = $http->request('HEAD', "$base/metrics");
is($r->{status}, 200, 'HEAD: 200');
is($r->{content} // '', '', 'HEAD: no body');

# a client that connects and says nothing does not stop the endpoint
my $idle = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'tcp')
  or die "connect: $!";
ok($http->get("$base/metrics")->{success}, 'served after an idle client timed out');
close $idle;

# ---- a real Prometheus scrapes it ----
my $prom = PromTest::Server->new(
	name => 'scraper',
	scrape => ["127.0.0.1:$port"],
	scrape_interval => '1s');
ok( wait_for(
		sub {
			my $v = $prom->value('app_orders_total{job="pg",region="hz"}');
			return defined $v && $v == 7.5;
		}),
	'Prometheus scraped the counter');
is($prom->value('up{job="pg"}'), 1, 'target is up');
is($prom->value(qq{app_odd{job="pg",v="say \\"hi\\"\\nback\\\\slash"}}), 1,
	'escaped label value parsed back to the original');
my %b = map { $_->{metric}{le} => 0 + $_->{value}[1] }
  @{ $prom->query('app_size_bucket{job="pg"}') };
is_deeply(\%b, { '100' => 2, '1000' => 3, '+Inf' => 4 }, 'histogram buckets scraped');
is($prom->value('app_queue{job="pg"}'), -4, 'up-down counter scraped');
my $ti = $prom->query('target_info{job="pg"}');
is($ti->[0]{metric}{team}, 'db', 'target_info scraped');
is($ti->[0]{metric}{instance}, "127.0.0.1:$port", 'instance is the scrape target');
my $md = $prom->metadata('app_orders_total');
is($md->{app_orders_total}[0]{type}, 'counter', 'metadata: counter');
is($md->{app_orders_total}[0]{help}, "Orders\nplaced, in \\units", 'metadata: help');

# new values appear in the next scrapes
$node->safe_psql('postgres', "SELECT otel_aliyun.counter_add('app_orders', 2.5, '{\"region\": \"hz\"}')");
ok( wait_for(
		sub {
			my $v = $prom->value('app_orders_total{job="pg",region="hz"}');
			return defined $v && $v == 10;
		}),
	'an update reaches Prometheus at the next scrape');

# ---- the endpoint follows the setting on reload ----
my $port2 = PostgreSQL::Test::Cluster::get_free_port();
$node->safe_psql('postgres',
	"ALTER SYSTEM SET otel_aliyun.metrics_listen_address = '127.0.0.1:$port2'; "
	  . 'SELECT pg_reload_conf()');
ok(wait_for(sub { $http->get("http://127.0.0.1:$port2/metrics")->{success} }, timeout => 30),
	'served on the new address after a reload');
ok(!$http->get("$base/metrics")->{success}, 'the old address is closed');
$node->safe_psql('postgres',
	"ALTER SYSTEM SET otel_aliyun.metrics_listen_address = ''; SELECT pg_reload_conf()");
ok( wait_for(
		sub { !$http->get("http://127.0.0.1:$port2/metrics")->{success} },
		timeout => 30),
	'empty address: pull mode off');

$prom->stop;
$node->stop;
done_testing();
