
# Copyright (c) otel_aliyun contributors

=pod

=head1 NAME

OtelTest - helpers for otel_aliyun's TAP tests

=head1 SYNOPSIS

  use OtelTest;

  my $rx = OtelTest::Receiver->new;		# OTLP/HTTP receiver on loopback
  my $node = otel_node('main', otel => { traces_endpoint => $rx->url });
  $node->safe_psql('postgres', 'SELECT 1');
  ok(otel_flush($node), 'flushed');
  my $spans = $rx->spans;

=head1 DESCRIPTION

The receiver (test/receivers/otlp_http_receiver.py, run by /usr/bin/python3)
decodes exports with protoc-generated classes, not with anything of ours.
Everything here dies on unexpected failures so that a broken harness cannot
pass silently.

=cut

package OtelTest;

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname basename);
use Cwd qw(abs_path);
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(
  otel_node otel_flush otel_settle otel_stats otel_conf_line orphan_spans
  wait_for json_decode json_encode
  find_spans find_span children_of server_spans span_by_id
  span_tree dump_spans attr is_hex_id
  tcp_connstr otel_worker_pid postmaster_pid otel_tables
);

our $TESTDIR = dirname(abs_path(__FILE__));
our $PYTHON = $ENV{OTEL_TEST_PYTHON} // '/usr/bin/python3';

my $json = JSON::PP->new->utf8->canonical->allow_nonref;

sub json_decode { return $json->decode($_[0]); }
sub json_encode { return $json->encode($_[0]); }

=pod

=head2 otel_conf_line(key, value)

One postgresql.conf line, the value quoted.

=cut

sub otel_conf_line
{
	my ($k, $v) = @_;
	$v =~ s/'/''/g;
	return "$k = '$v'\n";
}

=pod

=head2 otel_node(name, %params)

Initialise and start a node with otel_aliyun preloaded and created in the
postgres database.  Params: otel => { sample_rate => 1, ... } (keys get the
otel_aliyun. prefix), conf => 'raw postgresql.conf text', preload =>
'pg_stat_statements,otel_aliyun' (default otel_aliyun), tcp => 1 (also
listen on 127.0.0.1; the default), start => 0 to only initialise,
extension => 0 to skip CREATE EXTENSION.

=cut

