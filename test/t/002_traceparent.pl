
# Copyright (c) otel_aliyun contributors

# W3C trace context: a traceparent in a sqlcommenter comment at the start or
# the end of a query makes the statement span a child of the caller's span;
# SET LOCAL / SET otel_aliyun.traceparent do it for pooled connections;
# invalid values are ignored, counted and never fail the query;
# otel_aliyun.current_traceparent() hands the current span on.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;

my $rx = OtelTest::Receiver->new;
my $node = otel_node('tp', otel => { traces_endpoint => $rx->url, sample_rate => 1 });

# one table per case: see otel_tables()
my @invalid_labels = qw(uppercase zero_trace zero_span version_ff too_short too_long
  junk_after_v00 not_hex bad_flags empty);
otel_tables($node, 1,
	(map { "tp_$_" } qw(leading trailing semicolon other_keys encoded future
		  in_tx in_tx_2 after_tx session after_reset comment_wins bad_setting
		  current chain_parent chain_child)),
	map { "tp_invalid_$_" } @invalid_labels);
ok(otel_flush($node), 'flush after set-up');
$rx->reset;

sub tp { my ($t, $p, $f) = @_; return "00-$t-$p-" . ($f // '01'); }

my $T1 = '4bf92f3577b34da6a3ce929d0e0e4736';
my $P1 = '00f067aa0ba902b7';
my $T2 = '0af7651916cd43dd8448eb211c80319c';
my $P2 = 'b7ad6b7169203331';
my $T3 = '11111111111111111111111111111111';
my $P3 = '2222222222222222';
my $T4 = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf';
my $P4 = 'b0b1b2b3b4b5b6b7';
my $T5 = 'c0c1c2c3c4c5c6c7c8c9cacbcccdcecf';
my $P5 = 'd0d1d2d3d4d5d6d7';
my $T6 = 'e0e1e2e3e4e5e6e7e8e9eaebecedeeef';
my $P6 = 'f0f1f2f3f4f5f6f7';
my $T7 = '99999999999999999999999999999999';
my $P7 = '8888888888888888';
my $T8 = '7777777777777777777777777777777a';
my $P8 = '666666666666666b';

# ---- valid comments -----------------------------------------------------------

my %joined = (
	# label => [sql, trace, parent, tracestate]
	leading => [ "/*traceparent='" . tp($T1, $P1) . "'*/ SELECT x FROM tp_leading", $T1, $P1, '' ],
	trailing => [
		"SELECT x FROM tp_trailing /*traceparent='" . tp($T2, $P2)
		  . "',tracestate='congo%3Dt61rcWkgMzE%2Crojo%3D00f067aa0ba902b7'*/",
		$T2, $P2, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'
	],
	trailing_semicolon => [
		"SELECT x FROM tp_semicolon /*traceparent='" . tp($T3, $P3) . "'*/;",
		$T3, $P3, ''
	],
	other_keys => [
		"/*action='checkout',controller='cart',traceparent='" . tp($T4, $P4)
		  . "'*/ SELECT x FROM tp_other_keys",
		$T4, $P4, ''
	],
	url_encoded => [
		"SELECT x FROM tp_encoded /*traceparent='00%2D$T5%2D$P5%2D01'*/",
		$T5, $P5, ''
	],
	future_version => [
		"/*traceparent='cc-$T6-$P6-01-some-future-field'*/ SELECT x FROM tp_future",
		$T6, $P6, ''
	],
);

for my $label (sort keys %joined)
{
	my ($sql) = @{ $joined{$label} };
	my $r = $node->safe_psql('postgres', $sql);
	is($r, '1', "$label: query answers");
}
ok(otel_flush($node), 'flush');
my $spans = $rx->spans;

for my $label (sort keys %joined)
{
	my (undef, $trace, $parent, $state) = @{ $joined{$label} };
	my @s = server_spans($spans, traceId => $trace);
	is(scalar @s, 1, "$label: one statement span in the caller's trace")
	  or next;
	my $s = $s[0];
	is($s->{parentSpanId}, $parent, "$label: parent is the caller's span");
	isnt($s->{spanId}, $parent, "$label: a new span id");
	is($s->{traceState}, $state, "$label: tracestate") if $state ne '';
	my $text = attr($s, 'db.query.text') // '';
	unlike($text, qr{traceparent|/\*|\*/}, "$label: comment kept out of db.query.text")
	  or diag("db.query.text: $text");
	like($text, qr/^SELECT x FROM tp_\w+$/, "$label: db.query.text is the bare statement");
	unlike(attr($s, 'db.query.summary') // '', qr/traceparent|\*/,
		"$label: comment kept out of the summary");
	unlike($s->{name}, qr/traceparent|\*/, "$label: comment kept out of the span name");
	my @kids = children_of($spans, $s);
	ok(@kids >= 1 && !grep({ $_->{traceId} ne $trace } @kids),
		"$label: children in the same trace");
}

# ---- invalid values: ignored, counted, harmless ------------------------------

my $T = 'abcdef0123456789abcdef0123456789';
my $P = '0123456789abcdef';
my @invalid = (
	# same order as @invalid_labels
	[ uppercase => '00-' . uc($T) . "-$P-01" ],
	[ zero_trace => '00-' . ('0' x 32) . "-$P-01" ],
	[ zero_span => "00-$T-" . ('0' x 16) . '-01' ],
	[ version_ff => "ff-$T-$P-01" ],
	[ too_short => "00-$T-" . substr($P, 0, 15) . '-01' ],
	[ too_long => "00-${T}0-$P-01" ],
	[ junk_after_v00 => "00-$T-$P-01-junk" ],
	[ not_hex => "00-" . ('g' x 32) . "-$P-01" ],
	[ bad_flags => "00-$T-$P-0x" ],
	[ empty => '' ],
);
my $before = otel_stats($node)->{invalid_context};
for my $i (0 .. $#invalid)
{
	my ($label, $v) = @{ $invalid[$i] };
	my $sql = ($i % 2 == 0)
	  ? "/*traceparent='$v'*/ SELECT x FROM tp_invalid_$label"
	  : "SELECT x FROM tp_invalid_$label /*traceparent='$v'*/";
	my ($rc, $out, $err) = $node->psql('postgres', $sql);
	is($rc, 0, "invalid $label: the query still succeeds");
	is($out, '1', "invalid $label: and answers");
}
ok(otel_flush($node), 'flush');
my $after = otel_stats($node)->{invalid_context};
is($after - $before, scalar(@invalid), 'every invalid traceparent counted once');
$spans = $rx->spans;
for my $i (0 .. $#invalid)
{
	my ($label) = @{ $invalid[$i] };
	my $s = find_span($spans, kind => 'SERVER', text => "SELECT x FROM tp_invalid_$label");
	ok($s, "invalid $label: statement still traced as a new root") or next;
	is($s->{parentSpanId}, '', "invalid $label: no parent");
	isnt($s->{traceId}, $T, "invalid $label: caller's trace id not used");
	ok(is_hex_id($s->{traceId}, 16), "invalid $label: a fresh trace id");
}

# ---- SET LOCAL and SET: the pooled-connection way ----------------------------

$node->safe_psql(
	'postgres', qq{
BEGIN;
SET LOCAL otel_aliyun.traceparent = '@{[tp($T7, $P7)]}';
SELECT x FROM tp_in_tx;
SELECT x FROM tp_in_tx_2;
COMMIT;
SELECT x FROM tp_after_tx;
SET otel_aliyun.traceparent = '@{[tp($T8, $P8)]}';
SELECT x FROM tp_session;
RESET otel_aliyun.traceparent;
SELECT x FROM tp_after_reset;
});
ok(otel_flush($node), 'flush');
$spans = $rx->spans;
for my $a (qw(tp_in_tx tp_in_tx_2))
{
	my $s = find_span($spans, kind => 'SERVER', text => "SELECT x FROM $a");
	is($s && $s->{traceId}, $T7, "SET LOCAL: $a joins the transaction's trace");
	is($s && $s->{parentSpanId}, $P7, "SET LOCAL: $a parent");
}
my $after_tx = find_span($spans, kind => 'SERVER', text => 'SELECT x FROM tp_after_tx');
ok($after_tx && $after_tx->{traceId} ne $T7 && $after_tx->{parentSpanId} eq '',
	'SET LOCAL ends with the transaction');
my $sess = find_span($spans, kind => 'SERVER', text => 'SELECT x FROM tp_session');
is($sess && $sess->{traceId}, $T8, 'SET: session statements join');
is($sess && $sess->{parentSpanId}, $P8, 'SET: parent');
my $reset = find_span($spans, kind => 'SERVER', text => 'SELECT x FROM tp_after_reset');
ok($reset && $reset->{traceId} ne $T8, 'RESET: back to new roots');

# a comment in the query wins over the setting
$node->safe_psql(
	'postgres', qq{
SET otel_aliyun.traceparent = '@{[tp($T8, $P8)]}';
/*traceparent='@{[tp($T1, $P2)]}'*/ SELECT x FROM tp_comment_wins;
});
# an invalid setting is ignored and counted, queries keep working
$before = otel_stats($node)->{invalid_context};
my $r = $node->safe_psql(
	'postgres', q{
BEGIN;
SET LOCAL otel_aliyun.traceparent = 'not-a-traceparent';
SELECT x + 15 FROM tp_bad_setting;
COMMIT;
});
is($r, '16', 'invalid otel_aliyun.traceparent does not fail the query');
ok(otel_flush($node), 'flush');
cmp_ok(otel_stats($node)->{invalid_context} - $before, '>=', 1,
	'invalid setting counted');
$spans = $rx->spans;
my $wins = find_span($spans, kind => 'SERVER', text => 'SELECT x FROM tp_comment_wins');
is($wins && $wins->{traceId} . '/' . $wins->{parentSpanId}, "$T1/$P2",
	'the comment wins over the session setting');
my $bad = find_span($spans, kind => 'SERVER', text => 'SELECT x + $1 FROM tp_bad_setting');
ok($bad && $bad->{parentSpanId} eq '', 'invalid setting: statement is a new root');

# ---- current_traceparent() -----------------------------------------------------

my $cur = $node->safe_psql('postgres',
	"/*traceparent='" . tp($T4, $P1) . "'*/ SELECT otel_aliyun.current_traceparent() FROM tp_current");
like($cur, qr/^00-$T4-[0-9a-f]{16}-01$/, 'current_traceparent() is in the caller\'s trace');
ok(otel_flush($node), 'flush');
$spans = $rx->spans;
my ($cur_span) = $cur =~ /^00-[0-9a-f]{32}-([0-9a-f]{16})-01$/;
my $cs = find_span($spans, kind => 'SERVER', traceId => $T4, parentSpanId => $P1);
is($cs && $cs->{spanId}, $cur_span, 'current_traceparent() names the statement span');

like($node->safe_psql('postgres', 'SELECT otel_aliyun.current_traceparent()'),
	qr/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'a new root statement has a traceparent too');
is($node->safe_psql('postgres',
		"SET otel_aliyun.sample_rate = 0; SELECT otel_aliyun.current_traceparent() IS NULL"),
	't', 'no current traceparent when the statement is not sampled');

# propagation from SQL: the returned value, used as a comment, makes a child
my $chain = $node->safe_psql(
	'postgres', q{
SELECT otel_aliyun.current_traceparent() AS tp_chain_parent FROM tp_chain_parent \gset
SELECT format('/*traceparent=''%s''*/ SELECT x FROM tp_chain_child', :'tp_chain_parent') \gexec
SELECT :'tp_chain_parent';
});
my ($chain_tp) = (split /\n/, $chain)[-1];
ok(otel_flush($node), 'flush');
$spans = $rx->spans;
my ($ct, $cp) = $chain_tp =~ /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;
my $child = find_span($spans, kind => 'SERVER', text => 'SELECT x FROM tp_chain_child');
ok($child && $ct && $child->{traceId} eq $ct && $child->{parentSpanId} eq $cp,
	'a traceparent from current_traceparent() joins the next statement to the first');

$node->stop;
unlike(slurp_file($node->logfile), qr/PANIC|was terminated by signal/, 'no crash');
done_testing();
