#!/usr/bin/python3
"""OTLP/gRPC versus OTLP/HTTP protobuf: how fast the export worker ships
spans, and its CPU time per 10k spans (driven by bench/grpc.sh; the file is
not named grpc.py, which would shadow the grpc module for grpc_sink.py).

One throwaway cluster with otel_aliyun preloaded (sample rate 1) and two
local sinks that count and discard: bench/sink (bench/sink.c, OTLP/HTTP) and
bench/grpc_sink.py (OTLP/gRPC, python3-grpcio).  For each protocol, in
interleaved rounds:

  1. the worker is stopped (SIGSTOP, only while it sleeps in its latch
     wait, so that it holds no lock);
  2. pgbench -S runs a fixed number of transactions: their spans pile up
     in the shared-memory ring;
  3. the worker is continued and otel_aliyun.flush() waits until all of
     them are exported: spans/s = spans exported / drain time, and the
     worker's CPU (utime+stime from /proc/<pid>/stat) over the drain, per
     10k spans.

So the figures are the export path's capacity (encoding, compression,
framing, sending, the sink's answer), not the rate at which pgbench happens
to produce spans.  Medians over rounds are reported.
"""

import argparse
import datetime
import json
import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
# x86_64 / aarch64 numbers of the syscalls a latch wait sleeps in
SLEEP_SYSCALLS = {"232", "281", "441", "22", "7"}  # epoll_wait, epoll_pwait(2), poll


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[11]) + int(rest[12])


def sleeping_in_wait(pid):
    """Is the (stopped) process inside its latch wait syscall?"""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split()[0] in SLEEP_SYSCALLS
    except (OSError, IndexError):
        pass
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return "poll" in f.read()
    except OSError:
        return False


class Cluster:
    def __init__(self, args, work):
        self.args = args
        self.data = os.path.join(work, "data")
        self.sock = work
        self.port = free_port()
        self.logfile = os.path.join(work, "postmaster.log")
        self.as_user = ["runuser", "-u", args.user, "--"] if os.geteuid() == 0 else []
        self.bin = args.pgbin

    def run(self, cmd, check=True, as_owner=True):
        r = subprocess.run((self.as_user if as_owner else []) + cmd,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        if check and r.returncode != 0:
            sys.stderr.write(r.stdout or "")
            raise SystemExit("command failed (%d): %s" % (r.returncode, " ".join(cmd)))
        return r.stdout

    def psql(self, sql):
        return self.run([os.path.join(self.bin, "psql"), "-XAtq", "-v", "ON_ERROR_STOP=1",
                         "-h", self.sock, "-p", str(self.port), "-U", "postgres",
                         "-d", "postgres", "-c", sql], as_owner=False).strip()

    def pgbench(self, extra):
        return self.run([os.path.join(self.bin, "pgbench"), "-h", self.sock,
                         "-p", str(self.port), "-U", "postgres"] + extra + ["postgres"],
                        as_owner=False)

    def initdb(self, conf):
        self.run([os.path.join(self.bin, "initdb"), "-D", self.data, "-A", "trust",
                  "-U", "postgres", "-N", "--no-instructions", "-E", "UTF8", "--locale=C"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# otel_aliyun gRPC benchmark\n")
            f.write("port = %d\nlisten_addresses = ''\n" % self.port)
            f.write("unix_socket_directories = '%s'\n" % self.sock)
            f.write("shared_buffers = '128MB'\nmax_connections = 20\n")
            f.write("synchronous_commit = off\nautovacuum = off\n")
            f.write("log_min_messages = warning\n")
            f.write(conf)

    def start(self):
        self.run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.logfile,
                  "-w", "-t", "120", "start"])

    def stop(self):
        self.run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-w", "-t", "120",
                  "-m", "fast", "stop"], check=False)

    def postmaster_pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def worker_pid(self):
        pm = self.postmaster_pid()
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    s = f.read()
                ppid = int(s[s.rindex(")") + 2:].split()[1])
                if ppid != pm:
                    continue
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if b"otel_aliyun exporter" in f.read():
                        return int(d)
            except (OSError, ValueError):
                continue
        raise SystemExit("no otel_aliyun exporter process")

    def stats(self):
        return json.loads(self.psql(
            "SELECT row_to_json(s) FROM otel_aliyun.stats s WHERE signal = 'traces'"))


