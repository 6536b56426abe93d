
# Copyright (c) otel_aliyun contributors

# Logs to SLS PutLogs, checked by an SLS-compatible endpoint that verifies
# the V1/V4 signature, Content-MD5 and STS token with its own code,
# decompresses LZ4 and decodes LogGroup with protoc-generated classes:
# contents, time, trace correlation, tags, topic and source; 401 dropped and
# counted, not retried; 403 quota and 503 retried then delivered; 400
# RequestTimeExpired signed again once; a wrong secret refused by the
# endpoint's own check; batches split under 4096 logs and 3 MB; diagnose();
# a full buffer drops and counts while log() stays fast; no secret in the
# server log.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use Sys::Hostname;
use OtelTest;
use OtelSls;

my $token = 'sts-token-for-the-test';
my $sls = OtelSls::Receiver->new(security_token => $token);
my $node = otel_node(
	'sls',
	otel => {
		$sls->settings,
		sls_topic => 'pg-topic',
		service_name => 'logs-svc',
		cloud_region => 'cn-test',
		export_interval_ms => 200,
		logs_export_interval_ms => 200,
		export_timeout_ms => 5000,
		logs_buffer_size => '16MB',
		max_retries => 10,
	});

sub stats_delta
{
	my ($before) = @_;
	my $now = otel_stats($node, 'logs');
	return { map { $_ => ($now->{$_} // 0) - ($before->{$_} // 0) }
		  qw(exported failed retries dropped produced requests) };
}

sub sql { return $node->safe_psql('postgres', $_[0]); }

# ---- contents, time, tags, topic, correlation --------------------------------

my $t0 = time;
is(sql(q{SELECT otel_aliyun.log('warn', 'hello sls',
	'{"order": {"id": 42, "tags": ["a", "b"]}, "ok": true, "ratio": 0.25,
	  "content": "clash", "__time__": "x"}')}), 't', 'log() returns true');
my $tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
sql("/*traceparent='$tp'*/ SELECT otel_aliyun.log_info('traced one', '{\"n\": 1}')");
ok(otel_flush($node), 'flush');

my ($log) = @{ $sls->wait_logs('hello sls', 1) };
my $c = $log->{contents};
is($c->{severityText}, 'WARN', 'severityText');
is($c->{severityNumber}, '13', 'severityNumber');
is($c->{'order.id'}, '42', 'nested object flattened to a dotted key');
is($c->{'order.tags'}, '["a","b"]', 'array as JSON text');
is($c->{ok}, 'true', 'boolean as text');
is($c->{ratio}, '0.25', 'double as text');
is($c->{'attr.content'}, 'clash', 'an attribute named like a fixed key gets attr.');
is($c->{'attr.__time__'}, 'x', 'an attribute named like a reserved SLS key gets attr.');
is($c->{'db.namespace'}, 'postgres', 'database');
ok(defined $c->{'user.name'} && $c->{'user.name'} ne '', 'role');
like($c->{'postgresql.backend_pid'}, qr/^\d+$/, 'backend pid');
like($c->{'postgresql.application_name'}, qr/./, 'application_name');
cmp_ok(abs($log->{time} - $t0), '<', 60, 'Time is now (seconds)');
ok(defined $log->{timeNs} && $log->{timeNs} < 1_000_000_000, 'Time_ns set');
is($log->{topic}, 'pg-topic', 'topic');
is($log->{source}, hostname(), 'source is the host name');
is($log->{tags}{'service.name'}, 'logs-svc', 'tag service.name');
is($log->{tags}{'cloud.region'}, 'cn-test', 'tag cloud.region');
is($log->{tags}{'cloud.provider'}, 'alibaba_cloud', 'tag cloud.provider');

my ($traced) = @{ $sls->wait_logs('traced one', 1) };
is($traced->{contents}{traceID}, '0af7651916cd43dd8448eb211c80319c',
	'traced statement: traceID of the traceparent');
like($traced->{contents}{spanID}, qr/^[0-9a-f]{16}$/, 'spanID');
isnt($traced->{contents}{spanID}, 'b7ad6b7169203331',
	'spanID is the statement span, a child of the traceparent');
is($traced->{contents}{flags}, '01', 'flags: sampled');

my @reqs = @{ $sls->requests };
ok(@reqs >= 1, 'requests seen');
my $bad = grep {
	     !$_->{checks}{md5}
	  || !$_->{checks}{signature}
	  || $_->{status_returned} != 200
} @reqs;
is($bad, 0, 'every request: MD5 and V1 signature verified by the endpoint, 200');
my $h = $reqs[0]{headers};
like($h->{authorization}, qr/^LOG test-ak-id:[A-Za-z0-9+\/]+=*$/, 'Authorization: LOG id:signature');
like($h->{'content-md5'}, qr/^[0-9A-F]{32}$/, 'Content-MD5 upper-case hex');
like($h->{date}, qr/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/, 'Date in RFC 1123');
is($h->{'x-log-apiversion'}, '0.6.0', 'x-log-apiversion');
is($h->{'x-log-signaturemethod'}, 'hmac-sha1', 'x-log-signaturemethod');
is($h->{'x-log-compresstype'}, 'lz4', 'LZ4 compressed');
is($h->{'x-acs-security-token'}, $token, 'STS token sent');
is($h->{'content-type'}, 'application/x-protobuf', 'Content-Type');
cmp_ok($reqs[0]{raw_len}, '>', $reqs[0]{body_len}, 'x-log-bodyrawsize is the size before compression');

# ---- 401: dropped and counted, not retried ------------------------------------

$sls->reset;
my $logpos = -s $node->logfile;
my $before = otel_stats($node, 'logs');
$sls->set_mode(status => 401, error_code => 'SignatureNotMatch',
	error_message => 'signature r401 not match');
sql(q{SELECT otel_aliyun.log_info('r401 record')});
# (the worker may have dropped it before the flush, which then has nothing to report)
otel_flush($node);
my $d = stats_delta($before);
is($d->{failed}, 1, '401: the record is counted as failed');
is($d->{retries}, 0, '401: no retry');
is(scalar @{ $sls->requests }, 1, '401: one request only');
my $st = otel_stats($node, 'logs');
like($st->{last_error}, qr/401 SignatureNotMatch: signature r401 not match/, 'last_error has errorCode and errorMessage');
my $rid = $sls->requests->[0]{request_id};
like($st->{last_error}, qr/request id \Q$rid\E/, 'last_error has x-log-requestid');
ok(wait_for(sub { slurp_file($node->logfile, $logpos) =~ /SignatureNotMatch/ }, timeout => 10),
	'the failure is logged');
$sls->reset;

# ---- 403 quota and 503: retried, then delivered -------------------------------

$before = otel_stats($node, 'logs');
$sls->set_mode(status => 403, error_code => 'WriteQuotaExceed',
	error_message => 'Project write quota exceed', count => 2);
sql(q{SELECT otel_aliyun.log_info('r403 record')});
ok(otel_flush($node, 30000), '403 quota: flush succeeds in the end');
is_deeply([ map { $_->{status_returned} } @{ $sls->requests } ], [ 403, 403, 200 ],
	'403 WriteQuotaExceed retried until accepted');
$d = stats_delta($before);
is($d->{retries}, 2, '403: two retries counted');
is($d->{exported}, 1, '403: delivered');
is($d->{failed}, 0, '403: nothing lost');
is(scalar @{ $sls->logs_like('r403 record') }, 1, '403: the record arrived once');

$sls->reset;
$before = otel_stats($node, 'logs');
$sls->set_mode(status => 503, error_code => 'ServerBusy', error_message => 'busy',
	count => 2, retry_after => '0');
sql(q{SELECT otel_aliyun.log_info('r503 record')});
ok(otel_flush($node, 30000), '503: flush succeeds in the end');
is_deeply([ map { $_->{status_returned} } @{ $sls->requests } ], [ 503, 503, 200 ],
	'503 retried until accepted');
is(stats_delta($before)->{exported}, 1, '503: delivered');

# ---- 400 RequestTimeExpired: signed again with a fresh Date, once --------------

$sls->reset;
$before = otel_stats($node, 'logs');
$sls->set_mode(status => 400, error_code => 'RequestTimeExpired',
	error_message => 'Request time is out of range', count => 1);
sql(q{SELECT otel_aliyun.log_info('r400 time record')});
ok(otel_flush($node), 'RequestTimeExpired once: delivered');
@reqs = @{ $sls->requests };
is_deeply([ map { $_->{status_returned} } @reqs ], [ 400, 200 ], 'resent at once after RequestTimeExpired');
ok($reqs[1]{checks}{signature}, 'the resent request carries a valid signature');
is(stats_delta($before)->{exported}, 1, 'RequestTimeExpired once: exported');

$sls->reset;
$before = otel_stats($node, 'logs');
$sls->set_mode(status => 400, error_code => 'RequestTimeExpired',
	error_message => 'Request time is out of range', count => 5);
sql(q{SELECT otel_aliyun.log_info('r400 time twice')});
# (the worker may have dropped it before the flush, which then has nothing to report)
otel_flush($node);
is(scalar @{ $sls->requests }, 2, 'only one fresh attempt');
is(stats_delta($before)->{failed}, 1, 'RequestTimeExpired twice: dropped and counted');
$sls->reset;

# ---- the endpoint's own checks: a wrong secret, a wrong project ---------------

sub reconf
{
	my (%kv) = @_;
	for my $k (sort keys %kv)
	{
		sql("ALTER SYSTEM SET otel_aliyun.$k = '$kv{$k}'");
	}
	sql('SELECT pg_reload_conf()');
	# the worker reloads before its next batch; give it one round
	sleep 1;
}

reconf(sls_access_key_secret => 'not-the-secret');
$before = otel_stats($node, 'logs');
sql(q{SELECT otel_aliyun.log_info('wrong secret')});
# (the worker may have dropped it before the flush, which then has nothing to report)
otel_flush($node);
@reqs = @{ $sls->requests };
is($reqs[-1]{error_code}, 'SignatureNotMatch', 'the endpoint computed another signature');
ok(!$reqs[-1]{forced}, '(found by its own check, not forced)');
is(stats_delta($before)->{failed}, 1, 'wrong secret: dropped');
sql('ALTER SYSTEM RESET otel_aliyun.sls_access_key_secret');

$sls->reset;
reconf(sls_project => 'otherproj');
sql(q{SELECT otel_aliyun.log_info('wrong project')});
# (the worker may have dropped it before the flush, which then has nothing to report)
otel_flush($node);
is($sls->requests->[-1]{error_code}, 'ProjectNotExist', '404 ProjectNotExist');
like(otel_stats($node, 'logs')->{last_error}, qr/404 ProjectNotExist/, 'last_error says ProjectNotExist');
sql('ALTER SYSTEM RESET otel_aliyun.sls_project');
sql('SELECT pg_reload_conf()');
sleep 1;

# ---- V4 signatures --------------------------------------------------------------

$sls->reset;
reconf(sls_signature_version => 'v4', sls_region => 'cn-test');
sql(q{SELECT otel_aliyun.log_info('v4 record')});
ok(otel_flush($node), 'v4: delivered');
@reqs = @{ $sls->requests };
is($reqs[-1]{checks}{signature_version}, 'v4', 'v4 signature used');
ok($reqs[-1]{checks}{signature}, 'v4 signature verified by the endpoint');
like($reqs[-1]{headers}{authorization},
	qr{^SLS4-HMAC-SHA256 Credential=test-ak-id/\d{8}/cn-test/sls/aliyun_v4_request,Signature=[0-9a-f]{64}$},
	'v4 Authorization');
sql('ALTER SYSTEM RESET otel_aliyun.sls_signature_version');
sql('ALTER SYSTEM RESET otel_aliyun.sls_region');
sql('SELECT pg_reload_conf()');
sleep 1;

# ---- batches split under SLS's limits -------------------------------------------

# count: logs_batch_size = 10 -> requests of at most 10
$sls->reset;
reconf(logs_batch_size => 10);
sql(q{SELECT count(*) FROM generate_series(1, 35) g WHERE otel_aliyun.log_info('split-count ' || g)});
ok(otel_flush($node), 'split by count: delivered');
@reqs = grep { $_->{logs} > 0 } @{ $sls->requests };
is($sls->count_prefix('split-count '), 35, 'all 35 arrived');
cmp_ok(scalar @reqs, '>=', 4, 'in at least 4 requests');
is(scalar(grep { $_->{logs} > 10 } @reqs), 0, 'none with more than 10 logs');
sql('ALTER SYSTEM RESET otel_aliyun.logs_batch_size');

# 4096 logs: one batch of 5000 from the worker (nothing exported until the
# flush) goes out as two requests
$sls->reset;
reconf(export_interval_ms => 600000, logs_export_interval_ms => 600000,
	max_export_batch_size => 65536, logs_batch_size => 4096);
sql(q{SELECT count(*) FROM generate_series(1, 5000) g WHERE otel_aliyun.log_info('split-4096 ' || g)});
ok(otel_flush($node, 30000), 'split at 4096: delivered');
@reqs = grep { $_->{logs} > 0 } @{ $sls->requests };
is($sls->count_prefix('split-4096 '), 5000, 'all 5000 arrived');
is(scalar(grep { $_->{logs} > 4096 } @reqs), 0, 'no request over 4096 logs');
is(scalar(grep { $_->{logs} == 4096 } @reqs), 1, 'one full request of 4096');

# 3 MB: 60 records of 60 kB are 3.6 MB of LogGroup
$sls->reset;
sql(q{SELECT count(*) FROM generate_series(1, 60) g
	  WHERE otel_aliyun.log_info('split-size ' || g || ' ' || repeat(md5(g::text), 1875))});
ok(otel_flush($node, 30000), 'split at 3 MB: delivered');
@reqs = grep { $_->{logs} > 0 } @{ $sls->requests };
my $got = $sls->logs(prefix => 'split-size ', brief => 1);
is(scalar @$got, 60, 'all 60 big records arrived');
is(scalar(grep { $_->{sizes}{content} < 60000 } @$got), 0, 'whole');
cmp_ok(scalar @reqs, '>=', 2, 'in at least 2 requests');
is(scalar(grep { $_->{raw_len} > 3_000_000 } @reqs), 0, 'none over 3 MB raw');
reconf();
for my $k (qw(export_interval_ms logs_export_interval_ms max_export_batch_size logs_batch_size))
{
	sql("ALTER SYSTEM RESET otel_aliyun.$k");
}
sql('SELECT pg_reload_conf()');
sleep 1;

# ---- diagnose(): a real PutLogs of one record --------------------------------------

$sls->reset;
my $port = $sls->port;
my $row = sql(q{SELECT destination, endpoint, reachable, http_status
				FROM otel_aliyun.diagnose() WHERE signal = 'logs'});
is($row, "sls|http://otelproj.localhost:$port/logstores/otellogs/shards/lb|t|200",
	'diagnose: SLS row, reachable, accepted');
is(scalar @{ $sls->logs_like('otel_aliyun.diagnose test record') }, 1,
	'diagnose sent one signed record');
$sls->set_mode(status => 401, error_code => 'SignatureNotMatch', error_message => 'x', count => 1);
$row = sql(q{SELECT http_status, hint FROM otel_aliyun.diagnose() WHERE signal = 'logs'});
like($row, qr/^401\|.*sls_access_key_secret/, 'diagnose: 401 with a hint about the secret');
$sls->set_mode(status => 404, error_code => 'LogStoreNotExist', error_message => 'x', count => 1);
$row = sql(q{SELECT http_status, detail, hint FROM otel_aliyun.diagnose() WHERE signal = 'logs'});
like($row, qr/^404\|.*LogStoreNotExist.*\|.*sls_logstore/, 'diagnose: 404 LogStoreNotExist');

# ---- a full buffer: dropped and counted, log() stays fast ---------------------------

$sls->reset;
$before = otel_stats($node, 'logs');
# the worker is stuck in a slow request while the buffer fills
sql(q{SELECT otel_aliyun.log_info('slow one')});
$sls->set_mode(status => 200, delay_ms => 4000, count => 1);
$node->safe_psql('postgres', 'SELECT otel_aliyun.flush(0)');
sleep 0.5;
my $t1 = time;
my ($stdout, $stderr);
$node->psql('postgres',
	q{SET otel_aliyun.logs_warn_on_drop = on;
	  SELECT count(*) FILTER (WHERE ok), count(*) FILTER (WHERE NOT ok)
	  FROM (SELECT otel_aliyun.log_info('fill ' || g || repeat('x', 60000)) AS ok
			FROM generate_series(1, 400) g) s},
	stdout => \$stdout, stderr => \$stderr, on_error_die => 1);
my $elapsed = time - $t1;
my ($queued, $dropped) = split /\|/, $stdout;
cmp_ok($dropped, '>', 0, "buffer full: $dropped of 400 dropped");
cmp_ok($elapsed, '<', 3, sprintf('400 log() calls took %.2f s, not waiting for the slow endpoint', $elapsed));
like($stderr, qr/WARNING:  otel_aliyun log buffer is full/, 'logs_warn_on_drop: WARNING');
ok(otel_flush($node, 60000), 'what was queued gets out');
is(stats_delta($before)->{dropped}, $dropped, 'dropped counted in stats');
is($sls->count_prefix('fill '), $queued, 'every queued record delivered');

# ---- no secret in the server log --------------------------------------------------

my $serverlog = slurp_file($node->logfile);
unlike($serverlog, qr/test-ak-secret/, 'the AccessKey secret never reaches the server log');
# (the ALTER SYSTEM statement itself shows in log_statement's lines)
is(scalar(grep { /not-the-secret/ && !/statement: ALTER SYSTEM/ } split /\n/, $serverlog),
	0, 'nor a secret set by a reload ("parameter ... changed to")');
unlike($serverlog, qr/\Q$token\E/, 'the STS token never reaches the server log');
unlike(otel_stats($node, 'logs')->{last_error} // '', qr/test-ak-secret|\Q$token\E/, 'nor the stats');

$node->stop;
done_testing();
