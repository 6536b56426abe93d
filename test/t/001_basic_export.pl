
# Copyright (c) otel_aliyun contributors

# Statement spans reach an OTLP/HTTP receiver that decodes them with
# protoc-generated code: parent/child ids, every attribute of a statement
# span, the resource and the scope, the Authentication header and extra
# headers, gzip bodies, and endpoint/header/compression changes on SIGHUP.

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;

my $token = 'tok-3f1d2c9a8b7e-secret';
my $rx = OtelTest::Receiver->new(name => 'receiver');
my $node = otel_node(
	'basic',
	otel => {
		traces_endpoint => $rx->url('/v1/traces'),
		arms_token => $token,
		headers => 'x-sls-otel-project=proj1,x-custom=a%2Cb%3Dc',
		service_name => 'pg-orders',
		service_version => '9.8.7',
		deployment_environment => 'staging',
		cloud_region => 'cn-hangzhou',
		resource_attributes => 'team=db,tier=gold%20plus,service.namespace=shop',
		sample_rate => 1,
		# nothing leaves but on flush(): request and byte counts compare exactly
		export_interval_ms => 600000,
	});

my $user = $node->safe_psql('postgres', 'SELECT current_user');
$node->safe_psql('postgres',
	'CREATE TABLE orders (id int PRIMARY KEY, item text, qty int)');
ok(otel_flush($node), 'flush after set-up');
$rx->reset;
$node->safe_psql('postgres', 'SELECT otel_aliyun.stats_reset()');

# one TCP session: client and server addresses are known
my $out = $node->safe_psql(
	'postgres', q{
SELECT pg_backend_pid();
INSERT INTO orders VALUES (1, 'apple', 3), (2, 'pear', 5), (3, 'fig', 7);
SELECT item FROM orders WHERE qty > 4 ORDER BY id;
UPDATE orders SET qty = qty + 1 WHERE id = 1;
SELECT item FROM orders WHERE id = 2;
SELECT item FROM orders WHERE id = 3;
SELECT item FROM orders WHERE id = 2;
SELECT item FROM orders WHERE id = 3;
CREATE INDEX orders_item ON orders (item);
},
	connstr => tcp_connstr($node));
my ($backend_pid) = split /\n/, $out;
my ($settled, $t_last) = otel_settle($node);
ok($settled, 'flush returns true');

my $spans = $rx->spans;
my $requests = $rx->requests;
cmp_ok(scalar @$requests, '>=', 1, 'at least one export request');

# ---- transport --------------------------------------------------------------

for my $r (@$requests)
{
	is($r->{path}, '/v1/traces', 'request path');
	is($r->{decode_error}, undef, 'request decoded by the protoc-generated classes');
	is($r->{content_encoding}, 'gzip', 'body is gzip (default compression)');
	like($r->{headers}{'content-type'}, qr{^application/x-protobuf},
		'content-type protobuf');
	is($r->{headers}{authentication}, $token, 'Authentication header carries the token');
	is($r->{headers}{'x-sls-otel-project'}, 'proj1', 'extra header');
	is($r->{headers}{'x-custom'}, 'a,b=c', 'extra header value percent-decoded');
	is($r->{status_returned}, 200, 'answered 200');
}

# ---- the SELECT statement ---------------------------------------------------

my $sel = find_span($spans, kind => 'SERVER',
	text => 'SELECT item FROM orders WHERE qty > $1 ORDER BY id');
