
# Copyright (c) otel_aliyun contributors

# Failing statements: status ERROR with the message, error.type and
# db.response.status_code = the SQLSTATE, and the statement's normalised
# text, including statements that fail before the planner or executor
# (syntax error, missing table or column, permission denied, failure in
# Bind) and errors raised while planning or executing.  The session goes on
# normally afterwards.

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
otel_tables($node, 2, qw(e_before e_in_block e_after_abort e_after_rollback e_fine));
$node->safe_psql('postgres', 'GRANT SELECT ON e_before TO e_plain');
ok(otel_flush($node), 'flush');
$rx->reset;

# label => [sql, sqlstate, message regex, expected db.query.text, role]
my @cases = (
	[ syntax => 'SELEC 1 AS e_syntax', '42601', qr/syntax error/, 'SELEC $1 AS e_syntax' ],
	[ missing_table => 'SELECT * FROM e_no_such_table', '42P01', qr/does not exist/,
		'SELECT * FROM e_no_such_table' ],
	[ missing_column => 'SELECT e_no_such_column FROM secret', '42703', qr/does not exist/,
		'SELECT e_no_such_column FROM secret' ],
	[ permission => 'SELECT v AS e_perm FROM secret', '42501', qr/permission denied/,
		'SELECT v AS e_perm FROM secret', 'e_plain' ],
	[ div_planner => 'SELECT 1/0 AS e_div_const', '22012', qr/division by zero/,
		'SELECT $1/$2 AS e_div_const' ],
	[ div_executor => 'SELECT v / (v - v) AS e_div_exec FROM secret', '22012',
		qr/division by zero/, 'SELECT v / (v - v) AS e_div_exec FROM secret' ],
	[ unique => 'CREATE UNIQUE INDEX ON secret ((1))', '23505',
		qr/could not create unique index/, 'CREATE UNIQUE INDEX ON secret (($1))' ],
	[ utility => 'DROP TABLE e_no_such_table_either', '42P01', qr/does not exist/,
		'DROP TABLE e_no_such_table_either' ],
	[ raise => q{DO $$BEGIN RAISE EXCEPTION 'e_custom' USING ERRCODE = 'P0042'; END$$},
		'P0042', qr/e_custom/, 'DO $1' ],
);

# each case in its own TCP session, named by application_name; the session
# first runs a successful statement so that a failing one cannot borrow
# anything from an earlier statement of the same backend
for my $c (@cases)
{
	my ($label, $sql, $state, $re, $text, $role) = @$c;
	my ($rc, $out, $err) = $node->psql('postgres', "SELECT x FROM e_before;\n$sql",
		connstr => tcp_connstr($node) . " application_name=e_$label",
		$role ? (extra_params => [ '-U', $role ]) : ());
	isnt($rc, 0, "$label: the statement fails");
	like($err, qr/ERROR/, "$label: with an error");
}

# in an aborted transaction block: 25P02 for the next statement
$node->psql(
	'postgres', q{
BEGIN;
SELECT x / 0 FROM e_in_block;
SELECT x FROM e_after_abort;
ROLLBACK;
SELECT x FROM e_after_rollback;
},
	on_error_stop => 0);

# extended protocol: Bind fails converting the parameter, Execute fails at
# run time, then the same connection goes on
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
$node->safe_psql('postgres', 'SELECT x FROM e_fine');
my ($settled, $t_last) = otel_settle($node);
ok($settled, 'flush');
my $spans = $rx->spans;

