
# Copyright (c) otel_aliyun contributors

# ParentBased(TraceIdRatioBased) sampling: the ratio holds within tolerance
# for statements without a parent; a sampled parent is followed even at rate
# 0; an unsampled parent is not recorded even at rate 1; sampled-out
# statements are counted; track = none and enabled = off record nothing.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;

my $rx = OtelTest::Receiver->new;
my $node = otel_node('sampling', otel => { traces_endpoint => $rx->url, sample_rate => 1 });
otel_tables($node, 1, map { "s3_$_" } qw(ratio zero one sampled_parent unsampled_parent
	  unsampled_parent_guc track_none track_none_parent disabled enabled_again));

# ---- ratio 0.25 over 2000 statements ------------------------------------------

my $N = 2000;
my $rate = 0.25;
my $before = otel_stats($node);
my $script = "SET otel_aliyun.sample_rate = $rate;\n"
  . join('', map { "SELECT x + $_ FROM s3_ratio;\n" } 1 .. $N);
$node->safe_psql('postgres', $script);
ok(otel_flush($node, 30000), 'flush');
my $after = otel_stats($node);

my @sampled = server_spans($rx->spans, text => 'SELECT x + $1 FROM s3_ratio');
my $n = scalar @sampled;
my $sd = sqrt($N * $rate * (1 - $rate));
my ($lo, $hi) = (int($N * $rate - 5 * $sd), int($N * $rate + 5 * $sd + 1));
cmp_ok($n, '>=', $lo, "sampled $n of $N at rate $rate: at least $lo");
cmp_ok($n, '<=', $hi, "sampled $n of $N at rate $rate: at most $hi");
my %traces = map { $_->{traceId} => 1 } @sampled;
is(scalar keys %traces, $n, 'each sampled statement has its own trace');

# every statement was either recorded or counted as sampled out
my $sampled_out = $after->{sampled_out} - $before->{sampled_out};
cmp_ok($sampled_out, '>=', $N - $n, 'sampled_out counts the others');
cmp_ok($sampled_out, '<=', $N - $n + 5, 'and not many more');

# TraceIdRatioBased: sampled iff the trace id's last 56 bits < rate * 2^56
my @wrong = grep { hex(substr($_->{traceId}, 18, 14)) >= $rate * 2**56 } @sampled;
is(scalar @wrong, 0, 'every sampled trace id is below the rate threshold');

# ---- rate 0 and 1 ---------------------------------------------------------------

$rx->reset;
$node->safe_psql('postgres',
	"SET otel_aliyun.sample_rate = 0;\n" . join('', map { "SELECT x + $_ FROM s3_zero;\n" } 1 .. 200));
$node->safe_psql('postgres',
	"SET otel_aliyun.sample_rate = 1;\n" . join('', map { "SELECT x + $_ FROM s3_one;\n" } 1 .. 200));
ok(otel_flush($node), 'flush');
my $spans = $rx->spans;
is(scalar(server_spans($spans, text => 'SELECT x + $1 FROM s3_zero')), 0, 'rate 0: nothing recorded');
is(scalar(server_spans($spans, text => 'SELECT x + $1 FROM s3_one')), 200, 'rate 1: everything recorded');

# ---- parent-based ---------------------------------------------------------------

my $TS = '5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a';
my $TU = '6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b';
my $PP = '7c7c7c7c7c7c7c7c';
$rx->reset;
$node->safe_psql(
	'postgres', qq{
SET otel_aliyun.sample_rate = 0;
/*traceparent='00-$TS-$PP-01'*/ SELECT x FROM s3_sampled_parent;
SET otel_aliyun.sample_rate = 1;
/*traceparent='00-$TU-$PP-00'*/ SELECT x FROM s3_unsampled_parent;
BEGIN;
SET LOCAL otel_aliyun.traceparent = '00-$TU-$PP-00';
SELECT x FROM s3_unsampled_parent_guc;
COMMIT;
});
ok(otel_flush($node), 'flush');
$spans = $rx->spans;
my @sp = server_spans($spans, traceId => $TS);
is(scalar @sp, 1, 'sampled parent at rate 0: recorded');
is($sp[0] && $sp[0]->{parentSpanId}, $PP, 'sampled parent at rate 0: child of the caller');
is(scalar(grep { $_->{traceId} eq $TU } @$spans), 0, 'unsampled parent at rate 1: nothing recorded');
is(scalar(find_spans($spans, text => qr/s3_unsampled_parent/)), 0,
	'unsampled parent: no span under another trace either');

# ---- track and enabled ------------------------------------------------------------

$rx->reset;
$node->safe_psql(
	'postgres', qq{
SET otel_aliyun.track = none;
SELECT x FROM s3_track_none;
/*traceparent='00-$TS-$PP-01'*/ SELECT x FROM s3_track_none_parent;
RESET otel_aliyun.track;
SET otel_aliyun.enabled = off;
SELECT x FROM s3_disabled;
RESET otel_aliyun.enabled;
SELECT x FROM s3_enabled_again;
});
ok(otel_flush($node), 'flush');
$spans = $rx->spans;
is(scalar(find_spans($spans, text => qr/s3_track_none/)), 0, 'track = none: nothing');
is(scalar(find_spans($spans, text => qr/s3_disabled/)), 0, 'enabled = off: nothing');
is(scalar(server_spans($spans, text => 'SELECT x FROM s3_enabled_again')), 1, 'back on: recorded');

