
# Copyright (c) otel_aliyun contributors

# OTLP over gRPC (otel_aliyun.{traces,logs,metrics}_protocol = 'grpc')
# against a real gRPC server that is not ours (python3-grpcio, decoding with
# protoc-generated classes): spans arrive and decode, metadata (ARMS token,
# SLS x-sls-otel-* headers) and the deadline are sent, one HTTP/2
# connection is reused, gzip works, UNAVAILABLE is retried and delivered,
# INVALID_ARGUMENT / UNAUTHENTICATED / RESOURCE_EXHAUSTED without RetryInfo
# are dropped and counted with status and message, RESOURCE_EXHAUSTED with
# RetryInfo waits the delay asked, a stalled server is given up at the
# deadline and the call retried, partial_success is counted, a restarted
# server gets a new connection, TLS with ALPN h2 works, diagnose() reports
# the gRPC status; logs and metrics over gRPC share the connection; and
# http/json sends OTLP/JSON.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use List::Util qw(sum0 uniq);
use MIME::Base64 ();
use OtelTest;
use OtelGrpc;

my $TOKEN = 'arms-token-5ecret';
my $AK_SECRET = 'sls-ak-5ecret';
my $TRACE_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
my $LOGS_METHOD = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
my $METRICS_METHOD = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

my $rx = OtelTest::GrpcReceiver->new(name => 'grpc');
my $node = otel_node(
	'grpc',
	otel => {
		traces_protocol => 'grpc',
		traces_endpoint => $rx->url,
		sample_rate => 1,
		export_interval_ms => 200,
		export_timeout_ms => 3000,
		max_retries => 10,
		arms_token => $TOKEN,
		headers => "x-sls-otel-project=proj1,x-sls-otel-instance-id=inst1,"
		  . "X-Sls-Otel-Ak-Id=akid1,x-sls-otel-ak-secret=$AK_SECRET",
	});
otel_tables($node, 3,
	qw(g_basic g_reuse g_gzip g_plain g_unavail g_invalid g_unauth g_exhaust
	  g_retryinfo g_stall g_partial g_big g_down g_tls g_json));
ok(otel_flush($node), 'flush after set-up');

sub sql { return $node->safe_psql('postgres', $_[0]); }

# ALTER SYSTEM and reload; the worker reloads before its next batch
sub reconf
{
	my (%kv) = @_;
	for my $k (sort keys %kv)
	{
		if (defined $kv{$k})
		{
			(my $v = $kv{$k}) =~ s/'/''/g;
			sql("ALTER SYSTEM SET otel_aliyun.$k = '$v'");
		}
		else
		{
			sql("ALTER SYSTEM RESET otel_aliyun.$k");
		}
	}
	sql('SELECT pg_reload_conf()');
	sleep 1;
}

sub spans_for
{
	my ($table) = @_;
	return server_spans($rx->spans, text => qr/\b$table\b/);
}

sub calls { return [ grep { defined $_->{method} } @{ $rx->requests } ]; }

# ---- spans arrive and decode; metadata; deadline ---------------------------------

$rx->reset;
sql('SELECT x FROM g_basic WHERE x > 1');
my ($ok) = otel_settle($node);
ok($ok, 'flush over gRPC reports success');
my @s = spans_for('g_basic');
is(scalar @s, 1, 'the statement span arrived over gRPC and decodes')
  or dump_spans($rx->spans, 'received');
