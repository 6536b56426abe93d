
# Copyright (c) otel_aliyun contributors

# A small buffer and a stalled receiver: spans that do not fit are dropped
# and counted, the queries do not wait and do not fail; once the receiver
# answers again what was kept is delivered.  The buffer shows in
# pg_shmem_allocations.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use OtelTest;

my $rx = OtelTest::Receiver->new;
my $node = otel_node(
	'bufferfull',
	otel => {
		traces_endpoint => $rx->url,
		sample_rate => 1,
		buffer_size => '1MB',
		export_interval_ms => 100,
		export_timeout_ms => 1000,
		max_retries => 100,
		# long texts make big spans
		max_query_text_length => 8192,
	});
otel_tables($node, 1, qw(b_fill b_probe b_after));

my $alloc = $node->safe_psql('postgres',
	q{SELECT coalesce(sum(size), 0) FROM pg_shmem_allocations WHERE name ILIKE '%otel_aliyun%buffer%'});
cmp_ok($alloc, '>=', 1024 * 1024, "the buffer is in pg_shmem_allocations ($alloc bytes)");
my $st0 = otel_stats($node);
cmp_ok($st0->{buffer_size_bytes}, '>=', 1024 * 1024 * 0.9, 'stats.buffer_size_bytes about 1MB');
cmp_ok($st0->{buffer_size_bytes}, '<=', 1024 * 1024 * 1.1, 'and not more');

# each statement: about 5kB of normalised text (all share one query id)
my $pad = join(', ', map { "x AS c$_" } 1 .. 400);
my @stmts = map { "SELECT $pad, x + $_ FROM b_fill;\n" } 1 .. 600;

# baseline latency with the receiver answering
my $t0 = time;
$node->safe_psql('postgres', join('', @stmts[0 .. 99]));
my $base = time - $t0;
ok(otel_flush($node, 30000), 'flush');

# stall the receiver: every export hangs past the timeout
# (503 after the delay, so that the abandoned requests store nothing)
$rx->set_mode(status => 503, delay_ms => 30000);
my $before = otel_stats($node);
$t0 = time;
my ($rc, $out, $err) = $node->psql('postgres', join('', @stmts));
my $stalled = time - $t0;
is($rc, 0, '600 statements succeed while the receiver is stalled');
is(scalar(split /\n/, $out), 600, 'and return their rows');
cmp_ok($stalled, '<', 6 * $base + 5,
	sprintf('and do not wait for the exporter (%.2f s vs %.2f s for 100 unstalled)', $stalled, $base));

ok(wait_for(sub { otel_stats($node)->{dropped} > $before->{dropped} }, timeout => 30),
	'spans that did not fit were dropped and counted');
my $mid = otel_stats($node);
cmp_ok($mid->{buffer_used_bytes}, '>', 0, 'the buffer holds what was kept');
cmp_ok($mid->{buffer_used_bytes}, '<=', $mid->{buffer_size_bytes}, 'within its size');

# a query while the buffer is full is still quick
$t0 = time;
is($node->safe_psql('postgres', 'SELECT x FROM b_probe'), '1', 'query while the buffer is full');
cmp_ok(time - $t0, '<', 5, 'and it is not slowed down');

# receiver answers again: the kept spans are delivered
$rx->reset;
ok(otel_flush($node, 60000), 'flush once the receiver answers');
my @fill = server_spans($rx->spans, text => qr/FROM b_fill$/);
my $after = otel_stats($node);
cmp_ok(scalar @fill, '>', 0, 'kept statement spans are delivered');
cmp_ok(scalar @fill, '<', 600, 'but not all: some were dropped');
my $dropped = $after->{dropped} - $before->{dropped};
cmp_ok($dropped, '>', 0, "dropped: $dropped");
# the spans of the statements reading the stats may still be on their way
my $missing = $after->{produced} - $after->{exported} - $after->{failed};
ok($missing >= 0 && $missing <= 5,
	"everything put in the buffer was exported or failed (unaccounted: $missing)")
  or diag(json_encode($after));

$node->safe_psql('postgres', 'SELECT x FROM b_after');
ok(otel_flush($node), 'flush');
is(scalar(server_spans($rx->spans, text => 'SELECT x FROM b_after')), 1, 'back to normal');

