
# Copyright (c) otel_aliyun contributors

# postgresql.query_id is pg_stat_statements' query id for every statement,
# also when it comes from the cache of statement shapes (query_id.h) rather
# than from JumbleQuery: each probe below runs with compute_query_id = auto
# (the cache in use), then EXPLAIN VERBOSE with compute_query_id = on gives
# the core's id for the same text in the same session state.  The probes
# change only constants where the cache must hit, and change what the text
# does not show where it must not: integer sizes, column positions,
# search_path, the role, DDL in and out of transactions, temporary tables,
# string syntax settings.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;

my $rx = OtelTest::Receiver->new;
my $node = otel_node('query_id', otel => { traces_endpoint => $rx->url, sample_rate => 1 });

my $PP = 'b7ad6b7169203331';
my $n = 0;
my (@probes, $script);

# a probe: run with its own trace id, then ask the core for the id
sub probe
{
	my ($sql, $label) = @_;
	$n++;
	my $tid = sprintf('%032x', 0xabc000 + $n);
	push @probes, { sql => $sql, label => $label, tid => $tid };
	$script .= "/*traceparent='00-$tid-$PP-01'*/ $sql\n;\n"
	  . "SET compute_query_id = on;\n"
	  . "EXPLAIN (VERBOSE, COSTS OFF) $sql\n;\n"
	  . "SET compute_query_id = auto;\n";
}
sub setup { $script .= "$_[0];\n"; }

setup(q{CREATE TABLE qa (a int, b text)});
setup(q{CREATE SCHEMA s1; CREATE SCHEMA s2});
setup(q{CREATE TABLE s1.qx (a int); CREATE TABLE s2.qx (a bigint); CREATE TABLE public.qx (a numeric)});
setup(q{CREATE FUNCTION qf(numeric) RETURNS int LANGUAGE sql AS 'SELECT 1'});

