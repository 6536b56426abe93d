
# Copyright (c) otel_aliyun contributors

# The server's own log as log records (otel_aliyun.capture_server_log),
# exported over OTLP and decoded by the test receiver: message, detail,
# hint, context, SQLSTATE, source location, severity mapping, trace context
# of the statement; the minimum level; other processes (checkpointer, a
# FATAL at connection); the export worker's own messages never captured
# even while its exports fail; a debug5 flood handled without harm.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;

my $rx = OtelTest::Receiver->new(name => 'capture');
my $dead_port = PostgreSQL::Test::Cluster::get_free_port();
my $node = otel_node(
	'capture',
	otel => {
		logs_exporter => 'otlp',
		logs_endpoint => $rx->url('/v1/logs'),
		# traces go nowhere: the worker keeps logging its failures
		traces_endpoint => "http://127.0.0.1:$dead_port/v1/traces",
		max_retries => 0,
		capture_server_log => 'on',
		capture_server_log_min_level => 'warning',
		export_interval_ms => 200,
		logs_export_interval_ms => 200,
	},
	conf => "log_checkpoints = on\nlog_min_messages = warning\n");

sub sql { return $node->safe_psql('postgres', $_[0]); }

# flush() reports false here, since the traces cannot get out; the logs,
# exported after them, are what the tests look at
sub flush { otel_flush($node, 20000); return; }

sub logs_matching
{
	my ($re) = @_;
	return [ grep { ($_->{body} // '') =~ $re } @{ $rx->logs } ];
}

# ---- a WARNING inside a traced statement --------------------------------------

my $tp = '00-11112222333344445555666677778888-1122334455667788-01';
sql(qq{/*traceparent='$tp'*/ DO \$\$BEGIN
	RAISE WARNING 'capture me %', 42 USING DETAIL = 'the detail', HINT = 'the hint';
	END\$\$});
sql(q{DO $$BEGIN RAISE NOTICE 'below the level'; END$$});
flush();

my ($w) = @{ logs_matching(qr/^capture me 42$/) };
ok($w, 'WARNING captured');
is($w->{severityText}, 'WARNING', 'severityText is the server level');
is($w->{severityNumber}, 13, 'WARNING -> WARN (13)');
is($w->{attributes}{'postgresql.detail'}, 'the detail', 'detail');
is($w->{attributes}{'postgresql.hint'}, 'the hint', 'hint');
like($w->{attributes}{'postgresql.context'}, qr/PL\/pgSQL function/, 'context');
is($w->{attributes}{'db.response.status_code'}, '01000', 'SQLSTATE');
is($w->{attributes}{'code.function.name'}, 'exec_stmt_raise', 'source function');
like($w->{attributes}{'code.file.path'}, qr/pl_exec\.c$/, 'source file');
like($w->{attributes}{'code.line.number'}, qr/^\d+$/, 'source line');
is($w->{attributes}{'postgresql.backend_type'}, 'client backend', 'backend type');
is($w->{attributes}{'db.namespace'}, 'postgres', 'database');
is($w->{traceId}, '11112222333344445555666677778888', 'trace id of the statement');
like($w->{spanId}, qr/^[0-9a-f]{16}$/, 'span id of the statement');
is(scalar @{ logs_matching(qr/^below the level$/) }, 0, 'NOTICE is below the minimum level');

# ---- an ERROR -------------------------------------------------------------------

$node->psql('postgres', qq{/*traceparent='$tp'*/ SELECT 1 / x FROM (VALUES (0)) v(x)});
flush();
my ($e) = @{ logs_matching(qr/^division by zero$/) };
ok($e, 'ERROR captured');
is($e->{severityNumber}, 17, 'ERROR -> 17');
is($e->{attributes}{'db.response.status_code'}, '22012', 'SQLSTATE of the error');
is($e->{traceId}, '11112222333344445555666677778888', 'error record carries the trace id');

# ---- other processes ----------------------------------------------------------

sql('CHECKPOINT');
$node->psql('nosuchdb', 'SELECT 1');
flush();
my $ok = wait_for(sub { @{ logs_matching(qr/^checkpoint (starting|complete)/) } >= 1 },
	timeout => 30);
ok($ok, 'the checkpointer\'s LOG messages are captured');
my ($cp) = @{ logs_matching(qr/^checkpoint (starting|complete)/) };
is($cp->{attributes}{'postgresql.backend_type'}, 'checkpointer', 'from the checkpointer');
is($cp->{severityNumber}, 9, 'LOG -> INFO (9)');
my ($f) = @{ logs_matching(qr/database "nosuchdb" does not exist/) };
ok($f, 'FATAL at connection captured');
is($f->{severityNumber}, 21, 'FATAL -> 21') if $f;

# ---- the worker's own messages: never captured ----------------------------------

ok(wait_for(sub { slurp_file($node->logfile) =~ /otel_aliyun: traces export failed/ },
		timeout => 30),
	'the worker logs its traces export failures');
is(scalar @{ logs_matching(qr/otel_aliyun exporter started/) }, 0,
	'the worker\'s start message was not captured');
my @mine = grep {
	($_->{attributes}{'postgresql.backend_type'} // '') =~ /otel_aliyun/
	  || ($_->{body} // '') =~ /otel_aliyun: \w+ export/
} @{ $rx->logs };
is(scalar @mine, 0, 'none of the worker\'s own messages were captured');

# ---- minimum level changed on reload ------------------------------------------------

sql(q{ALTER SYSTEM SET otel_aliyun.capture_server_log_min_level = 'error'});
sql('SELECT pg_reload_conf()');
sleep 1;
sql(q{DO $$BEGIN RAISE WARNING 'warning after reload'; END$$});
$node->psql('postgres', q{DO $$BEGIN RAISE EXCEPTION 'error after reload'; END$$});
flush();
is(scalar @{ logs_matching(qr/^warning after reload$/) }, 0, 'WARNING now below the level');
is(scalar @{ logs_matching(qr/^error after reload$/) }, 1, 'ERROR captured');

# ---- a flood: every debug message of a session -------------------------------------

$rx->reset;
my ($out, $err);
$node->psql('postgres',
	q{SET log_min_messages = debug5;
	  SET otel_aliyun.capture_server_log_min_level = debug5;
	  CREATE TABLE flood AS SELECT g FROM generate_series(1, 1000) g;
	  VACUUM ANALYZE flood;
	  SELECT count(*) FROM flood;},
	stdout => \$out, stderr => \$err);
is($out, '1000', 'the session works normally with every message captured');
flush();
my $debug = grep { ($_->{severityText} // '') =~ /^DEBUG/ } @{ $rx->logs };
cmp_ok($debug, '>', 10, "debug messages captured ($debug)");
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server alive');

# ---- off --------------------------------------------------------------------------

sql(q{ALTER SYSTEM SET otel_aliyun.capture_server_log = off});
sql('SELECT pg_reload_conf()');
sleep 1;
$rx->reset;
$node->psql('postgres', q{DO $$BEGIN RAISE EXCEPTION 'not captured'; END$$});
flush();
is(scalar @{ logs_matching(qr/^not captured$/) }, 0, 'capture off: nothing captured');

$node->stop;
done_testing();
