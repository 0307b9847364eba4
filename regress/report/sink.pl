#!/usr/bin/perl
# A stand-in for the Spamhaus submission API on 127.0.0.1, for the
# tests: it records every request as one JSON line (method, path, the
# headers that matter, the decoded body) and answers what the script
# file says.  The script holds one answer per line: an HTTP status;
# "hang": read the request and never answer; "slowMS": 200 after MS
# milliseconds; "STATUS retry-after=VALUE": that status with a
# Retry-After header.  The first line is used and removed, except the
# last one, which stays.  Never a real service.
#
# usage: sink.pl PORT LOGFILE SCRIPTFILE

use strict;
use warnings;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time);

my ($port, $logfile, $script) = @ARGV;
die "usage: sink.pl PORT LOGFILE SCRIPTFILE\n" unless defined $script;

my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
    Listen => 64, ReuseAddr => 1, Proto => 'tcp')
    or die "sink: cannot listen on 127.0.0.1:$port: $!\n";
$SIG{TERM} = sub { exit 0 };
$SIG{PIPE} = 'IGNORE';

my $json = JSON::PP->new->canonical(1);
my @held;	# connections of "hang" answers, never answered
my $n = 0;

sub next_answer {
	open(my $fh, '<', $script) or return '200';
	my @lines = grep { /\S/ } <$fh>;
	close $fh;
	return '200' unless @lines;
	chomp(my $first = $lines[0]);
	if (@lines > 1) {
		open(my $out, '>', "$script.tmp") or die;
		print $out @lines[1 .. $#lines];
		close $out;
		rename("$script.tmp", $script) or die;
	}
	return $first;
}

sub read_request {
	my ($c) = @_;
	my $head = '';
	while ($head !~ /\r\n\r\n/) {
		my $r = sysread($c, my $buf, 4096);
		return undef unless $r;
		$head .= $buf;
	}
	my ($h, $body) = split(/\r\n\r\n/, $head, 2);
	my ($line, @hl) = split(/\r\n/, $h);
	my ($method, $path) = split(/ /, $line);
	my %hdr;
	for (@hl) {
		my ($k, $v) = split(/:\s*/, $_, 2);
		$hdr{lc $k} = $v;
	}
	my $len = $hdr{'content-length'} // 0;
	if (($hdr{expect} // '') =~ /100-continue/i && length($body) < $len) {
		print $c "HTTP/1.1 100 Continue\r\n\r\n";
	}
	while (length($body) < $len) {
		my $r = sysread($c, my $buf, $len - length($body));
		return undef unless $r;
		$body .= $buf;
	}
	return { method => $method, path => $path, hdr => \%hdr,
	    body => $body };
}

sub answer {
	my ($c, $code, $req, $extra) = @_;
	my %text = (200 => 'OK', 208 => 'Already Reported',
	    400 => 'Bad Request', 401 => 'Unauthorized', 403 => 'Forbidden',
	    429 => 'Too Many Requests', 500 => 'Internal Server Error',
	    503 => 'Service Unavailable');
	my $body = $code == 200 ?
	    '{"id":"' . sprintf('%064x', $n) . '","submission_type":"ip"}' :
	    '{"status":' . $code . ',"message":"sink says ' . $code . '"}';
	print $c "HTTP/1.1 $code " . ($text{$code} // 'Status') . "\r\n" .
	    "Content-Type: application/json\r\n" . ($extra // '') .
	    "Content-Length: " . length($body) . "\r\n" .
	    "Connection: close\r\n\r\n" . $body;
}

while (my $c = $srv->accept) {
	my $req = read_request($c);
	unless ($req) { close $c; next; }
	$n++;
	my $ans = next_answer();
	my $decoded = eval { decode_json($req->{body}) };
	my %rec = (n => $n, t => time, method => $req->{method}, path => $req->{path},
	    authorization => $req->{hdr}{authorization},
	    content_type => $req->{hdr}{'content-type'},
	    answer => $ans, json_ok => defined $decoded ? 1 : 0,
	    body => $decoded // $req->{body});
	open(my $log, '>>', $logfile) or die;
	print $log $json->encode(\%rec), "\n";
	close $log;
	if ($ans eq 'hang') {
		push @held, $c;
		next;
	}
	if ($ans =~ /^slow(\d*)$/) {
		select(undef, undef, undef, $1 ? $1 / 1000 : 2);
		$ans = 200;
	}
	my $extra;
	if ($ans =~ /^(\d+) retry-after=(.+)$/) {
		($ans, $extra) = ($1, "Retry-After: $2\r\n");
	}
	answer($c, $ans, $req, $extra);
	close $c;
}
