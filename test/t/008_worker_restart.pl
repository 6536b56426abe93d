
# Copyright (c) otel_aliyun contributors

# The export worker is killed: the postmaster starts a new one, open
# sessions are not disturbed, and spans recorded while no worker ran are
# delivered by the next one.  After SIGKILL (which PostgreSQL treats as a
# crash of a shared-memory process: every backend is reset) the server
# comes back with a fresh buffer and a worker that exports again.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;

my $rx = OtelTest::Receiver->new;
my $node = otel_node('restart', otel => { traces_endpoint => $rx->url, sample_rate => 1 },
	conf => 'restart_after_crash = on');
otel_tables($node, 1, qw(w_before w_session w_while_down w_after w_after_crash));

my $w1 = otel_worker_pid($node);
ok($w1, "worker running (pid " . ($w1 // 'none') . ')');
$node->safe_psql('postgres', 'SELECT x FROM w_before');
ok(otel_flush($node), 'flush');

my $bg = $node->background_psql('postgres');
my $bg_pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_safe('SELECT x FROM w_session');

# ---- SIGTERM outside shutdown --------------------------------------------------

kill 'TERM', $w1;
ok(wait_for(sub { !kill(0, $w1) }, timeout => 30), 'the worker exited on SIGTERM');
# spans made while no worker runs stay in the buffer
$node->safe_psql('postgres', join('', map { "SELECT x + $_ FROM w_while_down;\n" } 1 .. 10));
my $w2 = wait_for(sub { my $p = otel_worker_pid($node); $p && $p != $w1 ? $p : undef },
	timeout => 30);
ok($w2, 'the postmaster started a new worker (pid ' . ($w2 // 'none') . ')');
is($bg->query_safe('SELECT pg_backend_pid()'), $bg_pid, 'the open session kept its backend');
is($bg->query_safe('SELECT x FROM w_session'), '1', 'and works');
ok(otel_flush($node, 30000), 'flush through the new worker');
my $spans = $rx->spans;
is(scalar(server_spans($spans, text => 'SELECT x + $1 FROM w_while_down')), 10,
	'spans recorded while no worker ran are delivered');
is(scalar(server_spans($spans, text => 'SELECT x FROM w_session')), 2,
	'the session\'s statements are delivered');
$bg->quit;
unlike(slurp_file($node->logfile), qr/terminating any other active server processes/,
	'SIGTERM of the worker is not a crash');

# ---- SIGKILL: crash restart -------------------------------------------------------

my $w = otel_worker_pid($node);
if (!$w)
{
	# no worker came back above: start over so that there is one to kill
	$node->restart;
	$w = wait_for(sub { otel_worker_pid($node) }, timeout => 30);
}
ok($w, 'a worker to kill');
my $logpos = -s $node->logfile;
kill 'KILL', $w if $w;
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server is back after the crash');
ok(wait_for(sub { my $p = otel_worker_pid($node); $p && $p != ($w // 0) }, timeout => 60),
	'a new worker after crash recovery');
$node->safe_psql('postgres', 'SELECT x FROM w_after_crash');
ok(otel_flush($node, 30000), 'flush after the crash');
is(scalar(server_spans($rx->spans, text => 'SELECT x FROM w_after_crash')), 1,
	'exports work after the crash');
my $st = otel_stats($node);
ok(defined $st->{buffer_used_bytes}, 'stats readable after the crash');

$node->stop;
ok(slurp_file($node->logfile, $logpos) !~ /PANIC/, 'no PANIC');
done_testing();