if (@s)
{
	my $span = $s[0];
	ok(is_hex_id($span->{traceId}, 16) && is_hex_id($span->{spanId}, 8),
		'trace and span ids');
	is($span->{attributes}{'db.system.name'} // $span->{attributes}{'db.system'},
		'postgresql', 'database attributes');
	ok(scalar(children_of($rx->spans, $span)) >= 1, 'child spans came along');
}
my $calls = calls();
ok(@$calls >= 1, 'export calls recorded');
my @other = grep { $_->{method} ne $TRACE_METHOD } @$calls;
is(scalar @other, 0, "every call is $TRACE_METHOD");
my $c = $calls->[0];
is($c->{metadata}{authentication}, $TOKEN, 'ARMS token sent as authentication metadata');
is($c->{metadata}{'x-sls-otel-project'}, 'proj1', 'x-sls-otel-project metadata');
is($c->{metadata}{'x-sls-otel-instance-id'}, 'inst1', 'x-sls-otel-instance-id metadata');
is($c->{metadata}{'x-sls-otel-ak-id'}, 'akid1', 'mixed-case header name sent lower-cased');
is($c->{metadata}{'x-sls-otel-ak-secret'}, $AK_SECRET, 'x-sls-otel-ak-secret metadata');
like($c->{metadata}{'user-agent'} // '', qr/otel_aliyun/, 'user agent');
ok(defined $c->{deadline_left_ms} && $c->{deadline_left_ms} > 2000
	  && $c->{deadline_left_ms} <= 3000,
	'grpc-timeout carries export_timeout_ms (' . ($c->{deadline_left_ms} // 'none') . ' ms left)');
is(scalar(grep { $_->{decode_error} } @$calls), 0, 'no undecodable request');
my $st = otel_stats($node);
cmp_ok($st->{exported}, '>', 0, 'stats count exported spans');
is($st->{failed}, 0, 'nothing failed');

# ---- one connection for every call ----------------------------------------------

$rx->reset;
for my $i (1 .. 4)
{
	sql("SELECT x + $i FROM g_reuse");
	otel_flush($node);
}
$calls = calls();
cmp_ok(scalar @$calls, '>=', 4, 'several export calls');
my @peers = uniq(map { $_->{peer} } @$calls);
is(scalar @peers, 1, "all calls over one HTTP/2 connection (@peers)");
is(scalar(spans_for('g_reuse')), 4, 'every statement delivered once');

# ---- gzip ------------------------------------------------------------------------

sub bulk
{
	my ($table, $n) = @_;
	sql(join('', map { "SELECT x, $_ AS n$_ FROM $table;\n" } 1 .. $n));
}

sql('SELECT otel_aliyun.stats_reset()');
$rx->reset;
bulk('g_gzip', 200);
ok(otel_flush($node, 30000), 'bulk export with gzip (the default)');
$calls = calls();
$st = otel_stats($node);
my $raw = sum0(map { $_->{message_len} } grep { $_->{status_returned} eq 'OK' } @$calls);
cmp_ok(scalar(spans_for('g_gzip')), '==', 200, 'gzip: 200 statements arrive and decode');
cmp_ok($st->{bytes_sent}, '<', 0.6 * $raw,
	"gzip: $st->{bytes_sent} bytes sent for $raw bytes of messages");

reconf(compression => 'none');
sql('SELECT otel_aliyun.stats_reset()');
$rx->reset;
bulk('g_plain', 200);
ok(otel_flush($node, 30000), 'bulk export without compression');
$calls = calls();
$st = otel_stats($node);
$raw = sum0(map { $_->{message_len} } grep { $_->{status_returned} eq 'OK' } @$calls);
cmp_ok(scalar(spans_for('g_plain')), '==', 200, 'none: 200 statements arrive and decode');
is($st->{bytes_sent}, $raw, 'none: bytes sent = the messages the server decoded');
reconf(compression => undef);

# ---- UNAVAILABLE: retried, delivered -----------------------------------------------

my ($before, $after);
$rx->reset;
$before = otel_stats($node);
$rx->set_mode(code => 'UNAVAILABLE', message => 'collector warming up', count => 2,
	match => 'g_unavail');
sql('SELECT x FROM g_unavail');
ok(otel_flush($node, 30000), 'UNAVAILABLE twice, then delivered: flush succeeds');
$calls = calls();
is(scalar(grep { $_->{status_returned} eq 'UNAVAILABLE' } @$calls), 2,
	'the server answered UNAVAILABLE twice');
is(scalar(spans_for('g_unavail')), 1, 'the span arrives exactly once');
$after = otel_stats($node);
is($after->{retries} - $before->{retries}, 2, 'two retries counted');
is($after->{failed} - $before->{failed}, 0, 'nothing failed');

# ---- INVALID_ARGUMENT, UNAUTHENTICATED, RESOURCE_EXHAUSTED: dropped --------------------

for my $case (
	[ 'INVALID_ARGUMENT', 'g_invalid', 'span data 100% wrong', 3 ],
	[ 'UNAUTHENTICATED', 'g_unauth', 'invalid Authentication token', 16 ],
	[ 'RESOURCE_EXHAUSTED', 'g_exhaust', 'quota exceeded, no retry info', 8 ])
{
	my ($code, $table, $msg, $num) = @$case;
	$rx->reset;
	$before = otel_stats($node);
	$rx->set_mode(code => $code, message => $msg, count => 1, match => $table);
	sql("SELECT x FROM $table");
	otel_flush($node, 15000);
	$calls = calls();
	my @refused = grep { $_->{status_returned} eq $code } @$calls;
	is(scalar @refused, 1, "$code: not retried");
	$after = otel_stats($node);
	is($after->{retries} - $before->{retries}, 0, "$code: no retry counted");
	is($after->{failed} - $before->{failed}, $refused[0]{items},
		"$code: the spans of the call are counted as failed")
	  if @refused;
	like($after->{last_error} // '', qr/\Q$code\E \($num\): \Q$msg\E/,
		"$code: last_error has status and message");
	unlike($after->{last_error} // '', qr/\Q$TOKEN\E|\Q$AK_SECRET\E/,
		"$code: no secret in last_error");
	is(scalar(spans_for($table)), 0, "$code: the span never arrives");
}

# ---- RESOURCE_EXHAUSTED with RetryInfo: waits the delay, then delivered ----------------

$rx->reset;
$before = otel_stats($node);
$rx->set_mode(code => 'RESOURCE_EXHAUSTED', message => 'slow down',
	retry_delay_ms => 2500, count => 1, match => 'g_retryinfo');
sql('SELECT x FROM g_retryinfo');
ok(otel_flush($node, 30000), 'RESOURCE_EXHAUSTED with RetryInfo: delivered');
$calls = calls();
my ($ex) = grep { $_->{status_returned} eq 'RESOURCE_EXHAUSTED' } @$calls;
my ($next) = grep { $_->{status_returned} eq 'OK' && $ex && $_->{index} > $ex->{index} } @$calls;
ok($ex && $next, 'refused once, then accepted');
if ($ex && $next)
{
	my $gap = $next->{time} - $ex->{time};
	cmp_ok($gap, '>=', 2.4, sprintf('retried after %.2f s: the RetryInfo delay (2.5 s) is honoured', $gap));
	cmp_ok($gap, '<', 10, 'and not much later');
}
is(scalar(spans_for('g_retryinfo')), 1, 'the span arrives once');
$after = otel_stats($node);
is($after->{retries} - $before->{retries}, 1, 'one retry counted');

# ---- the deadline is honoured when the server stalls -------------------------------

reconf(export_timeout_ms => 1000);
$rx->reset;
$before = otel_stats($node);
$rx->set_mode(delay_ms => 8000, count => 1, match => 'g_stall');
sql('SELECT x FROM g_stall');
ok(otel_flush($node, 30000), 'stalled call given up, retried, delivered');
$calls = calls();
my ($stalled) = grep { $_->{status_returned} ne 'OK' } @$calls;
ok($stalled, 'the stalled call was recorded');
if ($stalled)
{
	ok($stalled->{cancelled}, 'the client cancelled the stalled call');
	cmp_ok($stalled->{elapsed_ms}, '<', 4000,
		"the client gave up after $stalled->{elapsed_ms} ms, not the 8 s stall");
	cmp_ok($stalled->{elapsed_ms}, '>=', 900, 'but not before the deadline');
	ok($stalled->{deadline_left_ms} <= 1000, 'grpc-timeout follows the setting');
}
is(scalar(spans_for('g_stall')), 1, 'the span arrives once');
$after = otel_stats($node);
cmp_ok($after->{retries} - $before->{retries}, '>=', 1, 'retry counted');
like($after->{last_error} // '', qr/DEADLINE_EXCEEDED/, 'last_error says DEADLINE_EXCEEDED');
reconf(export_timeout_ms => 3000);

# ---- partial success -----------------------------------------------------------------

$rx->reset;
$before = otel_stats($node);
$rx->set_mode(partial_rejected => 1, partial_message => 'one span refused', count => 1,
	compress_response => 1, match => 'g_partial');
sql('SELECT x FROM g_partial');
otel_flush($node, 15000);
$after = otel_stats($node);
is($after->{rejected} - $before->{rejected}, 1,
	'partial_success of a gzip-compressed answer counted');
like($after->{last_error} // '', qr/one span refused/, 'with its message');
is($after->{retries} - $before->{retries}, 0, 'partial success is not retried');

# ---- big spans: requests stay under the 4 MiB gRPC servers take -------------------------
#
# 120 statements of about 37 kB of text (no constants, so the whole text is
# kept, twice: db.query.text and db.statement) make some 10 MB of spans, far
# fewer than max_export_batch_size.  Flushed at once, they must go as several
# requests of at most 2 MiB of records, each of which the receiver (grpcio,
# default limit 4 MiB) takes; one request of them all would be refused with
# RESOURCE_EXHAUSTED and its spans dropped.

reconf(max_query_text_length => 65536, export_interval_ms => 600000);
sql('SELECT otel_aliyun.stats_reset()');
$rx->reset;
my $wide = 'SELECT ' . join(', ', map { sprintf('x AS g_big_column_%05d', $_) } 1 .. 1500)
  . ' FROM g_big';
sql(join('', map { "$wide;\n" } 1 .. 120));
ok(otel_flush($node, 60000), 'big spans: flush over gRPC reports success');
$calls = calls();
$st = otel_stats($node);
my @big = grep { ($_->{attributes}{'db.query.text'} // '') =~ /g_big_column_01500/ } @{ $rx->spans };
is(scalar @big, 120, 'big spans: every statement span arrived whole');
is($st->{failed}, 0, 'big spans: nothing failed');
my $max_len = List::Util::max(map { $_->{message_len} // 0 } @$calls) // 0;
cmp_ok(scalar @$calls, '>=', 4, 'big spans: sent as several requests (' . scalar(@$calls) . ')');
cmp_ok($max_len, '<=', 4 * 1024 * 1024, "big spans: largest request $max_len bytes");
cmp_ok($max_len, '>', 1024 * 1024, 'big spans: requests are not needlessly small');
reconf(max_query_text_length => undef, export_interval_ms => undef);

# ---- server down, then up: a new connection --------------------------------------------

$rx->stop;
sql('SELECT x FROM g_down');
$before = otel_stats($node);
ok(!otel_flush($node, 1500), 'flush while the server is down returns false');
ok(wait_for(sub { otel_stats($node)->{retries} > $before->{retries} }, timeout => 30),
	'the worker retries');
like(otel_stats($node)->{last_error} // '', qr/UNAVAILABLE/, 'last_error says UNAVAILABLE');
$rx->start;
ok(wait_for(sub { scalar(spans_for('g_down')) >= 1 }, timeout => 60),
	'delivered once the server is back');
ok(otel_flush($node, 15000), 'flush succeeds again');
$rx->reset;
sql('SELECT 1 AS after_restart_1');
otel_flush($node);
sql('SELECT 1 AS after_restart_2');
otel_flush($node);
$calls = calls();
is(scalar(grep { $_->{status_returned} ne 'OK' } @$calls), 0, 'later calls all succeed');
is(scalar(uniq(map { $_->{peer} } @$calls)), 1, 'and reuse the new connection');

# ---- diagnose() ----------------------------------------------------------------------

my $diag = json_decode(sql(
	"SELECT row_to_json(d) FROM otel_aliyun.diagnose() d WHERE signal = 'traces'"));
is($diag->{destination}, 'otlp/grpc', 'diagnose: destination otlp/grpc');
ok($diag->{reachable}, 'diagnose: reachable');
is($diag->{http_status}, 200, 'diagnose: HTTP/2 status 200');
like($diag->{detail}, qr/gRPC status OK \(0\)/, 'diagnose: gRPC status in detail')
  or diag($diag->{detail});
like($diag->{detail}, qr/HTTP\/2/, 'diagnose: says HTTP/2');
unlike($diag->{detail} . ($diag->{hint} // ''), qr/\Q$TOKEN\E|\Q$AK_SECRET\E/, 'diagnose: no secrets');

$rx->set_mode(code => 'UNAUTHENTICATED', message => 'token rejected', count => 1,
	match => 'otel_aliyun.diagnose');
$diag = json_decode(sql(
	"SELECT row_to_json(d) FROM otel_aliyun.diagnose() d WHERE signal = 'traces'"));
like($diag->{detail}, qr/UNAUTHENTICATED \(16\): token rejected/,
	'diagnose: a refused test export shows status and message');
like($diag->{hint} // '', qr/arms_token|token/i, 'diagnose: hint about the token');

my $dead_port = PostgreSQL::Test::Cluster::get_free_port();
reconf(traces_endpoint => "http://127.0.0.1:$dead_port");
$diag = json_decode(sql(
	"SELECT row_to_json(d) FROM otel_aliyun.diagnose() d WHERE signal = 'traces'"));
ok(!$diag->{reachable}, 'diagnose: nothing listening -> not reachable');
like($diag->{detail}, qr/UNAVAILABLE/, 'diagnose: UNAVAILABLE');
like($diag->{hint} // '', qr/4317|gRPC port|8090/, 'diagnose: hint names the gRPC ports');
reconf(traces_endpoint => $rx->url);

# ---- TLS (ALPN h2) -------------------------------------------------------------------

SKIP:
{
	my $dir = PostgreSQL::Test::Utils::tempdir('grpc_tls');
	my ($cert, $key) = OtelGrpc::self_signed_cert($dir);
	skip 'openssl could not make a certificate', 6 unless $cert;
	my $trx = OtelTest::GrpcReceiver->new(name => 'grpc_tls', tls_cert => $cert,
		tls_key => $key);
	reconf(traces_endpoint => $trx->url, tls_ca_file => $cert);
	sql('SELECT x FROM g_tls');
	ok(otel_flush($node, 15000), 'TLS: flush succeeds');
	is(scalar(server_spans($trx->spans, text => qr/\bg_tls\b/)), 1, 'TLS: span arrives over https');
	my $tcalls = [ grep { defined $_->{method} } @{ $trx->requests } ];
	is($tcalls->[0]{metadata}{authentication}, $TOKEN, 'TLS: metadata sent')
	  if @$tcalls;
	$diag = json_decode(sql(
		"SELECT row_to_json(d) FROM otel_aliyun.diagnose() d WHERE signal = 'traces'"));
	like($diag->{detail}, qr/gRPC status OK/, 'TLS: diagnose OK');
	like($diag->{detail}, qr/TLS [0-9.]+ ms/, 'TLS: diagnose shows the handshake');

	reconf(tls_ca_file => undef);
	$before = otel_stats($node);
	sql('SELECT 1 AS tls_untrusted');
	ok(!otel_flush($node, 2000), 'TLS: an untrusted certificate fails the export');
	reconf(traces_endpoint => $rx->url);
	otel_flush($node, 30000);
	$trx->stop;
}

# ---- logs and metrics over gRPC, sharing the connection ---------------------------

my $has_logs = sql("SELECT count(*) FROM pg_settings WHERE name = 'otel_aliyun.logs_protocol'") == 1
  && sql("SELECT count(*) FROM pg_proc WHERE proname = 'log_info'") > 0;
my $has_metrics = sql("SELECT count(*) FROM pg_settings WHERE name = 'otel_aliyun.metrics_protocol'") == 1
  && sql("SELECT count(*) FROM pg_proc WHERE proname = 'counter_add'") > 0;

SKIP:
{
	skip 'no OTLP logs exporter with logs_protocol in this build', 8 unless $has_logs;
	reconf(logs_exporter => 'otlp', logs_protocol => 'grpc', logs_endpoint => $rx->url);
	$rx->reset;
	sql(q{SELECT otel_aliyun.log_info('hello over grpc', '{"k": "v", "n": 7}')});
	sql('SELECT x FROM g_basic WHERE x > 2');
	ok(otel_flush($node, 15000), 'logs: flush succeeds');
	my ($rec) = grep { ($_->{body} // '') eq 'hello over grpc' } @{ $rx->logs };
	ok($rec, 'logs: the record arrived over gRPC and decodes');
	is($rec->{attributes}{k}, 'v', 'logs: string attribute') if $rec;
	is($rec->{attributes}{n}, 7, 'logs: number attribute') if $rec;
	$calls = calls();
	my @lc = grep { $_->{method} eq $LOGS_METHOD } @$calls;
	ok(@lc >= 1, "logs: calls go to $LOGS_METHOD");
	is($lc[0]{metadata}{'x-sls-otel-project'}, 'proj1', 'logs: header metadata sent') if @lc;
	ok(scalar(grep { $_->{method} eq $TRACE_METHOD } @$calls) >= 1, 'traces went too');
	is(scalar(uniq(map { $_->{peer} } @$calls)), 1,
		'logs and traces share one HTTP/2 connection');
}

SKIP:
{
	skip 'no OTLP metrics exporter with metrics_protocol in this build', 5 unless $has_metrics;
	reconf(metrics_exporter => 'otlp', metrics_protocol => 'grpc',
		metrics_endpoint => $rx->url);
	$rx->reset;
	sql(q{SELECT otel_aliyun.counter_add('grpc_test_requests', 5, '{"route": "/a"}')});
	sql('SELECT x FROM g_basic WHERE x > 0');
	ok(otel_flush($node, 15000), 'metrics: flush succeeds');
	my @pts = grep { $_->{name} =~ /^grpc_test_requests/ } @{ $rx->metrics };
	ok(@pts >= 1, 'metrics: the counter arrived over gRPC and decodes');
	my ($p) = grep { ($_->{attributes}{route} // '') eq '/a' } @pts;
	is($p && $p->{value}, 5, 'metrics: value and attribute');
	$calls = calls();
	ok(scalar(grep { $_->{method} eq $METRICS_METHOD } @$calls) >= 1,
		"metrics: calls go to $METRICS_METHOD");
	is(scalar(uniq(map { $_->{peer} } @$calls)), 1,
		'metrics share the HTTP/2 connection too');
	reconf(metrics_exporter => undef, metrics_protocol => undef, metrics_endpoint => undef);
}

# ---- http/json --------------------------------------------------------------------

my $hrx = OtelTest::Receiver->new(name => 'json');
reconf(traces_protocol => 'http/json', traces_endpoint => $hrx->url);
sql('SELECT x FROM g_json');
ok(otel_flush($node, 15000), 'http/json: flush succeeds');
my @j = server_spans($hrx->spans, text => qr/\bg_json\b/);
is(scalar @j, 1, 'http/json: the span arrives and decodes');
my @jreq = grep { ($_->{kind} // '') eq 'traces' } @{ $hrx->requests };
ok(@jreq >= 1, 'http/json: requests made');
is($jreq[0]{content_type}, 'application/json', 'http/json: content type application/json') if @jreq;
is($jreq[0]{decode_error}, undef, 'http/json: decodes as OTLP/JSON') if @jreq;
# The receiver parses with protobuf's JSON mapping, which reads bytes as
# base64: re-encoding what it got gives back the string that was sent, which
# must be the OTLP/JSON hex form (32 and 16 lower-case hex digits).
if (@j)
{
	my $sent_trace = MIME::Base64::encode_base64(pack('H*', $j[0]{traceId}), '');
	my $sent_span = MIME::Base64::encode_base64(pack('H*', $j[0]{spanId}), '');
	like($sent_trace, qr/^[0-9a-f]{32}$/, 'http/json: trace id sent as hex');
	like($sent_span, qr/^[0-9a-f]{16}$/, 'http/json: span id sent as hex');
}

# The span attributes that repeat (the session's, the query id's) travel
# pre-encoded as protobuf in the span record; the JSON encoder must give the
# same attributes from them as from a freshly written list (the first span
# of a query id).
$hrx->reset;
$node->safe_psql('postgres',
	"SELECT x FROM g_json; SELECT x FROM g_json; SELECT x FROM g_json WHERE x > -1");
ok(otel_flush($node, 15000), 'http/json: flush after repeats');
my @rep = server_spans($hrx->spans, text => qr/\bg_json\b/);
is(scalar @rep, 3, 'http/json: three statement spans');
if (@rep == 3)
{
	for my $s (@rep)
	{
		my $a = $s->{attributes};
		is($a->{'db.system.name'}, 'postgresql', 'http/json: db.system.name');
		is($a->{'db.system'}, 'postgresql', 'http/json: db.system');
		is($a->{'db.namespace'}, 'postgres|public', 'http/json: db.namespace');
		is($a->{'user.name'}, $a->{'db.user'}, 'http/json: user.name and db.user');
		ok(defined $a->{'postgresql.backend_pid'} && $a->{'postgresql.backend_pid'} =~ /^\d+$/,
			'http/json: backend pid is an integer');
		like($a->{'postgresql.query_id'} // '', qr/^-?\d+$/, 'http/json: query id is an integer');
		is($a->{'db.operation.name'}, 'SELECT', 'http/json: operation');
		is($a->{'db.collection.name'}, 'g_json', 'http/json: collection');
		is($a->{'db.query.text'}, $a->{'db.statement'}, 'http/json: text under both names');
	}
	my @t = sort map { $_->{attributes}{'db.query.text'} } @rep;
	is_deeply(\@t, [ 'SELECT x FROM g_json', 'SELECT x FROM g_json',
		'SELECT x FROM g_json WHERE x > $1' ], 'http/json: texts');
	my ($a1, $a2) = map { $_->{attributes} } grep {
		$_->{attributes}{'db.query.text'} eq 'SELECT x FROM g_json' } @rep;
	is_deeply([ sort keys %$a1 ], [ sort keys %$a2 ],
		'http/json: same attribute names from the list and from the cached encoding');
	is($a1->{'postgresql.query_id'}, $a2->{'postgresql.query_id'}, 'http/json: same query id');

	# the statement's own measures travel pre-encoded too
	for my $s (@rep)
	{
		my $a = $s->{attributes};
		is($a->{'db.response.returned_rows'}, 3, 'http/json: rows returned');
		like($a->{'postgresql.execution_time_ms'} // '', qr/^[0-9.]+(e-?\d+)?$/,
			'http/json: execution time is a number');
		like($a->{'postgresql.planning_time_ms'} // '', qr/^[0-9.]+(e-?\d+)?$/,
			'http/json: planning time is a number');
		ok(($a->{'postgresql.shared_blks_hit'} // 0) + ($a->{'postgresql.shared_blks_read'} // 0) > 0,
			'http/json: buffer usage');
	}
}

# and so does the SQLSTATE of a statement that failed
$hrx->reset;
$node->psql('postgres', 'SELECT x / 0 FROM g_json');
ok(otel_flush($node, 15000), 'http/json: flush after an error');
my @jerr = server_spans($hrx->spans, text => qr/\bg_json\b/);
is(scalar @jerr, 1, 'http/json: the failed statement has its span');
if (@jerr)
{
	is($jerr[0]{attributes}{'db.response.status_code'}, '22012', 'http/json: status code');
	is($jerr[0]{attributes}{'error.type'}, '22012', 'http/json: error.type');
}

# Spans travel in the ring already in OTLP protobuf form (record.h
# OTEL_REC_SPAN_OTLP); the JSON encoder reads them back.  The same statements
# through both encodings must give the same spans: ids, links, trace state,
# kinds, names, times, status and flags.
# (the JSON receiver reads ids as base64: what was sent is that re-encoded)
my $json_ids = 0;
sub sent_id
{
	my ($id) = @_;
	return $id if !$json_ids || !defined $id || $id eq '';
	return MIME::Base64::encode_base64(pack('H*', $id), '');
}

sub span_shape
{
	my ($spans, $root, $random_ids) = @_;
	my @kids = sort { $a->{name} cmp $b->{name} } children_of($spans, $root);
	return {
		name => $root->{name}, kind => $root->{kindName},
		trace => $random_ids ? (sent_id($root->{traceId}) =~ /^[0-9a-f]{32}$/ ? 'new' : 'bad')
		  : sent_id($root->{traceId}),
		parent => sent_id($root->{parentSpanId}),
		tracestate => $root->{traceState}, flags => $root->{flags},
		status => $root->{status}{code}, message => $root->{status}{message},
		ordered => ($root->{startTimeUnixNano} <= $root->{endTimeUnixNano} ? 1 : 0),
		kids => [ map {
			{ name => $_->{name}, kind => $_->{kindName}, status => $_->{status}{code},
			  flags => $_->{flags}, tracestate => $_->{traceState},
			  inside => ($_->{startTimeUnixNano} >= $root->{startTimeUnixNano}
				  && $_->{endTimeUnixNano} <= $root->{endTimeUnixNano} ? 1 : 0) }
		} @kids ],
	};
}
my $tp_trace = '5bd66ef5095369c7b0d1f8f4bd33716a';
my $tp_parent = 'c532cb4098ac3dd2';
my $tp_sql = "/*traceparent='00-$tp_trace-$tp_parent-01',tracestate='congo%3Dt61rcWkgMzE'*/ "
  . 'SELECT x FROM g_json WHERE x < 7';
my %shape;
for my $mode ('http/json', 'http/protobuf')
{
	my $rx = $mode eq 'http/json' ? $hrx : OtelTest::Receiver->new(name => 'pb_shape');
	$json_ids = $mode eq 'http/json';
	reconf(traces_protocol => $mode, traces_endpoint => $rx->url);
	$rx->reset;
	sql($tp_sql);
	$node->psql('postgres', 'SELECT 1 / (x - x) FROM g_json');
	ok(otel_flush($node, 15000), "$mode: flush for the span shapes");
	my @ok = server_spans($rx->spans, text => qr/\bg_json WHERE x < /);
	my @bad = server_spans($rx->spans, text => qr/\b1 \/ \(x - x\)/);
	is(scalar @ok, 1, "$mode: the joined statement's span");
	is(scalar @bad, 1, "$mode: the failed statement's span");
	next unless @ok == 1 && @bad == 1;
	$shape{$mode} = [ span_shape($rx->spans, $ok[0]), span_shape($rx->spans, $bad[0], 1) ];
	is(sent_id($ok[0]{traceId}), $tp_trace, "$mode: trace id from the traceparent");
	is(sent_id($ok[0]{parentSpanId}), $tp_parent, "$mode: parent from the traceparent");
	is($ok[0]{traceState}, 'congo=t61rcWkgMzE', "$mode: trace state");
	is($ok[0]{flags}, 1, "$mode: sampled flag");
	is(scalar(children_of($rx->spans, $ok[0])), 2, "$mode: planning and execution");
	is($bad[0]{status}{code}, 2, "$mode: failed statement has status ERROR");
	like($bad[0]{status}{message}, qr/division by zero/, "$mode: with the message");
	is($bad[0]{attributes}{'db.response.status_code'}, '22012', "$mode: SQLSTATE");
}
is_deeply($shape{'http/json'}, $shape{'http/protobuf'},
	'OTLP/JSON and protobuf give the same spans')
  or diag(explain(\%shape));

# ---- the secrets never reach the server log -------------------------------------------

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/\Q$TOKEN\E/, 'the ARMS token is not in the server log');
unlike($log, qr/\Q$AK_SECRET\E/, 'the SLS secret is not in the server log');

done_testing();