# non-superusers cannot switch tracing off for themselves
$node->safe_psql('postgres', 'CREATE ROLE s3_plain LOGIN');
my ($rc) = $node->psql('postgres', 'SET otel_aliyun.sample_rate = 0',
	extra_params => [ '-U', 's3_plain' ]);
isnt($rc, 0, 'sample_rate is superuser-only (SUSET)');

$node->stop;
unlike(slurp_file($node->logfile), qr/PANIC|was terminated by signal/, 'no crash');

# ---- query ids only for statements that may become spans ----------------------
# No statement's query id is computed in advance (compute_query_id stays
# auto and nothing enables it); one that a sampled parent brings in, even at
# rate 0, gets its query id and the normalised text computed then.  With
# compute_query_id = off there is none: the lexer-sanitised text is sent.

my $zero = otel_node('sampling_zero', otel => { traces_endpoint => $rx->url, sample_rate => 0 });
otel_tables($zero, 1, 's3_zero_start');
is($zero->safe_psql('postgres', 'SHOW compute_query_id'), 'auto', 'compute_query_id is auto');
$rx->reset;
$zero->safe_psql(
	'postgres', qq{
/*traceparent='00-$TS-$PP-01'*/ SELECT x + 42 FROM s3_zero_start WHERE 'abc' <> 'def';
SET otel_aliyun.sample_rate = 1;
SELECT x + 43 FROM s3_zero_start;
});
ok(otel_flush($zero), 'flush (rate 0 server)');
$spans = $rx->spans;
@sp = server_spans($spans, traceId => $TS);
is(scalar @sp, 1, 'rate 0 server: sampled parent recorded');
is($sp[0] && $sp[0]->{attributes}{'db.query.text'},
	'SELECT x + $1 FROM s3_zero_start WHERE $2 <> $3',
	'rate 0 server: literals still replaced (lexer)');
like($sp[0] && $sp[0]->{attributes}{'postgresql.query_id'} // '', qr/^-?[1-9]\d*$/,
	'rate 0 server: the sampled statement got its query id');
is($zero->safe_psql('postgres', 'SELECT count(*) FROM pg_stat_activity WHERE query_id IS NOT NULL'),
	'0', 'query ids are not enabled for every statement');
my @later = server_spans($spans, text => 'SELECT x + $1 FROM s3_zero_start');
is(scalar @later, 1, 'rate raised in the session: recorded with the normalised text');
ok($later[0] && $later[0]->{attributes}{'postgresql.query_id'},
	'rate raised in the session: query ids computed');

$rx->reset;
$zero->safe_psql(
	'postgres', qq{
SET compute_query_id = off;
/*traceparent='00-$TS-$PP-01'*/ SELECT x + 44 FROM s3_zero_start WHERE 'ghi' <> 'jkl';
});
ok(otel_flush($zero), 'flush (compute_query_id off)');
@sp = server_spans($rx->spans, traceId => $TS);
is(scalar @sp, 1, 'compute_query_id = off: span recorded');
ok($sp[0] && !defined $sp[0]->{attributes}{'postgresql.query_id'},
	'compute_query_id = off: no query id');
is($sp[0] && $sp[0]->{attributes}{'db.query.text'},
	'SELECT x + $1 FROM s3_zero_start WHERE $2 <> $3',
	'compute_query_id = off: literals still replaced (lexer)');
# ---- unsampled statements without a slot ------------------------------------
# A plain statement decided unsampled, with no context of its own, is not
# tracked further (track = top): current_traceparent() still gives it an
# unsampled context when the rate is above 0 (none at rate 0), and an error
# in it does not get a second sampling decision.

my $tp = $zero->safe_psql('postgres', q{
SET otel_aliyun.sample_rate = 0.000001;
SELECT otel_aliyun.current_traceparent() || ' ' ||
	(otel_aliyun.current_traceparent() = otel_aliyun.current_traceparent())::text;
});
like($tp, qr/^00-[0-9a-f]{32}-[0-9a-f]{16}-00 true$/,
	'unsampled new root: an unsampled traceparent, the same within the statement');
isnt((split / /, $tp)[0], $zero->safe_psql('postgres', q{
SET otel_aliyun.sample_rate = 0.000001;
SELECT otel_aliyun.current_traceparent();
}), 'and another one for the next statement');
is($zero->safe_psql('postgres', 'SELECT otel_aliyun.current_traceparent() IS NULL'), 't',
	'rate 0: no traceparent for a statement without context');

otel_tables($zero, 1, 's3_fail_half');
otel_flush($zero);
$zero->safe_psql('postgres', 'SELECT otel_aliyun.stats_reset()');
$rx->reset;
my $NF = 200;
$zero->psql('postgres',
	"SET otel_aliyun.sample_rate = 0.5;\n"
	  . join('', map { "SELECT x / (x - x) + $_ FROM s3_fail_half;\n" } 1 .. $NF),
	on_error_stop => 0);
ok(otel_flush($zero), 'flush (failing statements)');
my @failed = server_spans($rx->spans, text => qr/s3_fail_half/);
my $st = otel_stats($zero);
cmp_ok(scalar @failed, '>', 0, 'some failing statements sampled');
# (the SET, flush() and stats reads around them add a few sampled out)
my $decided = scalar(@failed) + $st->{sampled_out};
ok($decided >= $NF && $decided <= $NF + 6,
	"each failing statement decided once: spans + sampled out = $decided for $NF");
ok(!(grep { ($_->{status}{code} // 0) != 2 } @failed), 'their spans have status ERROR');

$zero->stop;
done_testing();
