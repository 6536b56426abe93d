#!/usr/bin/python3
"""otel_aliyun overhead benchmark (driven by bench/run.sh).

pgbench -S (select-only) against one throwaway cluster, in configurations
  none  the extension not loaded (baseline)
  0     preloaded, otel_aliyun.sample_rate = 0
  0.1   preloaded, sample rate 0.1
  1     preloaded, sample rate 1
all exporting with default settings (gzip, batch size, interval) to a local
sink that counts and discards.  Every configuration runs between two
baseline runs (the order rotates each round), and is compared with them:
the median of those paired ratios is the verdict; plain medians are
reported too.  For each run: TPS, and the server's CPU
time per transaction, from /proc: utime+stime (+ reaped children's cutime+
cstime) of the postmaster and every live child process (backends, the export
worker, auxiliary processes), read before and after the run.
"""

import argparse
import datetime
import json
import os
import pwd
import re
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

# (TPS ratio at least, CPU ratio at most) from the targets
TARGETS = {"0": (0.99, 1.01), "0.1": (0.98, 1.03), "1": (0.92, 1.10)}


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class Cluster:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.data = os.path.join(work, "data")
        self.sock = work
        self.port = args.port or free_port()
        self.logfile = os.path.join(work, "postmaster.log")
        self.as_user = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", args.user, "--"]
        self.bin = args.pgbin

    def run(self, cmd, check=True, capture=False, as_owner=True):
        full = (self.as_user if as_owner else []) + cmd
        r = subprocess.run(full, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE if capture else None,
                           stderr=subprocess.STDOUT if capture else None,
                           universal_newlines=True)
        if check and r.returncode != 0:
            if capture:
                sys.stderr.write(r.stdout or "")
            raise SystemExit("command failed (%d): %s" % (r.returncode, " ".join(cmd)))
        return r

    def psql(self, sql, db="postgres"):
        r = self.run([os.path.join(self.bin, "psql"), "-XAtq", "-v", "ON_ERROR_STOP=1",
                      "-h", self.sock, "-p", str(self.port), "-U", "postgres",
                      "-d", db, "-c", sql], capture=True, as_owner=False)
        return r.stdout.strip()

    def initdb(self):
        self.run([os.path.join(self.bin, "initdb"), "-D", self.data, "-A", "trust",
                  "-U", "postgres", "-N", "--no-instructions", "-E", "UTF8",
                  "--locale=C"], capture=True)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# otel_aliyun benchmark\n")
            f.write("port = %d\n" % self.port)
            f.write("listen_addresses = '%s'\n" % ("127.0.0.1" if self.args.tcp else ""))
            f.write("unix_socket_directories = '%s'\n" % self.sock)
            f.write("shared_buffers = '%s'\n" % self.args.shared_buffers)
            f.write("max_connections = 30\n")
            f.write("synchronous_commit = off\n")
            f.write("autovacuum = off\n")
            f.write("log_min_messages = warning\n")
            f.write("include_if_exists = 'bench_variant.conf'\n")

    def set_variant(self, conf_text):
        path = os.path.join(self.data, "bench_variant.conf")
        with open(path, "w") as f:
            f.write(conf_text)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(self.args.user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def start(self):
        self.run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.logfile,
                  "-w", "-t", "120", "start"], capture=True)

    def stop(self):
        self.run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-w", "-t", "120",
                  "-m", "fast", "stop"], check=False, capture=True)

    def postmaster_pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def pgbench(self, extra):
        cmd = [os.path.join(self.bin, "pgbench"), "-h", self.host(), "-p", str(self.port),
               "-U", "postgres"] + extra + ["postgres"]
        return self.run(cmd, capture=True, as_owner=False)

    def host(self):
        return "127.0.0.1" if self.args.tcp else self.sock


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def proc_ticks(pid):
    """utime+stime+cutime+cstime of pid, in clock ticks (0 if gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return 0, None
    rest = s[s.rindex(")") + 2:].split()
    ppid = int(rest[1])
    return sum(int(x) for x in rest[11:15]), ppid


def children(pm_pid):
    """pid -> state of the postmaster's child processes."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()
        if int(rest[1]) == pm_pid:
            out[int(d)] = rest[0]
    return out


