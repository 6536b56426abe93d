
# Copyright (c) otel_aliyun contributors

=pod

=head1 NAME

OtelGrpc - the OTLP/gRPC test receiver for otel_aliyun's TAP tests

=head1 SYNOPSIS

  use OtelTest;
  use OtelGrpc;

  my $rx = OtelTest::GrpcReceiver->new(name => 'grpc');
  my $node = otel_node('main', otel => {
      traces_protocol => 'grpc', traces_endpoint => $rx->url });
  ...
  my $spans = $rx->spans;				# as OtelTest::Receiver's
  my $calls = $rx->requests;			# metadata, peer, deadline, status
  $rx->set_mode(code => 'UNAVAILABLE', count => 2);

  # TLS: a throw-away self-signed certificate for localhost/127.0.0.1
  my ($cert, $key) = OtelGrpc::self_signed_cert($dir);
  my $trx = OtelTest::GrpcReceiver->new(name => 'tls', tls_cert => $cert,
      tls_key => $key);				# $trx->url is https://localhost:port

=head1 DESCRIPTION

test/receivers/otlp_grpc_receiver.py is a real gRPC server (Debian's
python3-grpcio) serving the three OTLP collector services, decoding with
protoc-generated classes.  It has a gRPC port (url) and an HTTP control port
with the same API as the OTLP/HTTP receiver (base), so everything of
OtelTest::Receiver works on it: spans, logs, metrics, requests, reset,
set_mode (with gRPC codes: code, message, count, delay_ms, retry_delay_ms,
partial_rejected, partial_message, compress_response), wait_spans, stop,
start (on the same ports).

=cut

package OtelGrpc;

use strict;
use warnings;

use OtelTest;
use PostgreSQL::Test::Utils;

=pod

=head2 OtelGrpc::self_signed_cert(dir)

Writes cert.pem and key.pem (CN localhost, subjectAltName localhost and
127.0.0.1, valid 2 days) with the openssl command into dir; returns the two
paths, or an empty list when openssl is missing or fails.

=cut

sub self_signed_cert
{
	my ($dir) = @_;
	my ($cert, $key) = ("$dir/cert.pem", "$dir/key.pem");
	my $rc = system('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
		'-keyout', $key, '-out', $cert, '-days', '2', '-subj', '/CN=localhost',
		'-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
	return () if $rc != 0 || !-s $cert || !-s $key;
	chmod 0644, $cert, $key;
	return ($cert, $key);
}

package OtelTest::GrpcReceiver;

use strict;
use warnings;
use parent -norequire, 'OtelTest::Receiver';
use POSIX ();
use Test::More;

sub new
{
	my ($class, %o) = @_;
	my $start = $o{start} // 1;
	my $self = OtelTest::Receiver::new($class, %o, start => 0);
	$self->{grpc_port} = $o{grpc_port}
	  // PostgreSQL::Test::Cluster::get_free_port();
	$self->{tls_cert} = $o{tls_cert};
	$self->{tls_key} = $o{tls_key};
	$self->start if $start;
	return $self;
}

sub grpc_port { return $_[0]{grpc_port}; }

# the endpoint to configure: http://127.0.0.1:port, or https://localhost:port
sub url
{
	my ($self) = @_;
	return $self->{tls_cert}
	  ? "https://localhost:$self->{grpc_port}"
	  : "http://127.0.0.1:$self->{grpc_port}";
}

sub start
{
	my ($self) = @_;
	die "receiver already running" if $self->{pid};
	my $script = "$OtelTest::TESTDIR/receivers/otlp_grpc_receiver.py";
	my @args = ('--port', $self->{grpc_port}, '--control-port', $self->{port},
		'--out-dir', $self->{dir});
	push @args, '--tls-cert', $self->{tls_cert}, '--tls-key', $self->{tls_key}
	  if $self->{tls_cert};
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $self->{log}) or POSIX::_exit(126);
		open(STDERR, '>&', \*STDOUT);
		$ENV{OTEL_PROTO_CACHE} //=
		  "$PostgreSQL::Test::Utils::tmp_check/proto_cache";
		exec($OtelTest::PYTHON, $script, @args) or POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	my $ok = OtelTest::wait_for(
		sub {
			if (waitpid($pid, POSIX::WNOHANG()) == $pid)
			{
				$self->{pid} = undef;
				die "gRPC receiver exited at start (status $?), see $self->{log}";
			}
			my $r = $self->{http}->get($self->base . '/_health');
			return $r->{success};
		},
		timeout => 120,
		interval => 0.1);
	die "gRPC receiver did not answer on port $self->{port}, see $self->{log}"
	  unless $ok;
	note("gRPC receiver $self->{name}: gRPC port $self->{grpc_port}, "
		  . "control port $self->{port}, pid $pid");
	return $self;
}

1;
