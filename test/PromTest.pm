
# Copyright (c) otel_aliyun contributors

=pod

=head1 NAME

PromTest - a real Prometheus (Debian's prometheus package) for otel_aliyun's
metrics tests, and a recording, fault-injecting remote-write proxy

=head1 SYNOPSIS

  use PromTest;

  my $prom = PromTest::Server->new(name => 'prom');	# remote write on
  my $proxy = PromTest::Proxy->new(upstream => $prom->base);
  ... otel_aliyun.prometheus_remote_write_url = $proxy->write_url ...
  my $v = $prom->value('orders_total{region="hz"}');	# undef if absent
  my $r = $prom->query('up');							# result array

  # pull mode: Prometheus scrapes the extension
  my $prom = PromTest::Server->new(name => 'scraper',
	  scrape => ['127.0.0.1:9187'], scrape_interval => '1s');

=head1 DESCRIPTION

Both die on unexpected failures, so that a broken harness cannot pass
silently.  Prometheus listens on loopback only and keeps its TSDB in a
temporary directory.

=cut

package PromTest;

use strict;
use warnings;

use File::Basename qw(dirname);
use Cwd qw(abs_path);

our $TESTDIR = dirname(abs_path(__FILE__));
our $PROMETHEUS = $ENV{OTEL_TEST_PROMETHEUS} // 'prometheus';

package PromTest::Server;

use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @servers;

sub new
{
	my ($class, %o) = @_;
	my $self = bless {
		port => PostgreSQL::Test::Cluster::get_free_port(),
		name => $o{name} // 'prometheus',
		scrape => $o{scrape} // [],
		scrape_interval => $o{scrape_interval} // '1s',
		http => HTTP::Tiny->new(timeout => 30, keep_alive => 0),
		json => JSON::PP->new->utf8->canonical,
	}, $class;
	my $t = File::Basename::basename($0);
	$t =~ s/\.[^.]+$//;
	$self->{log} = "$PostgreSQL::Test::Utils::log_path/${t}_$self->{name}.log";
	$self->{dir} = PostgreSQL::Test::Utils::tempdir("prom_$self->{name}");

	my $conf = "global:\n  scrape_interval: $self->{scrape_interval}\n"
	  . "  evaluation_interval: 10s\n";
	if (@{ $self->{scrape} })
	{
		$conf .= "scrape_configs:\n  - job_name: pg\n"
		  . "    scrape_interval: $self->{scrape_interval}\n"
		  . "    scrape_timeout: 1s\n"
		  . "    metrics_path: /metrics\n"
		  . "    static_configs:\n      - targets: ["
		  . join(', ', map { "'$_'" } @{ $self->{scrape} }) . "]\n";
	}
	open(my $fh, '>', "$self->{dir}/prometheus.yml") or die "write config: $!";
	print $fh $conf;
	close $fh;

	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $self->{log}) or POSIX::_exit(126);
		open(STDERR, '>&', \*STDOUT);
		exec($PromTest::PROMETHEUS,
			"--config.file=$self->{dir}/prometheus.yml",
			"--storage.tsdb.path=$self->{dir}/data",
			"--web.listen-address=127.0.0.1:$self->{port}",
			'--web.enable-remote-write-receiver',
			'--log.level=info')
		  or POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	push @servers, $self;

	my $deadline = time + 90;
	while (1)
	{
		if (waitpid($pid, POSIX::WNOHANG()) == $pid)
		{
			$self->{pid} = undef;
			die "prometheus exited at start (status $?), see $self->{log}";
		}
		my $r = $self->{http}->get($self->base . '/-/ready');
		last if $r->{success};
		die "prometheus did not get ready on port $self->{port}, see $self->{log}"
		  if time > $deadline;
		usleep(200_000);
	}
	note("prometheus $self->{name} ready on port $self->{port}, pid $pid");
	return $self;
}

sub port { return $_[0]{port}; }
sub base { return "http://127.0.0.1:$_[0]{port}"; }
sub write_url { return $_[0]->base . '/api/v1/write'; }

sub _get
{
	my ($self, $path, %params) = @_;
	my $qs = $self->{http}->www_form_urlencode(\%params);
	my $r = $self->{http}->get($self->base . $path . ($qs ne '' ? "?$qs" : ''));
	die "prometheus GET $path: $r->{status} $r->{content}" unless $r->{success};
	my $d = $self->{json}->decode($r->{content});
	die "prometheus GET $path: $r->{content}" unless $d->{status} eq 'success';
	return $d->{data};
}

=pod

