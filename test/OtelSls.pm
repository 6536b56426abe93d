
# Copyright (c) otel_aliyun contributors

=pod

=head1 NAME

OtelSls - the SLS-compatible test endpoint for otel_aliyun's TAP tests

=head1 SYNOPSIS

  use OtelTest;
  use OtelSls;

  my $sls = OtelSls::Receiver->new(security_token => 'sts-x');
  my $node = otel_node('main', otel => { $sls->settings });
  ...
  my $logs = $sls->logs;			# every log received, decoded
  my $reqs = $sls->requests;		# every PutLogs request and its checks

=head1 DESCRIPTION

test/receivers/sls_receiver.py (run by /usr/bin/python3) verifies the
signature, Content-MD5 and the other headers with its own implementation,
decompresses LZ4 with python3-lz4 and decodes LogGroup with protoc-generated
classes.  OtelSls::Receiver is an OtelTest::Receiver (same control calls:
set_mode, reset, requests, wait_for) started with that script.

=cut

package OtelSls::Receiver;

use strict;
use warnings;
use parent -norequire, 'OtelTest::Receiver';
use POSIX ();
use Test::More;

our $PROJECT = 'otelproj';
our $LOGSTORE = 'otellogs';
our $KEY_ID = 'test-ak-id';
our $KEY_SECRET = 'test-ak-secret';
our $REGION = 'cn-test';

sub new
{
	my ($class, %o) = @_;
	my $self = OtelTest::Receiver::new($class, %o, start => 0,
		name => $o{name} // 'sls');
	$self->{security_token} = $o{security_token} // '';
	$self->start unless defined $o{start} && !$o{start};
	return $self;
}

# Only the script and its arguments differ from OtelTest::Receiver::start,
# which runs $OtelTest::TESTDIR/receivers/otlp_http_receiver.py: point it
# at a directory holding a shim of that name that execs sls_receiver.py
# with our arguments, and let the parent's start do the rest.
sub start
{
	my ($self) = @_;
	my $shimdir = "$self->{dir}/shim";
	my $real = "$OtelTest::TESTDIR/receivers/sls_receiver.py";
	my @args = (
		'--project', $PROJECT, '--logstore', $LOGSTORE,
		'--access-key-id', $KEY_ID, '--access-key-secret', $KEY_SECRET,
		'--region', $REGION, '--security-token', $self->{security_token});
	mkdir "$shimdir";
	mkdir "$shimdir/receivers";
	open(my $fh, '>', "$shimdir/receivers/otlp_http_receiver.py")
	  or die "cannot write the receiver shim: $!";
	print $fh "import os, sys\n",
	  "args = ", OtelTest::json_encode([ $real, @args ]), "\n",
	  "os.execv(sys.executable, [sys.executable, args[0]] + sys.argv[1:] + args[1:])\n";
	close $fh;
	local $OtelTest::TESTDIR = $shimdir;
	return $self->SUPER::start();
}

# otel_aliyun.* settings that point the logs at this endpoint
sub settings
{
	my ($self) = @_;
	return (
		logs_exporter => 'sls',
		sls_endpoint => 'http://localhost:' . $self->port,
		sls_project => $PROJECT,
		sls_logstore => $LOGSTORE,
		sls_access_key_id => $KEY_ID,
		sls_access_key_secret => $KEY_SECRET,
		($self->{security_token} ne ''
			? (sls_security_token => $self->{security_token})
			: ()));
}

sub _query
{
	my (%q) = @_;
	return join('&', map { "$_=" . URI_escape($q{$_}) } sort keys %q);
}

sub URI_escape
{
	my ($s) = @_;
	$s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord($1))/ge;
	return $s;
}

# logs received: all, or those whose body is (content => ...) or starts
# with (prefix => ...); brief => 1 cuts long values (lengths in {sizes})
sub logs
{
	my ($self, %q) = @_;
	return $self->get('/_received?' . _query(%q));
}

# logs whose body equals a string
sub logs_like
{
	my ($self, $content) = @_;
	return $self->logs(content => $content);
}

# how many logs have a body starting with prefix
sub count_prefix
{
	my ($self, $prefix) = @_;
	return $self->get('/_received?' . _query(prefix => $prefix, count => 1))->{count};
}

# poll until at least n logs have this body; returns them
sub wait_logs
{
	my ($self, $content, $n, %o) = @_;
	my $got = [];
	OtelTest::wait_for(
		sub {
			$got = $self->logs_like($content);
			return @$got >= $n;
		},
		%o) or die "timed out waiting for $n SLS logs \"$content\", got "
	  . scalar(@$got);
	return $got;
}

1;
