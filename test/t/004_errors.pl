
# Copyright (c) otel_aliyun contributors

# Failing statements: status ERROR with the message, error.type and
# db.response.status_code = the SQLSTATE, including statements that fail
# before the planner or executor (syntax error, missing table or column,
# permission denied, failure in Bind) and errors raised while planning or
# executing.  The session goes on normally afterwards.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;

my $rx = OtelTest::Receiver->new;
my $node = otel_node('errors', otel => { traces_endpoint => $rx->url, sample_rate => 1 });
$node->safe_psql(
	'postgres', q{
CREATE TABLE secret (id int, v int);
INSERT INTO secret VALUES (1, 1), (2, 2);
CREATE ROLE e_plain LOGIN;
});
ok(otel_flush($node), 'flush');
$rx->reset;

# label => [sql, sqlstate, message regex, role]
my @cases = (
	[ syntax => 'SELEC 1 AS e_syntax', '42601', qr/syntax error/ ],
	[ missing_table => 'SELECT * FROM e_no_such_table', '42P01', qr/does not exist/ ],
	[ missing_column => 'SELECT e_no_such_column FROM secret', '42703', qr/does not exist/ ],
	[ permission => 'SELECT v AS e_perm FROM secret', '42501', qr/permission denied/, 'e_plain' ],
	[ div_planner => 'SELECT 1/0 AS e_div_const', '22012', qr/division by zero/ ],
	[ div_executor => 'SELECT v / (v - v) AS e_div_exec FROM secret', '22012', qr/division by zero/ ],
	[ unique => q{CREATE UNIQUE INDEX ON secret ((1))}, '23505', qr/could not create unique index|duplicate/ ],
	[ utility => 'DROP TABLE e_no_such_table_either', '42P01', qr/does not exist/ ],
	[ raise => q{DO $$BEGIN RAISE EXCEPTION 'e_custom' USING ERRCODE = 'P0042'; END$$}, 'P0042', qr/e_custom/ ],
);

for my $c (@cases)
{
	my ($label, $sql, $state, $re, $role) = @$c;
	my ($rc, $out, $err) = $node->psql('postgres', $sql,
		connstr => tcp_connstr($node),
		$role ? (extra_params => [ '-U', $role ]) : ());
	isnt($rc, 0, "$label: the statement fails");
	like($err, qr/ERROR/, "$label: with an error");
}

# in an aborted transaction block: 25P02 for the next statement
$node->psql('postgres',
	"BEGIN;\nSELECT 1/0 AS e_in_block;\nSELECT 1 AS e_after_abort;\nROLLBACK;\nSELECT 2 AS e_after_rollback;",
	on_error_stop => 0);

# extended protocol: Bind fails converting the parameter, Execute fails at run
# time, then the same connection goes on
my $c = OtelTest::PgWire->connect(port => $node->port, user => 'postgres');
$c->parse('e_stmt', 'SELECT $1::int + 1 AS e_bind');
my $r = $c->sync;
is($r->{error}, undef, 'Parse succeeds');
$c->bind('', 'e_stmt', 'abc');
$c->execute('', 0);
$r = $c->sync;
is($r->{error} && $r->{error}{C}, '22P02', 'Bind fails with 22P02');
$c->bind('', 'e_stmt', '2147483647');
$c->execute('', 0);
$r = $c->sync;
is($r->{error} && $r->{error}{C}, '22003', 'Execute fails with 22003 (overflow)');
$c->bind('', 'e_stmt', '41');
$c->execute('', 0);
$r = $c->sync;
is($r->{rows}[0][0], '42', 'then the connection works');
$c->terminate;

# and the session goes on: a normal statement after errors is a normal root
$node->safe_psql('postgres', 'SELECT 1 AS e_fine');
my ($settled, $t_last) = otel_settle($node);
ok($settled, 'flush');
my $spans = $rx->spans;

