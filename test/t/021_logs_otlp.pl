
# Copyright (c) otel_aliyun contributors

# Logs over OTLP/HTTP (otel_aliyun.logs_exporter = otlp), decoded by the
# test receiver with protoc-generated classes: ExportLogsServiceRequest with
# the resource and scope, severity, body, typed attributes (nested maps and
# arrays as AnyValue), trace correlation, gzip; partial success counted;
# 400 dropped; then the file exporter's OTLP/JSON lines.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;

my $rx = OtelTest::Receiver->new(name => 'otlp_logs');
my $node = otel_node(
	'otlp_logs',
	otel => {
		logs_exporter => 'otlp',
		logs_endpoint => $rx->url('/v1/logs'),
		service_name => 'logs-otlp-svc',
		export_interval_ms => 200,
		logs_export_interval_ms => 200,
	});

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub logs_with_body
{
	my ($body) = @_;
	return [ grep { ($_->{body} // '') eq $body } @{ $rx->logs } ];
}

my $tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
sql(q{SELECT otel_aliyun.log('error2', 'otlp one',
	'{"s": "v", "i": 7, "d": 0.5, "b": false, "arr": [1, "x"], "m": {"k": {"n": 2}}}')});
sql("SELECT otel_aliyun.log_debug('otlp traced') /*traceparent='$tp'*/");
ok(otel_flush($node), 'flush');

my ($r) = @{ logs_with_body('otlp one') };
ok($r, 'record received and decoded');
is($r->{severityNumber}, 18, 'severityNumber ERROR2');
is($r->{severityText}, 'ERROR2', 'severityText');
is($r->{bodyType}, 'string', 'body is a string AnyValue');
is($r->{attributes}{s}, 'v', 'string attribute');
is($r->{attributeTypes}{i}, 'int', 'integer stays an int');
is($r->{attributes}{i}, 7, 'int value');
is($r->{attributeTypes}{d}, 'double', 'double');
is($r->{attributeTypes}{b}, 'bool', 'bool');
is_deeply($r->{attributes}{arr}, [ 1, 'x' ], 'array AnyValue');
is_deeply($r->{attributes}{m}, { k => { n => 2 } }, 'nested kvlist AnyValue');
is($r->{attributes}{'db.namespace'}, 'postgres', 'db.namespace');
like($r->{attributes}{'postgresql.backend_pid'}, qr/^\d+$/, 'backend pid');
is_deeply($r->{duplicateAttributes}, [], 'no key twice');
is($r->{resource}{'service.name'}, 'logs-otlp-svc', 'resource service.name');
is($r->{resource}{'cloud.provider'}, 'alibaba_cloud', 'resource cloud.provider');
is($r->{scope}{name}, 'otel_aliyun', 'scope');
cmp_ok($r->{timeUnixNano}, '>', 1_600_000_000 * 1e9, 'time in ns');
ok($r->{observedTimeUnixNano} >= $r->{timeUnixNano}, 'observed time');

my ($t) = @{ logs_with_body('otlp traced') };
is($t->{traceId}, '4bf92f3577b34da6a3ce929d0e0e4736', 'traceId of the traceparent');
like($t->{spanId}, qr/^[0-9a-f]{16}$/, 'spanId set');
is($t->{flags}, 1, 'trace flags');
is($t->{severityNumber}, 5, 'DEBUG');

my @reqs = grep { ($_->{kind} // '') eq 'logs' } @{ $rx->requests };
is($reqs[0]{content_encoding}, 'gzip', 'gzip by default');
is($reqs[0]{content_type}, 'application/x-protobuf', 'protobuf');

# partial success: counted, not retried
$rx->reset;
my $before = otel_stats($node, 'logs');
$rx->set_mode(status => 200, partial_rejected => 1, partial_message => 'one bad', count => 1);
sql(q{SELECT otel_aliyun.log_info('otlp partial')});
otel_flush($node);
my $after = otel_stats($node, 'logs');
is($after->{rejected} - $before->{rejected}, 1, 'partial success counted');
is(scalar(grep { ($_->{kind} // '') eq 'logs' } @{ $rx->requests }), 1, 'not retried');

# 400: dropped, counted
$rx->reset;
$before = otel_stats($node, 'logs');
$rx->set_mode(status => 400, count => 1);
sql(q{SELECT otel_aliyun.log_info('otlp 400')});
# (the worker may have dropped it before the flush, which then has nothing to report)
otel_flush($node);
$after = otel_stats($node, 'logs');
is($after->{failed} - $before->{failed}, 1, '400: counted as failed');
is($after->{retries} - $before->{retries}, 0, '400: not retried');

# no compression
$rx->reset;
sql(q{ALTER SYSTEM SET otel_aliyun.compression = 'none'});
sql('SELECT pg_reload_conf()');
sleep 1;
sql(q{SELECT otel_aliyun.log_info('otlp plain')});
ok(otel_flush($node), 'flush');
is(scalar @{ logs_with_body('otlp plain') }, 1, 'uncompressed record decoded');
@reqs = grep { ($_->{kind} // '') eq 'logs' } @{ $rx->requests };
is($reqs[-1]{content_encoding}, '', 'no Content-Encoding');

# the file exporter: OTLP/JSON lines in the data directory
sql(q{ALTER SYSTEM SET otel_aliyun.logs_exporter = 'file'});
sql('SELECT pg_reload_conf()');
sleep 1;
sql(q{SELECT otel_aliyun.log_warn('to the file', '{"k": [true]}')});
ok(otel_flush($node), 'flush to file');
my $file = $node->data_dir . '/otel_aliyun/otel_logs.jsonl';
my @found;
for my $line (split /\n/, slurp_file($file))
{
	my $doc = json_decode($line);
	for my $rl (@{ $doc->{resourceLogs} })
	{
		for my $sl (@{ $rl->{scopeLogs} })
		{
			push @found, grep { $_->{body}{stringValue} eq 'to the file' }
			  @{ $sl->{logRecords} };
		}
	}
}
is(scalar @found, 1, 'record in the OTLP/JSON file');
is($found[0]{severityNumber}, 13, 'severityNumber in JSON');
is($found[0]{severityText}, 'WARN', 'severityText in JSON');
is_deeply((grep { $_->{key} eq 'k' } @{ $found[0]{attributes} })[0]{value},
	{ arrayValue => { values => [ { boolValue => JSON::PP::true } ] } },
	'AnyValue in OTLP/JSON');
like($found[0]{timeUnixNano}, qr/^\d+$/, 'timeUnixNano as a decimal string');

# none: log() returns false and nothing is buffered
sql(q{ALTER SYSTEM SET otel_aliyun.logs_exporter = 'none'});
sql('SELECT pg_reload_conf()');
sleep 1;
is(sql(q{SELECT otel_aliyun.log_info('nowhere')}), 'f', 'logs_exporter = none: log() returns false');

$node->stop;
done_testing();