ok($sel, 'SELECT statement span with normalised text') or dump_spans($spans, 'received');
SKIP:
{
	skip 'no SELECT span', 40 unless $sel;
	my %a = %{ $sel->{attributes} };
	ok(is_hex_id($sel->{traceId}, 16), 'trace id: 16 non-zero bytes');
	ok(is_hex_id($sel->{spanId}, 8), 'span id: 8 non-zero bytes');
	is($sel->{parentSpanId}, '', 'statement span is a root without traceparent');
	is($sel->{name}, 'SELECT orders', 'span name is db.query.summary');
	isnt($sel->{status}{code}, 2, 'status not ERROR');
	cmp_ok($sel->{startTimeUnixNano}, '<=', $sel->{endTimeUnixNano}, 'start <= end');
	cmp_ok(abs($sel->{startTimeUnixNano} / 1e9 - time), '<', 600,
		'start time is now (Unix epoch ns)');
	is($sel->{flags} & 0xff, 1, 'span flags carry the sampled trace flag')
	  if $sel->{flags};

	is($a{'db.system.name'}, 'postgresql', 'db.system.name');
	is($a{'db.system'}, 'postgresql', 'db.system (old name, semconv both)');
	like($a{'db.namespace'}, qr/^postgres(\|public)?$/, 'db.namespace');
	is($a{'db.name'}, 'postgres', 'db.name (old)');
	is($a{'db.operation.name'}, 'SELECT', 'db.operation.name');
	is($a{'db.operation'}, 'SELECT', 'db.operation (old)');
	is($a{'db.collection.name'}, 'orders', 'db.collection.name');
	is($a{'db.sql.table'}, 'orders', 'db.sql.table (old)');
	is($a{'db.query.text'}, 'SELECT item FROM orders WHERE qty > $1 ORDER BY id',
		'db.query.text normalised');
	is($a{'db.statement'}, $a{'db.query.text'}, 'db.statement (old) = db.query.text');
	is($a{'db.query.summary'}, 'SELECT orders', 'db.query.summary');
	is($a{'db.response.returned_rows'}, 2, 'db.response.returned_rows');
	is($sel->{attributeTypes}{'db.response.returned_rows'}, 'int', 'returned_rows is an int');
	is($a{'server.address'}, '127.0.0.1', 'server.address');
	is($a{'server.port'}, $node->port, 'server.port');
	is($sel->{attributeTypes}{'server.port'}, 'int', 'server.port is an int');
	is($a{'client.address'}, '127.0.0.1', 'client.address');
	cmp_ok($a{'client.port'} // 0, '>', 0, 'client.port');
	is($a{'user.name'}, $user, 'user.name');
	is($a{'db.user'}, $user, 'db.user (old)');
	is($a{'postgresql.backend_pid'}, $backend_pid, 'postgresql.backend_pid');
	is($sel->{attributeTypes}{'postgresql.query_id'}, 'int', 'postgresql.query_id is an int');
	isnt($a{'postgresql.query_id'} // 0, 0, 'postgresql.query_id set');
	for my $k (qw(postgresql.planning_time_ms postgresql.execution_time_ms))
	{
		is($sel->{attributeTypes}{$k}, 'double', "$k is a double");
		cmp_ok($a{$k} // -1, '>=', 0, "$k >= 0");
	}
	# block counters may be left out when zero; when present they are ints
	for my $k (grep { /^postgresql\.(shared|local|temp)_blks_|^postgresql\.wal_/ } sort keys %a)
	{
		is($sel->{attributeTypes}{$k}, 'int', "$k is an int");
	}
	cmp_ok(($a{'postgresql.shared_blks_hit'} // 0) + ($a{'postgresql.shared_blks_read'} // 0),
		'>', 0, 'the SELECT touched shared blocks');
	is_deeply($sel->{duplicateAttributes}, [], 'no attribute key repeated');

	# planning and execution are INTERNAL children inside the statement span
	my @kids = children_of($spans, $sel);
	is(scalar @kids, 2, 'two children') or diag(span_tree($spans, $sel, 1));
	my ($plan) = grep { $_->{name} eq 'planning' } @kids;
	my ($exec) = grep { $_->{name} eq 'execution' } @kids;
	ok($plan && $exec, 'children are planning and execution');
	for my $k (grep { defined } $plan, $exec)
	{
		is($k->{kindName}, 'INTERNAL', "$k->{name} is INTERNAL");
		is($k->{traceId}, $sel->{traceId}, "$k->{name} in the same trace");
		cmp_ok($k->{startTimeUnixNano}, '>=', $sel->{startTimeUnixNano},
			"$k->{name} starts inside the statement");
		cmp_ok($k->{endTimeUnixNano}, '<=', $sel->{endTimeUnixNano},
			"$k->{name} ends inside the statement");
	}
	cmp_ok($plan->{endTimeUnixNano}, '<=', $exec->{startTimeUnixNano},
		'planning ends before execution starts')
	  if $plan && $exec;
}

# ---- INSERT, UPDATE and a utility statement ---------------------------------

my $ins = find_span($spans, kind => 'SERVER',
	text => 'INSERT INTO orders VALUES ($1, $2, $3), ($4, $5, $6), ($7, $8, $9)');
ok($ins, 'INSERT span, every literal replaced');
if ($ins)
{
	is(attr($ins, 'db.operation.name'), 'INSERT', 'INSERT operation');
	is(attr($ins, 'db.collection.name'), 'orders', 'INSERT collection');
	is(attr($ins, 'postgresql.rows'), 3, 'INSERT postgresql.rows');
	cmp_ok(attr($ins, 'postgresql.wal_records') // 0, '>', 0, 'INSERT wrote WAL records');
	cmp_ok(attr($ins, 'postgresql.wal_bytes') // 0, '>', 0, 'INSERT wrote WAL bytes');
	is($ins->{name}, attr($ins, 'db.query.summary') // 'INSERT orders', 'INSERT span name');
}
my $upd = find_span($spans, kind => 'SERVER',
	text => 'UPDATE orders SET qty = qty + $1 WHERE id = $2');
ok($upd, 'UPDATE span');
is(attr($upd, 'db.operation.name'), 'UPDATE', 'UPDATE operation') if $upd;
is(attr($upd, 'postgresql.rows'), 1, 'UPDATE postgresql.rows') if $upd;

# block counts belong to their own statement: a primary-key lookup in a
# one-page table with warm caches touches a handful of buffers
my @pk = sort { $a->{startTimeUnixNano} <=> $b->{startTimeUnixNano} }
  server_spans($spans, text => 'SELECT item FROM orders WHERE id = $1');
is(scalar @pk, 4, 'four executions of the same query: four spans');
for my $i (1 .. $#pk)
{
	my $hits = (attr($pk[$i], 'postgresql.shared_blks_hit') // 0)
	  + (attr($pk[$i], 'postgresql.shared_blks_read') // 0);
	cmp_ok($hits, '<=', 10, "pk lookup #" . ($i + 1) . ": blocks of this statement only");
}

my $ddl = find_span($spans, kind => 'SERVER', text => qr/^CREATE INDEX orders_item ON orders/);
ok($ddl, 'utility statement span');
if ($ddl)
{
	is(attr($ddl, 'db.operation.name'), 'CREATE INDEX', 'utility operation name');
	is(scalar(grep { $_->{name} eq 'planning' } children_of($spans, $ddl)), 0,
		'utility statement has no planning child');
	isnt($ddl->{status}{code}, 2, 'utility status not ERROR');
}

# every span decodes completely and every child points at a received parent
my @orphans = orphan_spans($spans, $t_last);
is(scalar @orphans, 0, 'no span points at a parent that was not exported')
  or dump_spans(\@orphans, 'orphans');
my %seen;
my @dups = grep { $seen{ $_->{spanId} }++ } @$spans;
is(scalar @dups, 0, 'no span exported twice');

# ---- resource and scope -----------------------------------------------------

my $pm_pid = postmaster_pid($node);
for my $s ($sel // ())
{
	my %r = %{ $s->{resource} };
	is($r{'service.name'}, 'pg-orders', 'resource service.name');
	is($r{'service.version'}, '9.8.7', 'resource service.version');
	ok(($r{'service.instance.id'} // '') ne '', 'resource service.instance.id');
	ok(($r{'host.name'} // '') ne '', 'resource host.name');
	is($r{'process.pid'}, $pm_pid, 'resource process.pid is the postmaster');
	is($s->{resourceTypes}{'process.pid'}, 'int', 'process.pid is an int');
	is($r{'deployment.environment.name'}, 'staging', 'resource deployment.environment.name');
	is($r{'cloud.provider'}, 'alibaba_cloud', 'resource cloud.provider');
	is($r{'cloud.region'}, 'cn-hangzhou', 'resource cloud.region');
	is($r{team}, 'db', 'user resource attribute');
	is($r{tier}, 'gold plus', 'user resource attribute percent-decoded');
	is($r{'service.namespace'}, 'shop', 'user resource attribute with a dot');
	is_deeply($s->{resourceDuplicates}, [], 'no resource attribute repeated');
	is($s->{scope}{name}, 'otel_aliyun', 'scope name');
	like($s->{scope}{version}, qr/^1\.0/, 'scope version');
}
my %services = map { $_->{resource}{'service.name'} => 1 } @$spans;
is_deeply([ keys %services ], ['pg-orders'], 'every span has the same resource');

# ---- stats agree with the receiver ------------------------------------------

my $st = otel_stats($node);
is($st->{exported}, scalar(@$spans), 'stats.exported = spans received');
is($st->{requests}, scalar(@$requests), 'stats.requests = requests received');
my $bytes = 0;
$bytes += $_->{body_len} for @$requests;
is($st->{bytes_sent}, $bytes, 'stats.bytes_sent = body bytes received');
is($st->{dropped}, 0, 'nothing dropped');
is($st->{failed}, 0, 'nothing failed');
unlike(json_encode($st), qr/\Q$token\E/, 'the token is not in the stats view');

# ---- secrets are hidden from non-superusers ---------------------------------

$node->safe_psql('postgres', 'CREATE ROLE plain LOGIN');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_settings WHERE name IN ('otel_aliyun.arms_token', 'otel_aliyun.headers')},
		extra_params => [ '-U', 'plain' ]),
	'0', 'token and headers hidden from pg_settings for a plain role');
my ($rc, $so, $se) = $node->psql('postgres', 'SHOW otel_aliyun.arms_token',
	extra_params => [ '-U', 'plain' ]);
isnt($rc, 0, 'SHOW arms_token refused to a plain role');
unlike($so . $se, qr/\Q$token\E/, 'and the refusal does not show it');

# ---- SIGHUP: new endpoint (ARMS path), headers and compression ----------------

$node->append_conf('postgresql.conf',
	otel_conf_line('otel_aliyun.traces_endpoint',
		$rx->url('/adapt_abc123@def456/api/otlp/traces'))
	  . otel_conf_line('otel_aliyun.headers', 'x-sls-otel-instance-id=inst9')
	  . otel_conf_line('otel_aliyun.compression', 'none'));
$node->reload;
# the worker reloads asynchronously: retry until a request shows the new path
$rx->reset;
my $ok = wait_for(
	sub {
		$node->safe_psql('postgres', 'SELECT 42 AS after_reload');
		otel_flush($node);
		return grep { $_->{path} =~ m{/api/otlp/traces$} } @{ $rx->requests };
	},
	timeout => 60, interval => 0.5);
ok($ok, 'after reload, exports go to the new endpoint');
my @new = grep { $_->{path} eq '/adapt_abc123@def456/api/otlp/traces' } @{ $rx->requests };
ok(@new, 'ARMS-style path used as given');
for my $r (@new)
{
	is($r->{content_encoding}, '', 'compression none: no content-encoding');
	is($r->{decode_error}, undef, 'uncompressed body decodes');
	is($r->{headers}{'x-sls-otel-instance-id'}, 'inst9', 'new header after reload');
	ok(!exists $r->{headers}{'x-sls-otel-project'}, 'old header gone after reload');
	is($r->{headers}{authentication}, $token, 'token still sent');
}
ok(scalar(find_spans($rx->spans, text => 'SELECT $1 AS after_reload')) >= 1,
	'spans arrive at the new endpoint');

# ---- a database that is not UTF8 -------------------------------------------------

# Spans made in a UTF8 database travel in OTLP form (record.h); in any other
# one they are records whose strings the worker converts.  Both must arrive
# as valid protobuf, with the same span tree.
$node->safe_psql('postgres',
	"CREATE DATABASE latin1db ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
$node->safe_psql('latin1db', "CREATE TABLE \"caf\x{e9}\" (id int)");
ok(otel_flush($node), 'flush after the LATIN1 set-up');
$rx->reset;
$node->safe_psql('latin1db', "SELECT id FROM \"caf\x{e9}\" WHERE id < 3");
$node->safe_psql('postgres', 'SELECT id FROM orders WHERE id < 3');
ok(otel_flush($node), 'flush: a LATIN1 and a UTF8 statement');
{
	my @l = server_spans($rx->spans, attr => { 'db.namespace' => qr/^latin1db/ });
	my @u = server_spans($rx->spans, text => 'SELECT id FROM orders WHERE id < $1');
	is(scalar @l, 1, 'LATIN1 database: its statement span arrives');
	is(scalar @u, 1, 'UTF8 database: its statement span arrives');
	if (@l == 1 && @u == 1)
	{
		# its LATIN1 byte is not converted but replaced (U+FFFD): valid UTF-8
		is($l[0]{attributes}{'db.collection.name'}, "caf\x{fffd}",
			'LATIN1 database: the table name arrives as valid UTF-8');
		for my $c ([ LATIN1 => $l[0] ], [ UTF8 => $u[0] ])
		{
			my @kids = sort map { "$_->{name}/$_->{kindName}" } children_of($rx->spans, $c->[1]);
			is_deeply(\@kids, [ 'execution/INTERNAL', 'planning/INTERNAL' ],
				"$c->[0] database: planning and execution children");
		}
		is_deeply([ sort grep { !/^(db\.|postgresql\.query_id|postgresql\.shared)/ } keys %{ $l[0]{attributes} } ],
			[ sort grep { !/^(db\.|postgresql\.query_id|postgresql\.shared)/ } keys %{ $u[0]{attributes} } ],
			'same session and measure attributes from both forms');
	}
}

# ---- the token never reaches the server log ---------------------------------

$node->stop;
my $log = slurp_file($node->logfile);
for my $secret ([ token => $token ], [ 'header value' => 'inst9' ], [ 'old header value' => 'proj1' ])
{
	my @lines = grep { /\Q$secret->[1]\E/ } split /\n/, $log;
	ok(!@lines, "$secret->[0] not in the server log") or diag(join("\n", @lines));
}
ok($log !~ /PANIC|server process .* was terminated/, 'no backend crashed');

$rx->stop;
done_testing();