for my $c (@cases)
{
	my ($label, $sql, $state, $re, $text, $role) = @$c;
	my @s = grep { $_->{status}{code} == 2 }
	  server_spans($spans, attr => { 'postgresql.application_name' => "e_$label" });
	is(scalar @s, 1, "$label: one ERROR span") or next;
	my $s = $s[0];
	is(attr($s, 'db.response.status_code'), $state, "$label: db.response.status_code");
	is(attr($s, 'error.type'), $state, "$label: error.type");
	like($s->{status}{message}, $re, "$label: status message");
	is(attr($s, 'db.query.text'), $text, "$label: db.query.text");
	is(attr($s, 'db.statement'), $text, "$label: db.statement");
	is(attr($s, 'db.system.name'), 'postgresql', "$label: db.system.name");
	is($s->{parentSpanId}, '', "$label: a root span");
	is(attr($s, 'user.name'), $role, "$label: user.name is the role") if $role;
	is(attr($s, 'client.address'), '127.0.0.1', "$label: connection attributes");
	unlike($s->{name}, qr/e_before/, "$label: span name is its own");
	for my $k (children_of($spans, $s))
	{
		cmp_ok($k->{endTimeUnixNano}, '<=', $s->{endTimeUnixNano},
			"$label: child $k->{name} inside");
	}
	my @ok = grep { $_->{status}{code} != 2 }
	  server_spans($spans, attr => { 'postgresql.application_name' => "e_$label" });
	is(scalar @ok, 1, "$label: the statement before it: one normal span");
}

my $div = find_span($spans, kind => 'SERVER', attr => { 'postgresql.application_name' => 'e_div_executor' },
	text => qr/e_div_exec/);
ok($div && grep({ $_->{name} eq 'execution' && $_->{status}{code} == 2 } children_of($spans, $div)),
	'runtime error: the execution child is ERROR too');

my $in_block = find_span($spans, kind => 'SERVER', text => 'SELECT x / $1 FROM e_in_block');
is($in_block && attr($in_block, 'db.response.status_code'), '22012', 'error inside a block');
my $ab = find_span($spans, kind => 'SERVER', text => 'SELECT x FROM e_after_abort');
is($ab && attr($ab, 'db.response.status_code'), '25P02',
	'statement in an aborted transaction: 25P02');
my $ar = find_span($spans, kind => 'SERVER', text => 'SELECT x FROM e_after_rollback');
ok($ar && $ar->{status}{code} != 2 && $ar->{parentSpanId} eq '', 'after ROLLBACK: a normal span');

my @bind = server_spans($spans, text => qr/e_bind/);
my ($b22p02) = grep { (attr($_, 'db.response.status_code') // '') eq '22P02' } @bind;
my ($b22003) = grep { (attr($_, 'db.response.status_code') // '') eq '22003' } @bind;
ok($b22p02, 'failure in Bind gives an ERROR span with 22P02')
  or dump_spans(\@bind, 'e_bind spans');
is($b22p02 && $b22p02->{status}{code}, 2, 'Bind failure: status ERROR');
like($b22p02 && $b22p02->{status}{message} // '', qr/invalid input syntax/, 'Bind failure: message');
is($b22p02 && attr($b22p02, 'db.query.text'), 'SELECT $1::int + $2 AS e_bind',
	'Bind failure: the statement text, constants numbered after the parameters');
ok($b22003, 'failure in Execute gives an ERROR span with 22003');
is($b22003 && attr($b22003, 'db.query.text'), 'SELECT $1::int + $2 AS e_bind',
	'Execute failure: the same normalised text');
my @bok = grep { $_->{status}{code} != 2 } @bind;
is(scalar @bok, 1, 'the successful execution: one normal span');
is(scalar @bind, 3, 'three executions, three statement spans: none doubled');

my $fine = find_span($spans, kind => 'SERVER', text => 'SELECT x FROM e_fine');
ok($fine && $fine->{status}{code} != 2 && $fine->{parentSpanId} eq '',
	'a statement after the errors is a normal root span');

is(scalar(orphan_spans($spans, $t_last)), 0, 'no orphan children');

my $st = otel_stats($node);
is($st->{dropped}, 0, 'nothing dropped');

$node->stop;
ok(slurp_file($node->logfile) !~ /PANIC|was terminated by signal/, 'no crash');
done_testing();
