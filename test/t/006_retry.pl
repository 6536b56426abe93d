
# Copyright (c) otel_aliyun contributors

# Export failures: receiver down then up -> what was kept is delivered and
# queries never wait; 503 with Retry-After is retried no sooner than asked;
# a dropped connection and 429 are retried; 400 is dropped at once, counted
# and logged; a partial_success is counted, not retried.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use OtelTest;

my $rx = OtelTest::Receiver->new;
my $node = otel_node(
	'retry',
	otel => {
		traces_endpoint => $rx->url,
		sample_rate => 1,
		export_interval_ms => 200,
		export_timeout_ms => 2000,
		max_retries => 100,
	});
otel_tables($node, 1, qw(r_down r_503 r_conn r_429 r_400 r_partial r_after));
ok(otel_flush($node), 'flush after set-up');

sub count_text
{
	my ($spans, $table) = @_;
	return scalar(server_spans($spans, text => "SELECT x + \$1 FROM $table"));
}

# ---- 400: dropped, counted, logged ------------------------------------------------
# (first, so that no earlier failure has used up the once-a-minute log line)

my ($before, $after, $reqs);
$rx->reset;
my $logpos = -s $node->logfile;
$before = otel_stats($node);
$rx->set_mode(status => 400, count => 1, body => 'r400: the request was malformed');
$node->safe_psql('postgres', 'SELECT x + 1 FROM r_400');
ok(!otel_flush($node, 10000), 'flush reports that something did not get out');
$reqs = $rx->requests;
my @r400 = grep { $_->{status_returned} == 400 } @$reqs;
is(scalar @r400, 1, 'the 400 request is not retried');
$after = otel_stats($node);
cmp_ok($after->{failed} - $before->{failed}, '>=', 1, 'failed counts the dropped spans');
is($after->{failed} - $before->{failed}, $r400[0]{items}, 'failed = spans in the refused request')
  if @r400;
is($after->{retries} - $before->{retries}, 0, 'no retry for 400');
like($after->{last_error} // '', qr/400/, 'last_error has the status');
is(count_text($rx->spans, 'r_400'), 0, 'the refused statement never arrives');
ok(wait_for(sub { slurp_file($node->logfile, $logpos) =~ /400.*r400: the request/ }, timeout => 10),
	'status and start of the body logged');
# logged at most once a minute
$rx->set_mode(status => 400, count => 3);
for my $i (1 .. 3)
{
	$node->safe_psql('postgres', 'SELECT x + 1 FROM r_400');
	otel_flush($node, 5000);
}
my @lines = grep { /r400|HTTP 400|status 400/ } split /\n/, slurp_file($node->logfile, $logpos);
cmp_ok(scalar @lines, '<=', 2, 'repeated 400s are not logged each time')
  or diag(join("\n", @lines));

# a flush asked for while a batch is on its way (taken from the buffer by
# the export interval, not yet answered) and which then fails: the flush
# reports it, although the buffer is empty by the time the worker answers
$rx->set_mode(status => 400, count => 1, delay_ms => 1200);
$before = otel_stats($node);
$node->safe_psql('postgres', 'SELECT x + 1 FROM r_400');
sleep 0.6;    # the export interval is 200 ms: the batch is on its way
ok(!otel_flush($node, 10000), 'flush reports a batch that was on its way and failed');
$after = otel_stats($node);
cmp_ok($after->{failed} - $before->{failed}, '>=', 1, 'and failed counts it');
ok(otel_flush($node, 10000), 'the next flush, with nothing failing, is true again');

# ---- receiver down, then up -----------------------------------------------------

$rx->stop;
my $t0 = time;
$node->safe_psql('postgres', join('', map { "SELECT x + $_ FROM r_down;\n" } 1 .. 20));
my $elapsed = time - $t0;
cmp_ok($elapsed, '<', 10, sprintf('20 statements while the endpoint is down take %.2f s', $elapsed));
$before = otel_stats($node);
ok(!otel_flush($node, 1500), 'flush while down returns false');
ok(wait_for(sub { otel_stats($node)->{retries} > $before->{retries} }, timeout => 30),
	'the worker retries');
my $st = otel_stats($node);
isnt($st->{last_error} // '', '', 'last_error says why');
is($st->{dropped}, 0, 'nothing dropped while down');
$rx->start;
ok(otel_flush($node, 30000), 'flush after the receiver came back');
is(count_text($rx->spans, 'r_down'), 20, 'every statement made while down is delivered');
is(otel_stats($node)->{dropped}, 0, 'nothing dropped');

# ---- 503 with Retry-After ----------------------------------------------------------

$rx->reset;
$rx->set_mode(status => 503, retry_after => '2', count => 2);
$before = otel_stats($node);
$node->safe_psql('postgres', 'SELECT x + 1 FROM r_503');
ok(otel_flush($node, 30000), 'flush through two 503s');
$reqs = $rx->requests;
my @r503 = grep { $_->{status_returned} == 503 } @$reqs;
is(scalar @r503, 2, 'two requests answered 503');
for my $r (@r503)
{
	my ($next) = grep { $_->{index} == $r->{index} + 1 } @$reqs;
	ok($next, "request after 503 #$r->{index}");
	cmp_ok($next->{time} - $r->{time}, '>=', 1.9,
		sprintf('Retry-After: 2 honoured (%.2f s later)', $next->{time} - $r->{time}))
	  if $next;
}
my $spans = $rx->spans;
is(count_text($spans, 'r_503'), 1, 'the statement arrives once');
$after = otel_stats($node);
cmp_ok($after->{retries} - $before->{retries}, '>=', 2, 'retries counted');
is($after->{failed} - $before->{failed}, 0, 'nothing failed');

# ---- connection dropped, and 429 ---------------------------------------------------

for my $case ([ r_conn => 0, 'dropped connection' ], [ r_429 => 429, '429' ])
{
	my ($table, $status, $label) = @$case;
	$rx->reset;
	$rx->set_mode(status => $status, count => 1);
	$node->safe_psql('postgres', "SELECT x + 1 FROM $table");
	ok(otel_flush($node, 30000), "$label: flush");
	is(count_text($rx->spans, $table), 1, "$label: retried and delivered once");
}

# ---- partial success: counted, not retried ------------------------------------------

$rx->reset;
$before = otel_stats($node);
$rx->set_mode(status => 200, partial_rejected => 2, partial_message => 'two spans refused', count => 1);
$node->safe_psql('postgres', 'SELECT x + 1 FROM r_partial');
ok(otel_flush($node, 10000), 'flush with a partial success');
$after = otel_stats($node);
is($after->{rejected} - $before->{rejected}, 2, 'rejected counts the partial_success');
is($after->{retries} - $before->{retries}, 0, 'partial success is not retried');
is(count_text($rx->spans, 'r_partial'), 1, 'and the statement was sent once');

# ---- and back to normal ------------------------------------------------------------

$rx->reset;
$node->safe_psql('postgres', 'SELECT x + 1 FROM r_after');
ok(otel_flush($node), 'flush');
is(count_text($rx->spans, 'r_after'), 1, 'exports work normally afterwards');
unlike(otel_stats($node)->{destination} // '', qr/secret/, 'destination shows no secret');

$node->stop;
ok(slurp_file($node->logfile) !~ /PANIC|was terminated by signal/, 'no crash');
done_testing();