def start_sink(cmd, port_file):
    p = subprocess.Popen(cmd + ["--port-file", port_file], stdin=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not os.path.exists(port_file):
        if time.time() > deadline or p.poll() is not None:
            raise SystemExit("sink did not start: %s" % " ".join(cmd))
        time.sleep(0.05)
    with open(port_file) as f:
        return p, int(f.read())


def stop_worker_idle(cl, pid):
    """SIGSTOP the worker at a moment it sleeps in its latch wait."""
    for _ in range(200):
        os.kill(pid, signal.SIGSTOP)
        time.sleep(0.005)
        if sleeping_in_wait(pid):
            return
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.03)
    raise SystemExit("could not catch the worker idle")


def one_run(cl, args, proto, endpoint, sink_pid):
    cl.psql("ALTER SYSTEM SET otel_aliyun.traces_protocol = '%s'" % proto)
    cl.psql("ALTER SYSTEM SET otel_aliyun.traces_endpoint = '%s'" % endpoint)
    cl.psql("SELECT pg_reload_conf()")
    time.sleep(1)
    # everything earlier out, over the new protocol (and its connection open)
    cl.psql("SELECT 1")
    cl.psql("SELECT otel_aliyun.flush(60000)")
    cl.psql("SELECT otel_aliyun.flush(60000)")
    cl.psql("SELECT otel_aliyun.stats_reset()")

    pid = cl.worker_pid()
    stop_worker_idle(cl, pid)
    try:
        cl.pgbench(["-S", "-n", "-M", "simple", "-c", str(args.clients),
                    "-j", str(args.clients), "-t", str(args.transactions)])
        st0 = cl.stats()
        ticks0 = cpu_ticks(pid)
        sink0 = cpu_ticks(sink_pid)
        t0 = time.monotonic()
    finally:
        os.kill(pid, signal.SIGCONT)
    flushed = cl.psql("SELECT otel_aliyun.flush(600000)") == "t"
    elapsed = time.monotonic() - t0
    ticks1 = cpu_ticks(pid)
    sink1 = cpu_ticks(sink_pid)
    st1 = cl.stats()
    exported = st1["exported"] - st0["exported"]
    cpu = (ticks1 - ticks0) / CLK_TCK
    return {
        "protocol": proto, "flushed": flushed, "produced": st0["produced"],
        "exported": exported, "exported_total": st1["exported"],
        "dropped": st1["dropped"], "failed": st1["failed"],
        "requests": st1["requests"], "bytes_sent": st1["bytes_sent"],
        "drain_s": elapsed, "spans_per_s": exported / elapsed if elapsed > 0 else 0,
        "worker_cpu_s": cpu,
        "worker_ms_per_10k": cpu * 1000 / exported * 10000 if exported else float("nan"),
        "sink_cpu_s": (sink1 - sink0) / CLK_TCK,
    }


