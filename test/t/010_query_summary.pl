# Copyright (c) otel_aliyun contributors

# The OpenTelemetry SQL test vectors (test/data/db-sql-test-cases.json):
# for each one, otel_aliyun.query_summary() must give expected
# "db.query.summary" and otel_aliyun.query_sanitise(query, '?') one of the
# expected "db.query.text" values; query_operation() must be the summary's
# first operation, upper case.

use strict;
use warnings;
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OtelTest;

# Vectors that cannot match, with the reason: none at present.
my %skip = ();

my $file = dirname(abs_path(__FILE__)) . '/../data/db-sql-test-cases.json';
open(my $fh, '<:raw', $file) or die "cannot open $file: $!";
my $vectors = JSON::PP->new->utf8->decode(do { local $/; <$fh> });
close $fh;
cmp_ok(scalar @$vectors, '>=', 20, 'test vectors loaded');

my $node = otel_node('query_summary', tcp => 0);

# One round trip for all vectors: their queries go in as a JSON array, the
# results come back as one.
my $in = JSON::PP->new->utf8->canonical->encode(
	[ map { $_->{input}{query} } @$vectors ]);
$in =~ s/'/''/g;
my $out = $node->safe_psql(
	'postgres', qq{
SELECT json_agg(json_build_array(otel_aliyun.query_summary(q),
								 otel_aliyun.query_sanitise(q, '?'),
								 otel_aliyun.query_operation(q))
				ORDER BY n)
FROM json_array_elements_text('$in'::json) WITH ORDINALITY AS v(q, n)});
my $results = JSON::PP->new->utf8->decode($out);
is(scalar @$results, scalar @$vectors, 'one result per vector');

for my $i (0 .. $#$vectors)
{
	my $v = $vectors->[$i];
	my ($summary, $text, $operation) = @{ $results->[$i] };
	my $name = $v->{name};

  SKIP:
	{
		skip "$name: $skip{$name}", 3 if exists $skip{$name};

		is($summary, $v->{expected}{'db.query.summary'}, "$name: summary");

		my @texts = @{ $v->{expected}{'db.query.text'} };
		ok((grep { $_ eq $text } @texts), "$name: sanitised text")
		  or diag("got:      $text\nexpected: " . join("\n     or:  ", @texts));

		# the summary starts with the operation, as written
		my $op_re = join '\s+', map { quotemeta } split / /, $operation;
		ok($operation ne '' && $summary =~ /^$op_re(\s|$)/i,
			"$name: operation '$operation' opens the summary");
	}
}

$node->stop;
done_testing();