probe(q{SELECT a FROM qa WHERE a = 1}, 'int4');
probe(q{SELECT a FROM qa WHERE a = 2}, 'int4 again (shape known)');
probe(q{SELECT a FROM qa WHERE a = 3000000000}, 'int8-sized integer');
probe(q{SELECT a FROM qa WHERE a = 4000000000}, 'int8-sized again');
probe(q{SELECT a FROM qa WHERE a = 1.5}, 'decimal');
probe(q{SELECT a FROM qa WHERE a = 15e-1}, 'exponent');
probe(q{SELECT a FROM qa WHERE a = -2147483648}, 'int4 minimum (int8 in PG 15)');
probe(q{SELECT -9223372036854775808}, 'int8 minimum');
probe(q{SELECT -99999999999999999999}, 'numeric-sized negative');
probe(q{SELECT 9223372036854775808}, 'just past int8');
probe(q{SELECT a, b FROM qa ORDER BY 1}, 'ORDER BY position 1');
probe(q{SELECT a, b FROM qa ORDER BY 2}, 'ORDER BY position 2');
probe(q{SELECT a, count(*) FROM qa GROUP BY 1}, 'GROUP BY position');
probe(q{SELECT DISTINCT ON (1) a, b FROM qa}, 'DISTINCT ON position 1');
probe(q{SELECT DISTINCT ON (2) a, b FROM qa}, 'DISTINCT ON position 2');
probe(q{SELECT a FROM qa WHERE a IN (1, 2, 3) ORDER BY a LIMIT 5}, 'IN list, ORDER BY column');
probe(q{SELECT a FROM qa WHERE a IN (4, 5, 6) ORDER BY a LIMIT 6}, 'IN list again');
setup(q{SET search_path = s1, public});
probe(q{SELECT a FROM qx WHERE a = 1}, 'search_path s1');
setup(q{SET search_path = s2, public});
probe(q{SELECT a FROM qx WHERE a = 2}, 'search_path s2');
setup(q{SET search_path = public});
probe(q{SELECT a FROM qx WHERE a = 3}, 'search_path public');
probe(q{SELECT qf(1)}, 'function before its overload');
setup(q{BEGIN});
setup(q{CREATE FUNCTION qf(int) RETURNS int LANGUAGE sql AS 'SELECT 2'});
probe(q{SELECT qf(2)}, 'overload created in this transaction');
setup(q{COMMIT});
probe(q{SELECT qf(3)}, 'overload committed');
setup(q{DROP TABLE qa; CREATE TABLE qa (a int, b text)});
probe(q{SELECT a FROM qa WHERE a = 4}, 'table dropped and created again');
setup(q{ALTER TABLE qa ALTER a TYPE bigint});
probe(q{SELECT a FROM qa WHERE a = 5}, 'column type changed');
setup(q{CREATE TEMP TABLE qa (a text)});
probe(q{SELECT a FROM qa WHERE a = 'q'}, 'temporary table in front');
setup(q{DROP TABLE pg_temp.qa});
probe(q{SELECT b FROM qa WHERE b = 'x' || E'y\''}, 'E string');
probe(q{SELECT b FROM qa WHERE b = 'p' -- a comment}, 'trailing comment');
probe(q{SELECT $$dollar$$::text, B'101', X'1F', U&'d\0061t'}, 'other literal forms');
setup(q{SET standard_conforming_strings = off});
probe(q{SELECT b FROM qa WHERE b = 'it\'s'}, 'backslash quote, standard_conforming_strings off');
setup(q{SET standard_conforming_strings = on});
probe(q{SELECT a FROM qa WHERE a = NULL}, 'transform_null_equals off');
setup(q{SET transform_null_equals = on});
probe(q{SELECT a FROM qa WHERE a = NULL}, 'transform_null_equals on');
setup(q{RESET transform_null_equals});
setup(q{CREATE ROLE qr SUPERUSER; CREATE SCHEMA qr AUTHORIZATION qr; CREATE TABLE qr.qx (a text);
GRANT ALL ON SCHEMA qr TO qr; GRANT ALL ON qr.qx TO qr; GRANT ALL ON public.qx TO qr});
setup(q{SET search_path = "$user", public});
probe(q{SELECT a FROM qx WHERE a IS NOT NULL}, '"$user" as postgres');
setup(q{SET ROLE qr});
probe(q{SELECT a FROM qx WHERE a IS NOT NULL}, '"$user" as qr');
setup(q{RESET ROLE});

my $out = $node->safe_psql('postgres', $script);
my @ref = $out =~ /Query Identifier: (-?\d+)/g;
is(scalar @ref, scalar @probes, 'the core gave an id for every probe');
ok(otel_flush($node), 'flush');
my $spans = $rx->spans;

my %id_of;
for my $i (0 .. $#probes)
{
	my $p = $probes[$i];
	my @s = server_spans($spans, traceId => $p->{tid});
	my $got = @s == 1 ? $s[0]{attributes}{'postgresql.query_id'} : undef;
	is($got, $ref[$i], "$p->{label}: query id as the core computes it");
	$id_of{ $p->{label} } = $got;
}

# the probes would prove little if the ids did not differ where they should
isnt($id_of{'int4'}, $id_of{'int8-sized integer'}, 'int4 and int8 constants differ');
is($id_of{'int4'}, $id_of{'int4 again (shape known)'}, 'constants alone do not');
isnt($id_of{'ORDER BY position 1'}, $id_of{'ORDER BY position 2'}, 'positions differ');
isnt($id_of{'search_path s1'}, $id_of{'search_path s2'}, 'search_path matters');
isnt($id_of{'function before its overload'}, $id_of{'overload committed'}, 'overloads matter');
isnt($id_of{'"$user" as postgres'}, $id_of{'"$user" as qr'}, 'the role matters');

$node->stop;
unlike(slurp_file($node->logfile), qr/PANIC|was terminated by signal/, 'no crash');
done_testing();
