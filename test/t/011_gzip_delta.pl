# Copyright (c) otel_aliyun contributors

# src/gzip_delta.c, the gzip coder for bodies of look-alike spans, against
# Python's zlib: test/tools/gzip_delta_fuzz.c builds bodies of every shape the
# encoder may see (values changed in place, varints that grew or shrank,
# random records, shared keys, references past the 32 KiB window, records of
# 1 byte to 70 KiB) and test/tools/gzip_check.py inflates each with zlib and
# compares it with the body.  Then spans of a real server, exported with the
# default gzip, must all arrive, decoded by the receiver.

use strict;
use warnings;
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;

my $root = abs_path(dirname(abs_path(__FILE__)) . '/../..');
my $pg_config = $ENV{PG_CONFIG} || 'pg_config';
chomp(my $incs = `$pg_config --includedir-server`);
chomp(my $inc = `$pg_config --includedir`);
chomp(my $libdir = `$pg_config --pkglibdir`);
my $tmp = PostgreSQL::Test::Utils::tempdir();
my $bin = "$tmp/gzip_delta_fuzz";

my ($out, $err);
my $ok = IPC::Run::run(
	[
		'gcc', '-O2', '-Wall', '-Werror', '-DFRONTEND',
		"-I$root/src", "-I$incs", "-I$inc/internal",
		'-o', $bin,
		"$root/test/tools/gzip_delta_fuzz.c", "$root/src/gzip_delta.c",
		"-L$libdir", '-lpgcommon', '-lpgport', '-ldeflate'
	],
	'>', \$out, '2>', \$err);
ok($ok, 'fuzz tool builds') or diag($err);

foreach my $seed (1, 2, 3)
{
	my $dir = "$tmp/cases$seed";
	mkdir $dir or die "mkdir $dir: $!";
	$ok = IPC::Run::run([ $bin, $dir, '200', $seed ], '>', \$out, '2>', \$err);
	ok($ok, "seed $seed: bodies made") or diag($err);
	my ($acc, $dec) = $out =~ /accepted (\d+) declined (\d+)/;
	cmp_ok($acc // 0, '>=', 50, "seed $seed: most look-alike bodies accepted ($out)");
	cmp_ok($dec // 0, '>=', 10, "seed $seed: unlike bodies declined");

	$ok = IPC::Run::run([ '/usr/bin/python3', "$root/test/tools/gzip_check.py", $dir ],
		'>', \$out, '2>', \$err);
	ok($ok, "seed $seed: zlib inflates every body exactly") or diag("$out$err");
	like($out, qr/checked \d+ ratio/, "seed $seed: checker ran: $out");
	PostgreSQL::Test::Utils::system_log('rm', '-rf', $dir);
}

# a real server: many statements of a few kinds, as one export or a few,
# gzip (the default) decoded by the receiver
my $recv = OtelTest::Receiver->new(name => 'receiver');
my $node = otel_node(
	'gzip_delta',
	tcp => 0,
	otel => {
		traces_endpoint => $recv->url('/v1/traces'),
		sample_rate => 1,
		max_export_batch_size => 3000,
		export_interval_ms => 600000,
	});
$node->safe_psql('postgres', q{
CREATE TABLE gd(id int primary key, v text);
INSERT INTO gd SELECT g, repeat('x', g % 50) FROM generate_series(1, 500) g;
});
otel_flush($node);
$recv->reset;

my $sql = '';
for my $i (1 .. 300)
{
	$sql .= "SELECT v FROM gd WHERE id = $i;\n";
	$sql .= "UPDATE gd SET v = v || 'y' WHERE id = $i;\n" if $i % 3 == 0;
	$sql .= "SELECT count(*) FROM gd WHERE id < $i;\n" if $i % 7 == 0;
}
$node->safe_psql('postgres', $sql);
otel_flush($node);

my $spans = $recv->spans;
# (the span of the set-up's flush() call leaves with this flush too)
my @server = find_spans($spans, kind => 'SERVER', text => qr/\bgd\b/);
is(scalar(@server), 300 + 100 + 42, 'every statement span arrived');
my %sid = map { $_->{spanId} => 1 } @server;
is(scalar(grep { $sid{ $_->{parentSpanId} // '' } } find_spans($spans, name => 'planning')),
	442, 'every planning span arrived');
my %text;
$text{ $_->{attributes}{'db.query.text'} }++ for @server;
is($text{'SELECT v FROM gd WHERE id = $1'}, 300, 'select text intact');
is($text{'UPDATE gd SET v = v || $1 WHERE id = $2'}, 100, 'update text intact');
is($text{'SELECT count(*) FROM gd WHERE id < $1'}, 42, 'count text intact');
my %ids = map { $_->{spanId} => 1 } @$spans;
is(scalar(keys %ids), scalar(@$spans), 'span ids all distinct');
my @req = @{ $recv->requests };
ok(@req >= 1 && !grep({ $_->{content_encoding} ne 'gzip' || $_->{decode_error} } @req),
	'sent as gzip, every request decoded') or diag(explain(\@req));

$node->stop;
done_testing();