def main():
    ap = argparse.ArgumentParser(description="OTLP/gRPC vs OTLP/HTTP export throughput")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", 3)))
    ap.add_argument("--transactions", type=int, default=int(os.environ.get("TRANSACTIONS", 25000)),
                    help="pgbench -S transactions per client per run")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--buffer-mb", type=int, default=512)
    ap.add_argument("--batch", type=int, default=0, help="max_export_batch_size (0: default)")
    ap.add_argument("--compression", default="", help="gzip or none (default: the default)")
    ap.add_argument("--protocols", default="http/protobuf,grpc")
    ap.add_argument("--pgbin", default="/usr/lib/postgresql/15/bin")
    ap.add_argument("--user", default="postgres")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    protos = [p.strip() for p in args.protocols.split(",") if p.strip()]
    os.makedirs(args.out, exist_ok=True)

    work = tempfile.mkdtemp(prefix="otel_grpc_bench_")
    if os.geteuid() == 0:
        pw = pwd.getpwnam(args.user)
        os.chown(work, pw.pw_uid, pw.pw_gid)
    cl = Cluster(args, work)
    http_sink, http_port = start_sink([os.path.join(HERE, "sink")],
                                      os.path.join(work, "http.port"))
    grpc_sink, grpc_port = start_sink(["/usr/bin/python3", os.path.join(HERE, "grpc_sink.py")],
                                      os.path.join(work, "grpc.port"))
    endpoints = {"http/protobuf": ("http://127.0.0.1:%d/v1/traces" % http_port, http_sink.pid),
                 "http/json": ("http://127.0.0.1:%d/v1/traces" % http_port, http_sink.pid),
                 "grpc": ("http://127.0.0.1:%d" % grpc_port, grpc_sink.pid)}
    results = []
    try:
        conf = ("shared_preload_libraries = 'otel_aliyun'\n"
                "otel_aliyun.sample_rate = 1\n"
                "otel_aliyun.buffer_size = %d\n"
                "otel_aliyun.export_timeout_ms = 60000\n" % args.buffer_mb)
        if args.batch:
            conf += "otel_aliyun.max_export_batch_size = %d\n" % args.batch
        if args.compression:
            conf += "otel_aliyun.compression = '%s'\n" % args.compression
        log("initdb in %s" % work)
        cl.initdb(conf)
        cl.start()
        cl.psql("CREATE EXTENSION otel_aliyun")
        cl.pgbench(["-i", "-q", "-s", str(args.scale)])
        for rnd in range(args.rounds):
            order = protos[rnd % len(protos):] + protos[:rnd % len(protos)]
            for proto in order:
                url, sink_pid = endpoints[proto]
                r = one_run(cl, args, proto, url, sink_pid)
                r["round"] = rnd + 1
                results.append(r)
                log("round %d %-13s %7d spans in %6.3f s = %8.0f spans/s, worker %.3f s CPU "
                    "= %6.1f ms per 10k spans (dropped %d failed %d)" % (
                        rnd + 1, proto, r["exported"], r["drain_s"], r["spans_per_s"],
                        r["worker_cpu_s"], r["worker_ms_per_10k"], r["dropped"], r["failed"]))
    finally:
        cl.stop()
        for p in (http_sink, grpc_sink):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if args.keep:
            log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(args, protos, results)


def report(args, protos, results):
    lines = ["otel_aliyun export throughput: OTLP/HTTP protobuf vs OTLP/gRPC, "
             "%d rounds, pgbench -S %d clients x %d transactions per run, %d CPUs, "
             "compression %s, %s" % (
                 args.rounds, args.clients, args.transactions, os.cpu_count(),
                 args.compression or "default (gzip)",
                 datetime.datetime.now().strftime("%Y-%m-%d %H:%M")), ""]
    lines.append("%-14s %10s %12s %14s %16s %10s %8s %7s" % (
        "protocol", "spans/run", "spans/s", "worker CPU s", "worker ms/10k", "requests",
        "dropped", "failed"))
    for proto in protos:
        rs = [r for r in results if r["protocol"] == proto]
        if not rs:
            continue
        lines.append("%-14s %10d %12.0f %14.3f %16.1f %10d %8d %7d" % (
            proto, statistics.median(r["exported"] for r in rs),
            statistics.median(r["spans_per_s"] for r in rs),
            statistics.median(r["worker_cpu_s"] for r in rs),
            statistics.median(r["worker_ms_per_10k"] for r in rs),
            statistics.median(r["requests"] for r in rs),
            sum(r["dropped"] for r in rs), sum(r["failed"] for r in rs)))
    lines.append("")
    lines.append("medians over rounds; spans/s = spans exported / time to drain the ring; "
                 "worker CPU = utime+stime of the export worker during the drain")
    for r in results:
        lines.append("  round %d %-13s %7d/%d spans %6.3f s %8.0f spans/s  worker %.3f s "
                     "(%.1f ms/10k)  sink %.2f s  %d requests %d bytes%s" % (
                         r["round"], r["protocol"], r["exported"], r["produced"], r["drain_s"],
                         r["spans_per_s"], r["worker_cpu_s"], r["worker_ms_per_10k"],
                         r["sink_cpu_s"], r["requests"], r["bytes_sent"],
                         "" if r["flushed"] else "  (flush timed out)"))
    text = "\n".join(lines) + "\n"
    sys.stdout.write("\n" + text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(args.out, "grpc-%s.txt" % stamp), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "grpc-%s.json" % stamp), "w") as f:
        json.dump({"args": vars(args), "runs": results}, f, indent=1)
    log("results written to %s/grpc-%s.{txt,json}" % (args.out, stamp))


if __name__ == "__main__":
    main()