sub otel_node
{
	my ($name, %p) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	my $conf = otel_conf_line('shared_preload_libraries',
		$p{preload} // 'otel_aliyun');
	$conf .= otel_conf_line('listen_addresses', '127.0.0.1')
	  if $p{tcp} // 1;
	$conf .= "log_min_messages = debug1\n" if $ENV{OTEL_TEST_DEBUG};
	my %otel = %{ $p{otel} // {} };
	for my $k (sort keys %otel)
	{
		my $full = $k =~ /\./ ? $k : "otel_aliyun.$k";
		$conf .= otel_conf_line($full, $otel{$k});
	}
	$conf .= $p{conf} . "\n" if defined $p{conf};
	$node->append_conf('postgresql.conf', $conf);
	return $node if defined $p{start} && !$p{start};
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION otel_aliyun')
	  unless defined $p{extension} && !$p{extension};
	return $node;
}

=pod

=head2 otel_tables(node, rows, names...)

Create a table (x int) with rows 1..rows for each name.  Tests query a
table of their own per case: statements differing only in constants or
column aliases share a query id, and with it their normalised text (the
first one seen, as in pg_stat_statements), so they cannot be told apart.

=cut

sub otel_tables
{
	my ($node, $rows, @names) = @_;
	$node->safe_psql('postgres',
		join('',
			map { "CREATE TABLE $_ (x int); INSERT INTO $_ SELECT generate_series(1, $rows);\n" }
			  @names));
}

=pod

=head2 tcp_connstr(node, dbname)

Connection string that goes over TCP to 127.0.0.1 (client.address and
server.address are then known), for $node->psql(..., connstr => ...).

=cut

sub tcp_connstr
{
	my ($node, $db) = @_;
	return 'host=127.0.0.1 port=' . $node->port . ' dbname=' . ($db // 'postgres');
}

=pod

=head2 otel_flush(node [, timeout_ms])

SELECT otel_aliyun.flush(): true when the server says everything got out.

=cut

sub otel_flush
{
	my ($node, $timeout_ms) = @_;
	$timeout_ms //= 10000;
	my $r = $node->safe_psql('postgres',
		"SELECT otel_aliyun.flush($timeout_ms)");
	return $r eq 't';
}

=pod

=head2 otel_settle(node)

Flush twice.  A statement span is written when its statement ends, so the
span of a flush() call (and of whatever ran concurrently with the first
flush) only leaves with the next one; after the second flush only that
second call's own planning child can be missing its parent.  Returns
(all flushed ok, Unix ns just before the second flush) for orphan_spans().

=cut

sub otel_settle
{
	my ($node, $timeout_ms) = @_;
	my $ok = otel_flush($node, $timeout_ms);
	my $t = int(time() * 1e9);
	$ok = otel_flush($node, $timeout_ms) && $ok;
	return ($ok, $t);
}

=pod

=head2 orphan_spans(spans [, before_ns])

Spans naming a parent that is not among spans (started before before_ns
when given: later ones belong to statements still running).

=cut

sub orphan_spans
{
	my ($spans, $before_ns) = @_;
	my %ids = map { $_->{spanId} => 1 } @$spans;
	return grep {
		     $_->{parentSpanId} ne ''
		  && !$ids{ $_->{parentSpanId} }
		  && (!defined $before_ns || $_->{startTimeUnixNano} < $before_ns)
	} @$spans;
}

=pod

=head2 otel_stats(node [, signal])

The otel_aliyun.stats row of a signal (default traces) as a hashref.

=cut

sub otel_stats
{
	my ($node, $signal) = @_;
	$signal //= 'traces';
	my $r = $node->safe_psql('postgres',
		"SELECT row_to_json(s) FROM otel_aliyun.stats s WHERE signal = '$signal'"
	);
	die "no stats row for $signal" if $r eq '';
	return json_decode($r);
}

=pod

=head2 wait_for(coderef, %opts)

Poll coderef until it returns true (returned), or timeout seconds
(default 60) pass (returns undef).  interval in seconds (default 0.1).

=cut

sub wait_for
{
	my ($cond, %o) = @_;
	my $deadline = time + ($o{timeout} // 60);
	my $interval = $o{interval} // 0.1;
	while (1)
	{
		my $r = $cond->();
		return $r if $r;
		return undef if time > $deadline;
		usleep(int($interval * 1e6));
	}
}

=pod

=head2 postmaster_pid(node), otel_worker_pid(node)

Pid of the postmaster (from postmaster.pid), and of the running export
worker (the postmaster's child whose title names it), or undef.

=cut

sub postmaster_pid
{
	my ($node) = @_;
	open(my $fh, '<', $node->data_dir . '/postmaster.pid') or return undef;
	my $pid = <$fh>;
	close $fh;
	chomp $pid;
	return $pid;
}

sub otel_worker_pid
{
	my ($node) = @_;
	my $pm = postmaster_pid($node) or return undef;
	opendir(my $dh, '/proc') or die "cannot read /proc: $!";
	my @found;
	for my $p (grep { /^\d+$/ } readdir $dh)
	{
		open(my $st, '<', "/proc/$p/stat") or next;
		my $stat = <$st>;
		close $st;
		next unless defined $stat && $stat =~ /\)\s+\S+\s+(\d+)/;
		next unless $1 == $pm;
		open(my $cl, '<', "/proc/$p/cmdline") or next;
		local $/;
		my $cmd = <$cl> // '';
		close $cl;
		push @found, $p if $cmd =~ /otel_aliyun exporter/;
	}
	closedir $dh;
	die "more than one otel_aliyun worker: @found" if @found > 1;
	return $found[0];
}

# ---- spans ----------------------------------------------------------------

=pod

=head2 attr(span, key)

Attribute value of a span (undef when absent).

=cut

sub attr
{
	my ($s, $k) = @_;
	return $s->{attributes}{$k};
}

sub is_hex_id
{
	my ($v, $bytes) = @_;
	return defined $v && $v =~ /^[0-9a-f]{${\($bytes*2)}}$/ && $v !~ /^0+$/;
}

=pod

=head2 find_spans(spans, %crit)

Spans matching every criterion: name, kind (SERVER/INTERNAL/...), traceId,
parentSpanId, text (regex or string matched against db.query.text, falling
back to db.statement), attr => { key => value-or-regex }.

=cut

sub _match
{
	my ($v, $want) = @_;
	return 0 unless defined $v;
	return $v =~ $want if ref $want eq 'Regexp';
	return $v eq $want;
}

sub find_spans
{
	my ($spans, %c) = @_;
	my @r;
  SPAN:
	for my $s (@$spans)
	{
		for my $k (qw(name traceId parentSpanId spanId))
		{
			next SPAN if exists $c{$k} && !_match($s->{$k}, $c{$k});
		}
		next SPAN if exists $c{kind} && $s->{kindName} ne $c{kind};
		if (exists $c{text})
		{
			my $t = $s->{attributes}{'db.query.text'}
			  // $s->{attributes}{'db.statement'};
			next SPAN unless _match($t, $c{text});
		}
		for my $k (keys %{ $c{attr} // {} })
		{
			next SPAN unless _match($s->{attributes}{$k}, $c{attr}{$k});
		}
		push @r, $s;
	}
	return @r;
}

sub _crit_str
{
	my ($c) = @_;
	return join(', ',
		map {
			my $v = $c->{$_};
			"$_ => " . (ref $v eq 'HASH' ? '{ ' . _crit_str($v) . ' }' : "$v")
		} sort keys %$c);
}

# exactly one match, or undef (with a diagnostic)
sub find_span
{
	my ($spans, %c) = @_;
	my @r = find_spans($spans, %c);
	return $r[0] if @r == 1;
	diag('expected one span matching ' . _crit_str(\%c) . ', found ' . scalar(@r));
	return undef;
}

sub server_spans
{
	my ($spans, %c) = @_;
	return find_spans($spans, kind => 'SERVER', %c);
}

sub children_of
{
	my ($spans, $parent) = @_;
	return grep {
		     $_->{traceId} eq $parent->{traceId}
		  && $_->{parentSpanId} eq $parent->{spanId}
	} @$spans;
}

sub span_by_id
{
	my ($spans, $id) = @_;
	my @r = grep { $_->{spanId} eq $id } @$spans;
	return $r[0];
}

=pod

=head2 span_tree(spans, root [, with_attrs])

Text drawing of root and its descendants, for diagnostics.

=cut

sub span_tree
{
	my ($spans, $root, $attrs, $depth) = @_;
	$depth //= 0;
	my $d = $root->{endTimeUnixNano} - $root->{startTimeUnixNano};
	my $s = sprintf("%s%s [%s] %.3f ms status=%d%s span=%s\n",
		'  ' x $depth, $root->{name}, $root->{kindName}, $d / 1e6,
		$root->{status}{code},
		$root->{status}{message} ne '' ? " ($root->{status}{message})" : '',
		$root->{spanId});
	if ($attrs)
	{
		for my $k (sort keys %{ $root->{attributes} })
		{
			my $v = $root->{attributes}{$k};
			$v = json_encode($v) if ref $v;
			$s .= sprintf("%s    %s = %s\n", '  ' x $depth, $k, $v);
		}
	}
	my @kids = sort { $a->{startTimeUnixNano} <=> $b->{startTimeUnixNano} }
	  children_of($spans, $root);
	$s .= span_tree($spans, $_, $attrs, $depth + 1) for @kids;
	return $s;
}

sub dump_spans
{
	my ($spans, $label) = @_;
	diag("---- $label: " . scalar(@$spans) . " spans") if defined $label;
	my %ids = map { $_->{spanId} => 1 } @$spans;
	for my $r (grep { !$ids{ $_->{parentSpanId} } } @$spans)
	{
		diag(span_tree($spans, $r, 1));
	}
}

# ---- receiver ---------------------------------------------------------------

package OtelTest::Receiver;

use strict;
use warnings;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(time usleep);
use Test::More;

my @running;

=pod

=head2 OtelTest::Receiver->new(%opts)

Start the receiver on a free port (port => N to choose it).  name => label
for its log file in tmp_check/log.

=cut

sub new
{
	my ($class, %o) = @_;
	my $self = bless {
		port => $o{port} // PostgreSQL::Test::Cluster::get_free_port(),
		name => $o{name} // 'receiver',
		pid => undef,
		http => HTTP::Tiny->new(timeout => 30, keep_alive => 0),
	}, $class;
	my $t = File::Basename::basename($0);
	$t =~ s/\.[^.]+$//;
	$self->{log} = "$PostgreSQL::Test::Utils::log_path/${t}_$self->{name}.log";
	$self->{dir} = PostgreSQL::Test::Utils::tempdir("rx_$self->{name}");
	$self->start unless defined $o{start} && !$o{start};
	push @running, $self;
	return $self;
}

sub port { return $_[0]{port}; }

sub base { return "http://127.0.0.1:$_[0]{port}"; }

# export URL (default: the OTLP/HTTP traces path)
sub url
{
	my ($self, $path) = @_;
	return $self->base . ($path // '/v1/traces');
}

sub running { return defined $_[0]{pid}; }

sub start
{
	my ($self) = @_;
	die "receiver already running" if $self->{pid};
	my $script = "$OtelTest::TESTDIR/receivers/otlp_http_receiver.py";
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $self->{log}) or POSIX::_exit(126);
		open(STDERR, '>&', \*STDOUT);
		# protoc output, shared by the tests of one run
		$ENV{OTEL_PROTO_CACHE} //=
		  "$PostgreSQL::Test::Utils::tmp_check/proto_cache";
		exec($OtelTest::PYTHON, $script, '--port', $self->{port},
			'--out-dir', $self->{dir})
		  or POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	my $ok = OtelTest::wait_for(
		sub {
			if (waitpid($pid, POSIX::WNOHANG()) == $pid)
			{
				$self->{pid} = undef;
				die "receiver exited at start (status $?), see $self->{log}";
			}
			my $r = $self->{http}->get($self->base . '/_health');
			return $r->{success};
		},
		timeout => 120,
		interval => 0.1);
	die "receiver did not answer on port $self->{port}, see $self->{log}"
	  unless $ok;
	note("receiver $self->{name} listening on port $self->{port}, pid $pid");
	return $self;
}

sub stop
{
	my ($self) = @_;
	my $pid = $self->{pid} or return;
	kill 'TERM', $pid;
	my $deadline = time + 10;
	while (waitpid($pid, POSIX::WNOHANG()) == 0)
	{
		if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); last; }
		usleep(20_000);
	}
	$self->{pid} = undef;
	note("receiver $self->{name} stopped");
	return;
}

sub _request
{
	my ($self, $method, $path, $body) = @_;
	die "receiver $self->{name} is not running" unless $self->{pid};
	my %opt;
	if (defined $body)
	{
		$opt{content} = OtelTest::json_encode($body);
		$opt{headers} = { 'Content-Type' => 'application/json' };
	}
	my $r = $self->{http}->request($method, $self->base . $path, \%opt);
	die "receiver $method $path: $r->{status} $r->{content}"
	  unless $r->{success};
	return OtelTest::json_decode($r->{content});
}

sub get { my ($self, $path) = @_; return $self->_request('GET', $path); }

sub post
{
	my ($self, $path, $body) = @_;
	return $self->_request('POST', $path, $body // {});
}

# all spans received so far (arrayref), optionally ?traceId=... filtered
sub spans
{
	my ($self, %q) = @_;
	my $qs = join('', map { "&$_=$q{$_}" } sort keys %q);
	return $self->get("/_received?kind=spans$qs");
}

sub logs { return $_[0]->get('/_received?kind=logs'); }
sub metrics { return $_[0]->get('/_received?kind=metrics'); }
sub requests { return $_[0]->get('/_requests'); }
sub reset { return $_[0]->post('/_reset'); }

# e.g. set_mode(status => 503, retry_after => '1', count => 3)
sub set_mode
{
	my ($self, %m) = @_;
	return $self->post('/_mode', \%m);
}

# poll until cond->(spans) is true; returns the spans or undef
sub wait_spans
{
	my ($self, $cond, %o) = @_;
	my $spans;
	return OtelTest::wait_for(
		sub {
			$spans = $self->spans;
			return $cond->($spans) ? $spans : undef;
		},
		%o);
}

sub DESTROY
{
	my ($self) = @_;
	local $?;
	$self->stop if $self->{pid};
}

END
{
	local $?;
	$_->stop for grep { $_->{pid} } @running;
}


# ---- a minimal frontend/backend protocol client ------------------------------

=pod

=head2 OtelTest::PgWire

Just enough of the v3 protocol (trust authentication over TCP) to drive the
extended protocol by hand: Parse/Bind/Execute with a row limit, portals
fetched in pieces, failures in Bind.

  my $c = OtelTest::PgWire->connect(port => $node->port, user => 'postgres');
  $c->parse('', 'SELECT g FROM generate_series(1, 25) g');
  $c->bind('', '');
  $c->execute('', 10);
  $c->execute('', 0);
  my $r = $c->sync;		# { rows => [...], tags => [...], suspended => 1, error => undef }

=cut

package OtelTest::PgWire;

use strict;
use warnings;
use IO::Socket::INET;

sub connect
{
	my ($class, %o) = @_;
	my $sock = IO::Socket::INET->new(
		PeerAddr => $o{host} // '127.0.0.1',
		PeerPort => $o{port},
		Proto => 'tcp',
		Timeout => 30) or die "connect to port $o{port}: $!";
	my $self = bless { sock => $sock }, $class;
	my $params = "user\0$o{user}\0database\0" . ($o{dbname} // 'postgres') . "\0";
	$params .= "application_name\0$o{application_name}\0" if $o{application_name};
	$params .= "\0";
	my $body = pack('N', 196608) . $params;
	$self->_write(pack('N', length($body) + 4) . $body);
	my $r = $self->_read_until_ready;
	die "startup failed: $r->{error}{M}" if $r->{error};
	return $self;
}

sub backend_pid { return $_[0]{pid}; }

sub _write
{
	my ($self, $data) = @_;
	my $off = 0;
	while ($off < length $data)
	{
		my $n = syswrite($self->{sock}, $data, length($data) - $off, $off);
		die "write: $!" unless defined $n;
		$off += $n;
	}
}

sub _read_n
{
	my ($self, $n) = @_;
	my $buf = '';
	while (length $buf < $n)
	{
		my $got = sysread($self->{sock}, $buf, $n - length $buf, length $buf);
		die "read: " . (defined $got ? 'connection closed' : $!) unless $got;
	}
	return $buf;
}

sub _msg
{
	my ($self, $type, $payload) = @_;
	$self->_write($type . pack('N', length($payload) + 4) . $payload);
}

sub parse
{
	my ($self, $name, $sql, @oids) = @_;
	$self->_msg('P', "$name\0$sql\0" . pack('n', scalar @oids) . pack('N*', @oids));
}

# params: undef is NULL, everything in text format
sub bind
{
	my ($self, $portal, $stmt, @params) = @_;
	my $p = "$portal\0$stmt\0" . pack('n', 0) . pack('n', scalar @params);
	for my $v (@params)
	{
		$p .= defined $v ? pack('N', length $v) . $v : pack('N', 0xFFFFFFFF);
	}
	$p .= pack('n', 0);
	$self->_msg('B', $p);
}

sub describe_portal { my ($self, $portal) = @_; $self->_msg('D', "P$portal\0"); }

sub execute
{
	my ($self, $portal, $maxrows) = @_;
	$self->_msg('E', "$portal\0" . pack('N', $maxrows // 0));
}

sub close_portal { my ($self, $portal) = @_; $self->_msg('C', "P$portal\0"); }

sub close_statement { my ($self, $name) = @_; $self->_msg('C', "S$name\0"); }

# send Sync and read everything up to ReadyForQuery
sub sync
{
	my ($self) = @_;
	$self->_msg('S', '');
	return $self->_read_until_ready;
}

# simple-protocol query
sub query
{
	my ($self, $sql) = @_;
	$self->_msg('Q', "$sql\0");
	return $self->_read_until_ready;
}

sub terminate
{
	my ($self) = @_;
	return unless $self->{sock};
	eval { $self->_msg('X', '') };
	close $self->{sock};
	$self->{sock} = undef;
}

sub _read_until_ready
{
	my ($self) = @_;
	my $r = { rows => [], tags => [], suspended => 0, error => undef,
		types => [] };
	while (1)
	{
		my $hdr = $self->_read_n(5);
		my ($type, $len) = unpack('a N', $hdr);
		my $payload = $len > 4 ? $self->_read_n($len - 4) : '';
		push @{ $r->{types} }, $type;
		if ($type eq 'R')
		{
			my $code = unpack('N', $payload);
			die "authentication method $code requested; tests need trust"
			  if $code != 0;
		}
		elsif ($type eq 'K')
		{
			($self->{pid}) = unpack('N', $payload);
		}
		elsif ($type eq 'D')
		{
			my $n = unpack('n', $payload);
			my $off = 2;
			my @row;
			for (1 .. $n)
			{
				my $l = unpack('l>', substr($payload, $off, 4));
				$off += 4;
				if ($l < 0) { push @row, undef; next; }
				push @row, substr($payload, $off, $l);
				$off += $l;
			}
			push @{ $r->{rows} }, \@row;
		}
		elsif ($type eq 'C')
		{
			(my $tag = $payload) =~ s/\0$//;
			push @{ $r->{tags} }, $tag;
		}
		elsif ($type eq 's')
		{
			$r->{suspended}++;
		}
		elsif ($type eq 'E')
		{
			my %f;
			for my $field (split /\0/, $payload)
			{
				next if $field eq '';
				$f{ substr($field, 0, 1) } = substr($field, 1);
			}
			$r->{error} = \%f;
		}
		elsif ($type eq 'Z')
		{
			return $r;
		}
	}
}

sub DESTROY { my ($self) = @_; local $@; $self->terminate; }

1;