for my $c (@cases)
{
	my ($label, $sql, $state, $re, $role) = @$c;
	my @s = server_spans($spans, attr => { 'db.response.status_code' => $state });
	# pick the one of this case by its text
	my ($word) = $sql =~ /(e_\w+|secret|DO|INDEX)/;
	@s = grep { (attr($_, 'db.query.text') // '') =~ /\b\Q$word\E\b/ } @s;
	is(scalar @s, 1, "$label: one SERVER span with db.response.status_code $state")
	  or do { dump_spans([ grep { $_->{status}{code} == 2 } @$spans ], 'error spans'); next };
	my $s = $s[0];
	is($s->{status}{code}, 2, "$label: status ERROR");
	like($s->{status}{message}, $re, "$label: status message");
	is(attr($s, 'error.type'), $state, "$label: error.type");
	is(attr($s, 'db.system.name'), 'postgresql', "$label: db.system.name");
	is($s->{parentSpanId}, '', "$label: a root span");
	is(attr($s, 'user.name'), $role, "$label: user.name is the role") if $role;
	is(attr($s, 'client.address'), '127.0.0.1', "$label: connection attributes");
	unlike(attr($s, 'db.query.text') // '', qr/\b1\/0|'e_custom'/,
		"$label: literals are not in db.query.text");
	for my $k (children_of($spans, $s))
	{
		cmp_ok($k->{endTimeUnixNano}, '<=', $s->{endTimeUnixNano},
			"$label: child $k->{name} inside");
	}
}

my $div = find_span($spans, kind => 'SERVER', attr => { 'db.response.status_code' => '22012' },
	text => qr/e_div_exec/);
ok($div && grep({ $_->{name} eq 'execution' && $_->{status}{code} == 2 } children_of($spans, $div)),
	'runtime error: the execution child is ERROR too');

my $ab = find_span($spans, kind => 'SERVER', text => qr/e_after_abort/);
is($ab && attr($ab, 'db.response.status_code'), '25P02',
	'statement in an aborted transaction: 25P02');
my $in_block = find_span($spans, kind => 'SERVER', text => qr/e_in_block/);
is($in_block && attr($in_block, 'db.response.status_code'), '22012', 'error inside a block');
my $ar = find_span($spans, kind => 'SERVER', text => qr/e_after_rollback/);
ok($ar && $ar->{status}{code} != 2, 'after ROLLBACK: a normal span');

my @bind = server_spans($spans, text => qr/e_bind/);
my ($b22p02) = grep { (attr($_, 'db.response.status_code') // '') eq '22P02' } @bind;
my ($b22003) = grep { (attr($_, 'db.response.status_code') // '') eq '22003' } @bind;
ok($b22003, 'failure in Execute gives an ERROR span with 22003');
ok($b22p02, 'failure in Bind gives an ERROR span with 22P02')
  or dump_spans(\@bind, 'e_bind spans');
is($b22p02 && $b22p02->{status}{code}, 2, 'Bind failure: status ERROR');
like($b22p02 && $b22p02->{status}{message} // '', qr/invalid input syntax/, 'Bind failure: message');
is($b22p02 && attr($b22p02, 'db.query.text'), 'SELECT $1::int + $2 AS e_bind',
	'Bind failure: the statement text, constants numbered after the parameters');
is($b22003 && attr($b22003, 'db.query.text'), 'SELECT $1::int + $2 AS e_bind',
	'Execute failure: the same normalised text');
my @bok = grep { $_->{status}{code} != 2 } @bind;
is(scalar @bok, 1, 'the successful execution: one normal span');
is(scalar @bind, 3, 'three executions, three statement spans: none doubled');

my $fine = find_span($spans, kind => 'SERVER', text => 'SELECT $1 AS e_fine');
ok($fine && $fine->{status}{code} != 2 && $fine->{parentSpanId} eq '',
	'a statement after the errors is a normal root span');

# no span is left open by an error: every ERROR span has an end, every child a parent
is(scalar(orphan_spans($spans, $t_last)), 0, 'no orphan children');

my $st = otel_stats($node);
is($st->{dropped}, 0, 'nothing dropped');

$node->stop;
unlike(slurp_file($node->logfile), qr/PANIC|was terminated by signal/, 'no crash');
done_testing();
