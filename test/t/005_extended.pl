
# Copyright (c) otel_aliyun contributors

# The extended protocol gives exactly one statement span per executed
# statement: pgbench -M prepared and -M extended, portals fetched in pieces
# (Execute with a row limit), interleaved portals, portals closed before
# the end, and SQL cursors (DECLARE/FETCH).

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;

my $rx = OtelTest::Receiver->new;
my $node = otel_node('extended',
	otel => { traces_endpoint => $rx->url, sample_rate => 1, buffer_size => '32MB' });

$node->command_ok([ 'pgbench', '-i', '-q', '-s', '1', '-p', $node->port,
		'-h', $node->host, 'postgres' ], 'pgbench -i');
otel_tables($node, 100, qw(x5_pieces x5_unfinished x5_portal_a x5_portal_b x5_named x5_cursor));
ok(otel_flush($node, 30000), 'flush');

# TPC-B-like: BEGIN, UPDATE accounts, SELECT, UPDATE tellers, UPDATE branches,
# INSERT history, END
my @tpcb = (
	[ 'BEGIN', qr/^BEGIN$/ ],
	[ 'UPDATE accounts', qr/^UPDATE pgbench_accounts SET abalance = abalance \+ \$1 WHERE aid = \$2$/ ],
	[ 'SELECT', qr/^SELECT abalance FROM pgbench_accounts WHERE aid = \$1$/ ],
	[ 'UPDATE tellers', qr/^UPDATE pgbench_tellers SET tbalance = tbalance \+ \$1 WHERE tid = \$2$/ ],
	[ 'UPDATE branches', qr/^UPDATE pgbench_branches SET bbalance = bbalance \+ \$1 WHERE bid = \$2$/ ],
	[ 'INSERT', qr/^INSERT INTO pgbench_history \(tid, bid, aid, delta, mtime\) VALUES \(\$1, \$2, \$3, \$4, CURRENT_TIMESTAMP\)$/ ],
	[ 'END', qr/^END$/ ],
);