def wait_children(pm_pid, expected, timeout=15):
    """Wait until the postmaster's children are exactly the long-lived ones
    (expected): exited backends must be reaped, for a zombie's CPU time is
    not readable but lands in the postmaster's cutime once it is reaped."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        ch = children(pm_pid)
        if set(ch) == expected and "Z" not in ch.values():
            return True
        time.sleep(0.02)
    log("warning: postmaster children did not settle: %s vs %s" % (children(pm_pid), expected))
    return False


def server_cpu_seconds(pm_pid):
    """CPU seconds of the postmaster, its reaped children and live children."""
    total, _ = proc_ticks(pm_pid)
    for pid in children(pm_pid):
        total += proc_ticks(pid)[0]
    return total / CLK_TCK


def exporter_pid(pm_pid):
    """pid of the otel_aliyun exporter worker, or None."""
    for pid in children(pm_pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"otel_aliyun exporter" in f.read():
                    return pid
        except OSError:
            pass
    return None


def wait_backends_gone(cl, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        n = cl.psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                    "AND pid <> pg_backend_pid()")
        if n == "0":
            return
        time.sleep(0.05)


def variant_conf(cfg, sink_url, extra):
    if cfg == "none":
        return "shared_preload_libraries = ''\n"
    # "RATE@name=value@name=value": a sample rate with more otel_aliyun
    # settings, so that variants of one rate are compared in the same run
    rate, *settings = cfg.split("@")
    conf = ("shared_preload_libraries = 'otel_aliyun'\n"
            "otel_aliyun.sample_rate = %s\n"
            "otel_aliyun.traces_endpoint = '%s'\n" % (rate, sink_url))
    conf += "".join("otel_aliyun.%s\n" % kv for kv in settings if not kv.startswith("lib="))
    return conf + extra


def variant_lib(cfg):
    """The library a configuration runs: "@lib=PATH" names another build of
    otel_aliyun.so (to compare two builds in one run), else None."""
    for kv in cfg.split("@")[1:]:
        if kv.startswith("lib="):
            return kv[4:]
    return None


def install_lib(src, libdir):
    """Put src in place as libdir/otel_aliyun.so, atomically (the cluster is
    stopped; its backends load the file the postmaster preloaded)."""
    dst = os.path.join(libdir, "otel_aliyun.so")
    tmp = dst + ".bench-tmp"
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o755)
    os.rename(tmp, dst)


def sink_get(port, path="/_stats", post=False):
    import urllib.request
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=b"" if post else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def parse_pgbench(out):
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    if not tps:
        tps = re.search(r"tps = ([0-9.]+)", out)
    ntx = re.search(r"number of transactions actually processed: (\d+)", out)
    if not tps or not ntx:
        raise SystemExit("cannot parse pgbench output:\n" + out)
    return float(tps.group(1)), int(ntx.group(1))


CACHE_EVENTS = ["Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw"]


def callgrind_counts(path):
    """The events of one callgrind output file: Ir alone, or with
    --cache-sim=yes the nine of CACHE_EVENTS, as a list."""
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b"summary:") or line.startswith(b"totals:"):
                return [int(x) for x in line.split()[1:]]
    return [0]


def callgrind_runs(args, cl, configs, sink_url, extra, work, libdir=None, installed_lib=None):
    """Instructions per transaction, which the machine's noise does not move:
    the server runs under callgrind (children traced), one client runs
    --callgrind N transactions of pgbench -S, and each process's count, less
    what it inherited from the postmaster before its fork (the smallest
    count of any child, as an auxiliary process forked at start-up and idle
    since has), is divided by N: the backend, the export worker, and all
    server processes together."""
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is needed for --callgrind (Debian package valgrind)")
    lines = ["otel_aliyun instruction counts: pgbench -S -M %s, 1 client, %d transactions, "
             "valgrind --tool=callgrind, %s" % (args.protocol, args.callgrind,
                                                datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
             "",
             "%-10s %12s %12s %12s %10s %12s" % ("config", "backend/tx", "worker/tx", "both/tx",
                                                 "both/base", "others")]
    base = None
    res = {}
    for cfg in configs:
        cl.set_variant(variant_conf(cfg, sink_url, extra))
        if libdir and cfg != "none":
            install_lib(variant_lib(cfg) or installed_lib, libdir)
        out = os.path.join(work, "cg-%s" % re.sub(r"[^A-Za-z0-9.]+", "_", cfg))
        os.makedirs(out)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(args.user)
            os.chown(out, pw.pw_uid, pw.pw_gid)
        pm = subprocess.Popen(cl.as_user + [
            "valgrind", "--tool=callgrind", "--trace-children=yes",
            "--cache-sim=%s" % ("yes" if args.cache_sim else "no"),
            "--callgrind-out-file=%s/cg.%%p" % out,
            os.path.join(args.pgbin, "postgres"), "-D", cl.data],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 120
            while cl.run([os.path.join(args.pgbin, "pg_isready"), "-q", "-h", cl.sock,
                          "-p", str(cl.port)], check=False, as_owner=False).returncode != 0:
                if time.time() > deadline or pm.poll() is not None:
                    raise SystemExit("postgres did not start under valgrind")
                time.sleep(0.5)
            pm_pid = cl.postmaster_pid()
            worker = None
            if cfg != "none":
                cl.psql("CREATE EXTENSION IF NOT EXISTS otel_aliyun")
            cl.pgbench(["-S", "-n", "-M", args.protocol, "-c", "1", "-t", str(args.callgrind)])
            if cfg != "none":
                cl.psql("SELECT otel_aliyun.flush(600000)")
        finally:
            cl.stop()
            pm.wait()
        events = {}
        for name in os.listdir(out):
            path = os.path.join(out, name)
            events[int(name.split(".")[1])] = callgrind_counts(path)
            with open(path, "rb") as f:
                # the export worker's process is the one that ran its main
                if b" otel_worker_main\n" in f.read():
                    worker = name.split(".")[1]
        counts = {p: v[0] for p, v in events.items()}
        children = [p for p in counts if p != pm_pid]
        inh_pid = min(children, key=lambda p: counts[p])
        back_pid = max(children, key=lambda p: counts[p])
        inherited = counts[inh_pid]
        backend = counts[back_pid] - inherited
        w = counts.get(int(worker), inherited) - inherited if worker else 0
        server = sum(v - inherited for p, v in counts.items() if p != pm_pid) + counts[pm_pid]
        n = args.callgrind
        both = backend + w
        res[cfg] = {"backend": backend / n, "worker": w / n, "both": both / n,
                    "others": (server - both) / n}
        if args.cache_sim:
            # misses per transaction, each process less what it inherited
            def per_tx(pid):
                return {e: (a - b) / n for e, a, b in
                        zip(CACHE_EVENTS, events[pid], events[inh_pid])}
            res[cfg]["backend_events"] = per_tx(back_pid)
            res[cfg]["worker_events"] = per_tx(int(worker)) if worker else {}
        if cfg == "none":
            base = both / n
        log("callgrind %-5s backend %.0f  worker %.0f instructions/tx" % (cfg, backend / n, w / n))
        lines.append("%-10s %12.0f %12.0f %12.0f %10s %12.0f" % (
            cfg, backend / n, w / n, both / n,
            "%.3f" % (both / n / base) if base else "-", (server - both) / n))
    if args.cache_sim:
        lines.append("")
        lines.append("simulated cache misses per transaction (valgrind --cache-sim=yes: first-level")
        lines.append("instruction and data caches of this machine's geometry; d- are differences")
        lines.append("from the configuration without the extension):")
        lines.append("%-10s %-8s %8s %8s %8s %8s %8s %8s" % (
            "config", "process", "I1mr", "D1mr", "D1mw", "dI1mr", "dD1mr", "dD1mw"))
        base_ev = res.get("none", {}).get("backend_events")
        for cfg in configs:
            for proc in ("backend", "worker"):
                ev = res[cfg].get(proc + "_events")
                if not ev:
                    continue
                ref = base_ev if proc == "backend" and base_ev else None
                lines.append("%-10s %-8s %8.0f %8.0f %8.0f %8s %8s %8s" % (
                    cfg, proc, ev["I1mr"], ev["D1mr"], ev["D1mw"],
                    *(("%+.0f" % (ev[e] - ref[e])) if ref else "-"
                      for e in ("I1mr", "D1mr", "D1mw"))))
    lines.append("")
    lines.append("instructions per transaction.  backend: the pgbench connection's process;")
    lines.append("worker: the otel_aliyun exporter; others: the postmaster and its other children")
    lines.append("(start-up and shutdown mostly, so not per transaction: spread over the run);")
    lines.append("each process counted less what it inherited from the postmaster at fork")
    text = "\n".join(lines) + "\n"
    print(text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(args.out, "callgrind-%s.txt" % stamp), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "callgrind-%s.json" % stamp), "w") as f:
        json.dump({"args": vars(args), "results": res}, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description="otel_aliyun pgbench -S overhead benchmark")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", 5)))
    ap.add_argument("--duration", type=int, default=int(os.environ.get("DURATION", 20)),
                    help="seconds per measured run (10-30 recommended)")
    ap.add_argument("--warmup", type=int, default=3, help="seconds of pgbench before each run")
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--configs", default="none,0,0.1,1",
                    help="comma list: none and/or sample rates, each optionally "
                         "followed by @name=value otel_aliyun settings")
    ap.add_argument("--protocol", default="simple", choices=["simple", "extended", "prepared"])
    ap.add_argument("--tcp", action="store_true", help="connect over 127.0.0.1 instead of a socket")
    ap.add_argument("--shared-buffers", default="256MB")
    ap.add_argument("--extra-conf", default="", help="more otel_aliyun settings (conf lines)")
    ap.add_argument("--pgbin", default="/usr/lib/postgresql/15/bin")
    ap.add_argument("--user", default="postgres", help="cluster owner when run as root")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--keep", action="store_true", help="keep the cluster directory")
    ap.add_argument("--no-bracket", dest="bracket", action="store_false",
                    help="run each configuration once per round, in rotating order, and pair it "
                         "with the round's one baseline run (instead of a baseline run before and "
                         "after every configuration)")
    ap.add_argument("--callgrind", type=int, default=0, metavar="N",
                    help="instead of timed runs: count instructions with valgrind's callgrind "
                         "over N transactions of one client, per configuration")
    ap.add_argument("--cache-sim", action="store_true",
                    help="with --callgrind: also simulate the caches and report first-level "
                         "instruction and data cache misses per transaction")
    ap.add_argument("--pool", nargs="+", metavar="RESULTS_JSON",
                    help="run nothing: pool the paired ratios of earlier runs (their "
                         "results-*.json) and give the verdict on all of them together")
    args = ap.parse_args()
    if args.pool:
        pool(args.pool)
        return

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for c in configs:
        if c != "none":
            float(c.split("@")[0])
    os.makedirs(args.out, exist_ok=True)

    work = tempfile.mkdtemp(prefix="otel_bench_")
    if os.geteuid() == 0:
        pw = pwd.getpwnam(args.user)
        os.chown(work, pw.pw_uid, pw.pw_gid)
    cl = Cluster(args, work)

    sink_port_file = os.path.join(work, "sink.port")
    sink = subprocess.Popen([os.path.join(HERE, "sink"), "--port-file", sink_port_file],
                            stdin=subprocess.DEVNULL)
    results = []
    libdir = installed_lib = None
    try:
        deadline = time.time() + 30
        while not os.path.exists(sink_port_file):
            if time.time() > deadline or sink.poll() is not None:
                raise SystemExit("sink did not start")
            time.sleep(0.05)
        with open(sink_port_file) as f:
            sink_port = int(f.read())
        sink_url = "http://127.0.0.1:%d/v1/traces" % sink_port

        log("initdb in %s, port %d" % (work, cl.port))
        cl.initdb()
        cl.set_variant(variant_conf("none", sink_url, ""))
        cl.start()
        log("pgbench -i -s %d" % args.scale)
        cl.pgbench(["-i", "-q", "-s", str(args.scale)])
        cl.psql("CREATE EXTENSION pg_prewarm")
        cl.stop()

        extra = "".join(l.strip() + "\n" for l in args.extra_conf.split(";") if l.strip())
        # builds compared in one run: keep the installed one to come back to
        if any(variant_lib(c) for c in configs):
            libdir = subprocess.run([os.path.join(args.pgbin, "pg_config"), "--pkglibdir"],
                                    capture_output=True, text=True, check=True).stdout.strip()
            installed_lib = os.path.join(work, "installed_otel_aliyun.so")
            shutil.copyfile(os.path.join(libdir, "otel_aliyun.so"), installed_lib)
        if args.callgrind:
            callgrind_runs(args, cl, configs, sink_url, extra, work, libdir, installed_lib)
            return
        bench_args = ["-S", "-n", "-M", args.protocol, "-c", str(args.clients),
                      "-j", str(args.clients)]
        ext_created = False
        for rnd, cfg in run_order(configs, args.rounds, args.bracket):
            cl.set_variant(variant_conf(cfg, sink_url, extra))
            if libdir and cfg != "none":
                install_lib(variant_lib(cfg) or installed_lib, libdir)
            cl.start()
            try:
                pm = cl.postmaster_pid()
                # the long-lived children: auxiliary processes and workers
                wait_backends_gone(cl)
                time.sleep(1)
                stable = set(children(pm))
                if cfg != "none" and not ext_created:
                    cl.psql("CREATE EXTENSION IF NOT EXISTS otel_aliyun")
                    ext_created = True
                cl.psql("SELECT pg_prewarm('pgbench_accounts'), pg_prewarm('pgbench_accounts_pkey'),"
                        " pg_prewarm('pgbench_branches'), pg_prewarm('pgbench_tellers')")
                if args.warmup > 0:
                    cl.pgbench(bench_args + ["-T", str(args.warmup)])
                if cfg != "none":
                    cl.psql("SELECT otel_aliyun.flush(60000)")
                    cl.psql("SELECT otel_aliyun.stats_reset()")
                sink_get(sink_port, "/_reset", post=True)
                wait_backends_gone(cl)
                wait_children(pm, stable)
                wpid = exporter_pid(pm)
                sink_cpu0 = proc_ticks(sink.pid)[0]
                cpu0 = server_cpu_seconds(pm)
                wcpu0 = proc_ticks(wpid)[0] if wpid else 0
                out = cl.pgbench(bench_args + ["-T", str(args.duration)]).stdout
                if cfg != "none":
                    # what the run produced is exported before the clock stops
                    flushed = cl.psql("SELECT otel_aliyun.flush(60000)")
                wait_children(pm, stable)
                cpu1 = server_cpu_seconds(pm)
                wcpu1 = proc_ticks(wpid)[0] if wpid else 0
                sink_cpu1 = proc_ticks(sink.pid)[0]
                tps, ntx = parse_pgbench(out)
                r = {"round": rnd + 1, "seq": len(results), "config": cfg, "tps": tps,
                     "transactions": ntx,
                     "cpu_s": cpu1 - cpu0,
                     "cpu_us_per_tx": (cpu1 - cpu0) / ntx * 1e6,
                     "worker_us_per_tx": (wcpu1 - wcpu0) / CLK_TCK / ntx * 1e6,
                     "sink_cpu_s": (sink_cpu1 - sink_cpu0) / CLK_TCK}
                if cfg != "none":
                    st = json.loads(cl.psql(
                        "SELECT row_to_json(s) FROM otel_aliyun.stats s WHERE signal = 'traces'"))
                    r.update({"flushed": flushed == "t",
                              "produced": st["produced"], "sampled_out": st["sampled_out"],
                              "exported": st["exported"], "dropped": st["dropped"],
                              "failed": st["failed"], "bytes_sent": st["bytes_sent"],
                              "requests": st["requests"]})
                r["sink"] = sink_get(sink_port)
                results.append(r)
                log("round %d %-5s tps %.0f  cpu %.1f us/tx%s" % (
                    rnd + 1, cfg, tps, r["cpu_us_per_tx"],
                    "" if cfg == "none" else "  produced %d exported %d dropped %d failed %d" % (
                        r["produced"], r["exported"], r["dropped"], r["failed"])))
            finally:
                cl.stop()
    finally:
        cl.stop()
        if libdir:
            install_lib(installed_lib, libdir)
        sink.send_signal(signal.SIGTERM)
        try:
            sink.wait(10)
        except subprocess.TimeoutExpired:
            sink.kill()
        if args.keep:
            log("cluster kept in %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    report(args, configs, results)


def run_order(configs, rounds, bracket):
    """(round, config) in the order they run.  Bracketed (the default, when
    there is a baseline): every other configuration runs between two
    baseline runs, so that each is compared with the machine as it was right
    around it; the order of the others rotates each round.  Otherwise each
    round runs every configuration once, in rotating order."""
    others = [c for c in configs if c != "none"]
    if not bracket or "none" not in configs or not others:
        for rnd in range(rounds):
            for cfg in configs[rnd % len(configs):] + configs[:rnd % len(configs)]:
                yield rnd, cfg
        return
    for rnd in range(rounds):
        for cfg in others[rnd % len(others):] + others[:rnd % len(others)]:
            yield rnd, "none"
            yield rnd, cfg
    yield rounds - 1, "none"


def paired_ratios(results, cfg):
    """Each run of cfg against the baseline next to it in time: the mean of
    the baseline runs just before and just after it (one of them at either
    end), else the baseline of its round.  Lists of TPS and CPU ratios."""
    base = [x for x in results if x["config"] == "none"]
    tr, cr = [], []
    for r in results:
        if r["config"] != cfg:
            continue
        before = [b for b in base if b["seq"] < r["seq"]]
        after = [b for b in base if b["seq"] > r["seq"]]
        near = ([before[-1]] if before and r["seq"] - before[-1]["seq"] == 1 else []) + \
            ([after[0]] if after and after[0]["seq"] - r["seq"] == 1 else [])
        if not near:
            near = [b for b in base if b["round"] == r["round"]][:1]
        if not near:
            continue
        tr.append(r["tps"] / statistics.mean(b["tps"] for b in near))
        cr.append(r["cpu_us_per_tx"] / statistics.mean(b["cpu_us_per_tx"] for b in near))
    return tr, cr


def pool(files):
    """The verdict over several runs: each run's configurations paired with
    their own baselines (paired_ratios), all pairs together, median and an
    approximate standard error of the median (1.25 sd / sqrt(n))."""
    ratios = {}
    for path in files:
        with open(path) as f:
            results = json.load(f)["runs"]
        for cfg in sorted({r["config"] for r in results} - {"none"}):
            tr, cr = paired_ratios(results, cfg)
            acc = ratios.setdefault(cfg, ([], []))
            acc[0].extend(tr)
            acc[1].extend(cr)
    print("pooled over %d runs: %s" % (len(files), " ".join(os.path.basename(p) for p in files)))
    print("%-24s %5s %16s %16s  %s" % ("config", "pairs", "TPS (+- se)", "CPU (+- se)",
                                       "target (TPS>=, CPU<=)"))
    for cfg, (tr, cr) in sorted(ratios.items()):
        def med_se(v):
            se = 1.25 * statistics.stdev(v) / len(v) ** 0.5 if len(v) > 1 else float("nan")
            return statistics.median(v), se
        (tm, ts), (cm, cs) = med_se(tr), med_se(cr)
        tgt = TARGETS.get(cfg)
        verdict = ""
        if tgt:
            verdict = "%.2f %.2f %s" % (tgt[0], tgt[1],
                                        "met" if tm >= tgt[0] and cm <= tgt[1] else "MISSED")
        print("%-24s %5d %8.3f +-%.3f %8.3f +-%.3f  %s" % (cfg, len(tr), tm, ts, cm, cs, verdict))


def report(args, configs, results):
    med = {}
    for cfg in configs:
        rs = [r for r in results if r["config"] == cfg]
        if not rs:
            continue
        med[cfg] = {"tps": statistics.median(r["tps"] for r in rs),
                    "cpu": statistics.median(r["cpu_us_per_tx"] for r in rs),
                    "worker": statistics.median(r.get("worker_us_per_tx", 0) for r in rs),
                    "sink": statistics.median(r["sink_cpu_s"] / r["transactions"] * 1e6 for r in rs),
                    "exported": sum(r.get("exported", 0) for r in rs),
                    "produced": sum(r.get("produced", 0) for r in rs),
                    "dropped": sum(r.get("dropped", 0) for r in rs),
                    "failed": sum(r.get("failed", 0) for r in rs),
                    "runs": len(rs)}
    base = med.get("none")
    # the same ratios taken run by run against the baseline next to it in
    # time, which cancels the machine's drift (on shared machines it moves by
    # tens of percent within minutes); median over the runs.  The verdict
    # goes by these.
    paired = {}
    for cfg in configs:
        tr, cr = paired_ratios(results, cfg)
        if tr:
            paired[cfg] = (statistics.median(tr), statistics.median(cr))
    lines = []
    lines.append("otel_aliyun benchmark: pgbench -S -M %s, scale %d, %d clients, %d rounds x %d s, "
                 "%d CPUs, %s" % (args.protocol, args.scale, args.clients, args.rounds, args.duration,
                                  os.cpu_count(), datetime.datetime.now().strftime("%Y-%m-%d %H:%M")))
    lines.append("load average at the end: %.2f %.2f %.2f (anything else running skews the figures)"
                 % os.getloadavg())
    lines.append("")
    lines.append("%-8s %10s %9s %12s %9s %13s %9s %6s %11s %11s %8s %7s  %s" % (
        "config", "TPS", "TPS/base", "CPU us/tx", "CPU/base", "paired", "worker", "sink", "produced",
        "exported", "dropped", "failed", "target (TPS>=, CPU<=)"))
    verdicts = []
    for cfg in configs:
        if cfg not in med:
            continue
        m = med[cfg]
        tr = m["tps"] / base["tps"] if base else float("nan")
        cr = m["cpu"] / base["cpu"] if base else float("nan")
        tgt = TARGETS.get(cfg)
        verdict = ""
        if tgt and base:
            ptr, pcr = paired.get(cfg, (tr, cr))
            ok = ptr >= tgt[0] and pcr <= tgt[1]
            if cfg == "1":
                ok = ok and m["dropped"] == 0 and m["failed"] == 0 and m["exported"] == m["produced"]
            verdict = "%.2f %.2f %s" % (tgt[0], tgt[1], "met" if ok else "MISSED")
            verdicts.append(ok)
        name = "absent" if cfg == "none" else "rate " + cfg
        pr = "%.3f %.3f" % paired[cfg] if cfg in paired else "-"
        lines.append("%-8s %10.0f %9.3f %12.2f %9.3f %13s %9.2f %6.2f %11s %11s %8s %7s  %s" % (
            name, m["tps"], tr, m["cpu"], cr, pr, m["worker"], m["sink"],
            "-" if cfg == "none" else m["produced"], "-" if cfg == "none" else m["exported"],
            "-" if cfg == "none" else m["dropped"], "-" if cfg == "none" else m["failed"], verdict))
    lines.append("")
    lines.append("paired: TPS/base and CPU/base of each run against the baseline runs just before and")
    lines.append("after it, median over the runs (the verdict goes by these); TPS/base and CPU/base:")
    lines.append("medians over all runs; CPU us/tx counts the postmaster and all its children, worker is")
    lines.append("the exporter's share of it, sink the local receiver's CPU us/tx (not server CPU,")
    lines.append("but it shares the machine); produced/exported/dropped/failed are spans summed over runs")
    lines.append("per run:")
    for r in results:
        lines.append("  round %d %-5s tps %9.1f  cpu %8.2f us/tx  worker %5.2f us/tx  (server %.2f s, sink %.2f s)%s" % (
            r["round"], r["config"], r["tps"], r["cpu_us_per_tx"], r.get("worker_us_per_tx", 0),
            r["cpu_s"], r["sink_cpu_s"],
            "" if r["config"] == "none" else
            "  exported %d/%d (%.0f spans/s) dropped %d, %d requests, %d bytes" % (
                r["exported"], r["produced"], r["exported"] / args.duration, r["dropped"],
                r["requests"], r["bytes_sent"])))
    text = "\n".join(lines) + "\n"
    sys.stdout.write("\n" + text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(args.out, "results-%s.txt" % stamp), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "results-%s.json" % stamp), "w") as f:
        json.dump({"args": vars(args), "runs": results, "medians": med, "paired": paired}, f, indent=1)
    log("results written to %s/results-%s.{txt,json}" % (args.out, stamp))


if __name__ == "__main__":
    main()