$node->stop;
ok(slurp_file($node->logfile) !~ /PANIC|was terminated by signal/, 'no crash');

# An 8MB buffer is two partitions of 4MB; a backend writes to its own and,
# when that is full, to the other one: one busy session can still use the
# whole buffer.  The worker holds at most 10 spans of its own, so that the
# spans stay in the buffer while the receiver is stalled.
$rx->reset;
my $pnode = otel_node(
	'partitions',
	otel => {
		traces_endpoint => $rx->url,
		sample_rate => 1,
		buffer_size => '8MB',
		max_export_batch_size => 10,
		export_interval_ms => 100,
		export_timeout_ms => 1000,
		max_retries => 1000,
		max_query_text_length => 8192,
	});
otel_tables($pnode, 1, qw(p_fill p_after));
my $pst0 = otel_stats($pnode);
is($pst0->{buffer_size_bytes}, 8 * 1024 * 1024, 'stats.buffer_size_bytes: 8MB');
my $ppad = join(', ', map { "x AS c$_" } 1 .. 400);
$pnode->safe_psql('postgres', "SELECT $ppad, x + 0 FROM p_fill");
ok(otel_flush($pnode, 30000), 'flush');
$rx->set_mode(status => 503, delay_ms => 30000);
$pst0 = otel_stats($pnode);
# about 5.7MB of spans from one session: more than a partition holds
($rc, $out, $err) = $pnode->psql('postgres',
	join('', map { "SELECT $ppad, x + $_ FROM p_fill;\n" } 1 .. 600));
is($rc, 0, '600 big statements succeed while the receiver is stalled');
my $pst1 = otel_stats($pnode);
is($pst1->{dropped} - $pst0->{dropped}, 0, 'none of their spans is dropped');
cmp_ok($pst1->{buffer_used_bytes}, '>', 4.5 * 1024 * 1024,
	"the buffer holds more than one partition ($pst1->{buffer_used_bytes} bytes)");
$rx->reset;
ok(otel_flush($pnode, 120000), 'flush once the receiver answers');
my @pfill = server_spans($rx->spans, text => qr/FROM p_fill$/);
is(scalar @pfill, 600, 'every statement span is delivered');
$pnode->safe_psql('postgres', 'SELECT x FROM p_after');
ok(otel_flush($pnode), 'flush');
is(scalar(server_spans($rx->spans, text => 'SELECT x FROM p_after')), 1, 'back to normal');
$pnode->stop;
ok(slurp_file($pnode->logfile) !~ /PANIC|was terminated by signal/, 'no crash');

# A partition past half full wakes the worker, and what it holds goes at
# once, even when it is less than a batch and the export interval is far
# off (else every put would wake the worker again, for nothing).
$rx->reset;
my $hnode = otel_node(
	'halffull',
	otel => {
		traces_endpoint => $rx->url,
		sample_rate => 1,
		buffer_size => '8MB',
		export_interval_ms => 600000,
		max_query_text_length => 8192,
	});
otel_tables($hnode, 1, qw(h_fill));
ok(otel_flush($hnode, 30000), 'flush');
$rx->reset;
my $hpad = join(', ', map { "x AS c$_" } 1 .. 120);
# about 2.6MB of spans from one session: past half of its 4MB partition,
# fewer spans than a batch (4096)
$hnode->safe_psql('postgres',
	join('', map { "SELECT $hpad, x + $_ FROM h_fill;\n" } 1 .. 1000));
my $early;
ok( wait_for(
		sub {
			$early = scalar(server_spans($rx->spans, text => qr/FROM h_fill$/));
			return $early >= 500;
		},
		timeout => 30),
	'a partition past half full is exported without waiting for the interval');
note("statement spans delivered before any flush: $early");
ok(otel_flush($hnode, 30000), 'flush');
is(scalar(server_spans($rx->spans, text => qr/FROM h_fill$/)), 1000,
	'and the rest follows with the flush');
$hnode->stop;
ok(slurp_file($hnode->logfile) !~ /PANIC|was terminated by signal/, 'no crash');
done_testing();