for my $mode (qw(prepared extended simple))
{
	my $clients = 2;
	my $tx = 60;
	$rx->reset;
	$node->command_ok(
		[ 'pgbench', '-n', '-M', $mode, '-c', $clients, '-t', $tx,
			'-p', $node->port, '-h', $node->host, 'postgres' ],
		"pgbench -M $mode");
	my ($settled, $t_last) = otel_settle($node, 30000);
	ok($settled, "$mode: flush");
	my $spans = $rx->spans;
	# pgbench's own queries (scale detection) are left out
	my @server = grep {
		my $t = attr($_, 'db.query.text') // '';
		$_->{kindName} eq 'SERVER' && grep { $t =~ $_->[1] } @tpcb
	} @$spans;
	is(scalar @server, $clients * $tx * scalar(@tpcb),
		"$mode: one SERVER span per statement executed");
	for my $t (@tpcb)
	{
		my ($label, $re) = @$t;
		my @s = grep { attr($_, 'db.query.text') =~ $re } @server;
		is(scalar @s, $clients * $tx, "$mode: $label, once per transaction")
		  or diag(join("\n", map { attr($_, 'db.query.text') } @server[0 .. 13]));
	}
	my @errors = grep { $_->{status}{code} == 2 } @server;
	is(scalar @errors, 0, "$mode: no ERROR spans");

	# every DML statement: one execution child, at most one planning child
	my ($bad_exec, $bad_plan) = (0, 0);
	my %kids;
	for my $s (@$spans)
	{
		push @{ $kids{ $s->{parentSpanId} } }, $s if $s->{parentSpanId} ne '';
	}
	for my $s (grep { attr($_, 'db.query.text') =~ /pgbench/ } @server)
	{
		my @k = @{ $kids{ $s->{spanId} } // [] };
		$bad_exec++ unless 1 == grep { $_->{name} eq 'execution' } @k;
		$bad_plan++ if 1 < grep { $_->{name} eq 'planning' } @k;
	}
	is($bad_exec, 0, "$mode: each DML span has exactly one execution child");
	is($bad_plan, 0, "$mode: and at most one planning child");
	my @sel = grep { attr($_, 'db.query.text') =~ $tpcb[2][1] } @server;
	is(scalar(grep { (attr($_, 'db.response.returned_rows') // -1) == 1 } @sel), scalar @sel,
		"$mode: SELECT returned_rows = 1 every time");
	my %ids;
	is(scalar(grep { $ids{ $_->{spanId} }++ } @$spans), 0, "$mode: no span id repeated");
	is(scalar(orphan_spans($spans, $t_last)), 0, "$mode: every child's parent was exported");
	my %traces;
	$traces{ $_->{traceId} }++ for @server;
	is(scalar(grep { $_ > 1 } values %traces), 0,
		"$mode: statements without traceparent do not share traces");
}

# ---- portals by hand ------------------------------------------------------------

$rx->reset;
my $c = OtelTest::PgWire->connect(port => $node->port, user => 'postgres');

# one portal fetched in three pieces
$c->parse('', 'SELECT x FROM x5_pieces WHERE x <= 25');
$c->bind('', '');
$c->execute('', 10);
$c->execute('', 10);
$c->execute('', 0);
my $r = $c->sync;
is(scalar @{ $r->{rows} }, 25, 'pieces: 25 rows arrive');
is($r->{suspended}, 2, 'pieces: suspended twice');

# a portal left unfinished: closed by Sync at the end of the implicit transaction
$c->parse('', 'SELECT x FROM x5_unfinished');
$c->bind('', '');
$c->execute('', 7);
$r = $c->sync;
is(scalar @{ $r->{rows} }, 7, 'unfinished: 7 rows');

# two portals interleaved in one transaction
$r = $c->query('BEGIN');
$c->parse('sa', 'SELECT x FROM x5_portal_a WHERE x <= 6');
$c->parse('sb', 'SELECT x FROM x5_portal_b WHERE x <= 4');
$c->bind('pa', 'sa');
$c->bind('pb', 'sb');
$c->execute('pa', 3);
$c->execute('pb', 2);
$c->execute('pa', 0);
$c->execute('pb', 0);
$c->close_portal('pa');
$c->close_portal('pb');
$r = $c->sync;
is(scalar @{ $r->{rows} }, 10, 'interleaved: all rows');
$r = $c->query('COMMIT');
is($r->{error}, undef, 'interleaved: commit');

# a named statement executed three times with parameters
$c->parse('x5_named', 'SELECT x * 2 FROM x5_named WHERE x = $1');
for my $v (1 .. 3)
{
	$c->bind('', 'x5_named', $v);
	$c->execute('', 0);
}
$r = $c->sync;
is_deeply([ map { $_->[0] } @{ $r->{rows} } ], [ 2, 4, 6 ], 'named statement: three results');
$c->terminate;

# SQL cursors
$node->safe_psql(
	'postgres', q{
BEGIN;
DECLARE x5_cur CURSOR FOR SELECT x FROM x5_cursor;
FETCH 10 FROM x5_cur;
FETCH 20 FROM x5_cur;
CLOSE x5_cur;
COMMIT;
});
my ($settled, $t_last) = otel_settle($node);
ok($settled, 'flush');
my $spans = $rx->spans;

my @p = server_spans($spans, text => qr/x5_pieces/);
is(scalar @p, 1, 'portal fetched in pieces: one statement span') or dump_spans(\@p, 'pieces');
is($p[0] && attr($p[0], 'db.response.returned_rows'), 25, 'pieces: returned_rows counts all 25');
is(scalar(grep { $_->{name} eq 'execution' } children_of($spans, $p[0] // {})), 1,
	'pieces: one execution child');

my @u = server_spans($spans, text => qr/x5_unfinished/);
is(scalar @u, 1, 'unfinished portal: one statement span');
isnt($u[0] && $u[0]->{status}{code}, 2, 'unfinished portal: not an error');

for my $n (qw(a b))
{
	my @s = server_spans($spans, text => qr/x5_portal_$n/);
	is(scalar @s, 1, "interleaved portal $n: one span");
	is($s[0] && attr($s[0], 'db.response.returned_rows'), $n eq 'a' ? 6 : 4,
		"interleaved portal $n: its own row count");
}

my @named = server_spans($spans, text => 'SELECT x * $2 FROM x5_named WHERE x = $1');
is(scalar @named, 3, 'named statement: one span per execution');

my @decl = server_spans($spans, text => qr/^DECLARE x5_cur/);
is(scalar @decl, 1, 'cursor: DECLARE span');
my @fetch = server_spans($spans, text => qr/^FETCH \S+ FROM x5_cur/);
is(scalar @fetch, 2, 'cursor: one span per FETCH');
is_deeply([ sort { $a <=> $b } map { attr($_, 'db.response.returned_rows') // -1 } @fetch ],
	[ 10, 20 ], 'cursor: each FETCH reports its rows');
is(scalar(server_spans($spans, text => qr/^CLOSE x5_cur/)), 1, 'cursor: CLOSE span');
is(scalar(orphan_spans($spans, $t_last)), 0, 'every child\'s parent was exported');
is(scalar(grep { $_->{status}{code} == 2 } @$spans), 0, 'no ERROR spans');

$node->stop;
unlike(slurp_file($node->logfile), qr/PANIC|was terminated by signal/, 'no crash');
done_testing();