=head2 query(promql)

Instant query at the present: the array of {metric => {...}, value => [t, "v"]}.

=cut

sub query
{
	my ($self, $q) = @_;
	my $d = $self->_get('/api/v1/query', query => $q);
	die "query $q: not a vector" unless $d->{resultType} eq 'vector';
	return $d->{result};
}

=pod

=head2 value(promql)

The value of the single series the query returns, as a number; undef when
none; dies when there are several.

=cut

sub value
{
	my ($self, $q) = @_;
	my $r = $self->query($q);
	return undef unless @$r;
	die "query $q returned " . scalar(@$r) . " series" if @$r > 1;
	return 0 + $r->[0]{value}[1];
}

=pod

=head2 samples(selector, range)

Every raw sample of the series matching selector within range (default 1h),
as {labels => {...}, samples => [[t_seconds, value], ...]}.

=cut

sub samples
{
	my ($self, $sel, $range) = @_;
	$range //= '1h';
	my $d = $self->_get('/api/v1/query', query => "${sel}[$range]");
	die "range query $sel: not a matrix" unless $d->{resultType} eq 'matrix';
	return [ map { { labels => $_->{metric}, samples => $_->{values} } }
		  @{ $d->{result} } ];
}

sub metadata
{
	my ($self, $metric) = @_;
	return $self->_get('/api/v1/metadata', metric => $metric);
}

sub targets
{
	my ($self) = @_;
	return $self->_get('/api/v1/targets')->{activeTargets};
}

sub stop
{
	my ($self) = @_;
	my $pid = $self->{pid} or return;
	kill 'TERM', $pid;
	my $deadline = time + 20;
	while (waitpid($pid, POSIX::WNOHANG()) == 0)
	{
		if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); last; }
		usleep(50_000);
	}
	$self->{pid} = undef;
	return;
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
	$_->stop for grep { $_->{pid} } @servers;
}

package PromTest::Proxy;

use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @proxies;

sub new
{
	my ($class, %o) = @_;
	my $self = bless {
		port => PostgreSQL::Test::Cluster::get_free_port(),
		name => $o{name} // 'rwproxy',
		upstream => $o{upstream} // die('upstream needed'),
		http => HTTP::Tiny->new(timeout => 30, keep_alive => 0),
		json => JSON::PP->new->utf8->canonical,
	}, $class;
	my $t = File::Basename::basename($0);
	$t =~ s/\.[^.]+$//;
	$self->{log} = "$PostgreSQL::Test::Utils::log_path/${t}_$self->{name}.log";
	my $script = "$PromTest::TESTDIR/receivers/prom_rw_proxy.py";
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $self->{log}) or POSIX::_exit(126);
		open(STDERR, '>&', \*STDOUT);
		exec($ENV{OTEL_TEST_PYTHON} // '/usr/bin/python3', $script,
			'--port', $self->{port}, '--upstream', $self->{upstream})
		  or POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	push @proxies, $self;
	my $deadline = time + 120;
	while (1)
	{
		if (waitpid($pid, POSIX::WNOHANG()) == $pid)
		{
			$self->{pid} = undef;
			die "proxy exited at start (status $?), see $self->{log}";
		}
		my $r = $self->{http}->get($self->base . '/_health');
		last if $r->{success};
		die "proxy did not answer on port $self->{port}, see $self->{log}"
		  if time > $deadline;
		usleep(100_000);
	}
	return $self;
}

sub base { return "http://127.0.0.1:$_[0]{port}"; }
sub write_url { return $_[0]->base . '/api/v1/write'; }

sub _req
{
	my ($self, $method, $path, $body) = @_;
	my %opt;
	if (defined $body)
	{
		$opt{content} = $self->{json}->encode($body);
		$opt{headers} = { 'Content-Type' => 'application/json' };
	}
	my $r = $self->{http}->request($method, $self->base . $path, \%opt);
	die "proxy $method $path: $r->{status} $r->{content}" unless $r->{success};
	return $self->{json}->decode($r->{content});
}

sub requests { return $_[0]->_req('GET', '/_requests'); }
sub reset { return $_[0]->_req('POST', '/_reset', {}); }

sub set_mode
{
	my ($self, %m) = @_;
	return $self->_req('POST', '/_mode', \%m);
}

sub stop
{
	my ($self) = @_;
	my $pid = $self->{pid} or return;
	kill 'TERM', $pid;
	waitpid($pid, 0);
	$self->{pid} = undef;
	return;
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
	$_->stop for grep { $_->{pid} } @proxies;
}

1;
