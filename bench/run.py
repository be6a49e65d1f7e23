#!/usr/bin/env python3
"""
Run the same XMPP load against OpenMessenger and Prosody, one after the
other with fresh processes, and print the figures of each and their ratios.

    .venv/bin/python bench/run.py                 # goal scale: 10,000 sessions
    .venv/bin/python bench/run.py --quick         # 500 sessions, seconds
    .venv/bin/python bench/run.py --help

Each server runs pinned to one CPU (taskset), the load generator (this
process) to another.  See bench/README.md for what each number means.
"""

import argparse
import asyncio
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import servers  # noqa: E402
from load import Load  # noqa: E402


def parseArguments(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", default="openmessenger,prosody",
                   help="comma-separated, run in this order (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="small run: 500 sessions, 20 pairs, 3 s phases (unless given)")
    p.add_argument("--sessions", type=int, help="concurrent sessions to log in (default 10000; quick 500)")
    p.add_argument("--pairs", type=int, help="pairs of sessions exchanging messages (default 50; quick 20)")
    p.add_argument("--window", type=int, default=5,
                   help="messages each session keeps in flight when saturating (default %(default)s)")
    p.add_argument("--duration", type=float, help="seconds per message phase (default 10; quick 3)")
    p.add_argument("--rate", type=float,
                   help="messages/s of the fixed-rate latency phase, 0 skips it (default 1000; quick 500)")
    p.add_argument("--address", default="bare,full",
                   help="message addressing to measure: bare, full or both (default %(default)s)")
    p.add_argument("--tls", action="store_true",
                   help="STARTTLS on every session (both servers require it then)")
    p.add_argument("--login-concurrency", type=int, default=50,
                   help="logins in progress at once (default %(default)s)")
    p.add_argument("--idle", type=float, help="seconds to sit idle before reading RSS (default 5; quick 2)")
    p.add_argument("--port", type=int, default=15222, help="c2s port of the servers (default %(default)s)")
    p.add_argument("--prosody-log", default="warn", help="Prosody's log level (default %(default)s)")
    p.add_argument("--repeat", type=int, default=1,
                   help="measure each server this many times, alternating the order; the table "
                        "shows the best value of each figure (default %(default)s)")
    p.add_argument("--settle", type=float,
                   help="before each server, wait up to this many seconds for the machine to be "
                        "quiet (other processes under 15%% of a CPU) (default 60; quick 5)")
    addMachineOptions(p, "run", "the message phases")
    args = p.parse_args(argv)
    quick = args.quick
    for name, full, small in [
        ("sessions", 10000, 500), ("pairs", 50, 20), ("duration", 10.0, 3.0),
        ("rate", 1000.0, 500.0), ("idle", 5.0, 2.0), ("settle", 60.0, 5.0),
    ]:
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    for name in args.servers:
        if name not in servers.SERVERS:
            p.error(f"unknown server {name!r}; known: {', '.join(servers.SERVERS)}")
    args.address = [a.strip() for a in args.address.split(",") if a.strip()]
    for a in args.address:
        if a not in ("bare", "full"):
            p.error("--address takes bare, full or bare,full")
    if not 1024 <= args.port < 32767:
        p.error("--port must be within 1024..32766 (below the ephemeral range)")
    if args.sessions < 2 * args.pairs:
        p.error("--sessions must be at least twice --pairs")
    return args


def addMachineOptions(parser, name, profiled):
    """
    The options every benchmark has: CPUs, results, temporary files and
    profiling (C{profiled}: when samples are taken).
    """
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU the server is pinned to (default %(default)s)")
    parser.add_argument("--load-cpu", type=int, default=1,
                        help="CPU the load generator (this process) is pinned to (default %(default)s)")
    parser.add_argument("--json", help=f"also write all figures to this file (e.g. bench/results/{name}.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (logs, data)")
    parser.add_argument("--profile", metavar="DIR",
                        help=f"sample OpenMessenger with py-spy during {profiled} and write collapsed "
                             "stacks to DIR (py-spy on PATH or in --py-spy)")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy", help="the py-spy program")


class Meter:
    """
    CPU of the server and of this process, the server's RSS, other load on
    the machine and time kept from a CPU, between two points in time.
    """

    def __init__(self, pid):
        self.pid = pid

    def read(self):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "wall": time.perf_counter(),
            "server_cpu": servers.cpuSeconds(self.pid),
            "server_main_cpu": servers.cpuSeconds(self.pid, mainThreadOnly=True),
            "load_cpu": usage.ru_utime + usage.ru_stime,
            "rss_kib": servers.rssKiB(self.pid),
            "machine_cpu": servers.machineBusySeconds(),
            "server_wait": servers.runQueueWaitSeconds(self.pid),
            "load_wait": servers.runQueueWaitSeconds(os.getpid()),
        }

    @staticmethod
    def delta(before, after):
        wall = after["wall"] - before["wall"]
        server = after["server_cpu"] - before["server_cpu"]
        serverMain = after["server_main_cpu"] - before["server_main_cpu"]
        load = after["load_cpu"] - before["load_cpu"]
        # Whatever else ran on the machine meanwhile (it should be ~0: other
        # work on these two CPUs makes the figures unreliable).
        other = after["machine_cpu"] - before["machine_cpu"] - server - load
        pct = lambda x: 100 * x / wall if wall else 0.0  # noqa: E731
        return {
            "seconds": wall,
            "server_cpu_s": server,
            "server_cpu_pct": pct(server),
            # The main (reactor) thread; the rest is the database's threads.
            "server_main_cpu_pct": pct(serverMain),
            "load_cpu_s": load,
            "load_cpu_pct": pct(load),
            "other_cpu_pct": max(0.0, pct(other)),
            # Time the server and the generator were ready to run but
            # another process had their CPU.  The server's main thread also
            # waits while its own database threads (same CPU) run: only the
            # rest counts.
            "server_wait_pct": pct(max(0.0, after["server_wait"] - before["server_wait"] - (server - serverMain))),
            "load_wait_pct": pct(after["load_wait"] - before["load_wait"]),
            "rss_kib": after["rss_kib"],
        }


async def measure(args, server, log):
    """
    All phases against one running server; returns the figures.
    """
    meter = Meter(server.pid)
    load = Load("127.0.0.1", server.port, lambda: servers.cpuSeconds(server.pid), tls=args.tls)
    results = {"version": server.version()}
    phases = results["phases"] = {}
    await asyncio.sleep(1.0)
    start = meter.read()
    results["rss_start_kib"] = start["rss_kib"]

    def record(name, figures, before):
        after = meter.read()
        figures.update(Meter.delta(before, after))
        phases[name] = figures
        log(f"  {name}: " + summarise(name, figures))
        return after

    try:
        before = meter.read()
        with Profiler(args, server, "login", log):
            figures = await load.loginAll(args.sessions, args.login_concurrency,
                                          timeout=max(120, args.sessions / 10))
        before = record("login", figures, before)
        if figures["failed"]:
            log(f"    login failures, first ones: {figures['failures']}")

        await asyncio.sleep(args.idle)
        idle = {"sessions": len(load.sessions), "seconds": args.idle}
        before = record("idle", idle, before)
        sessions = max(1, len(load.sessions))
        idle["rss_per_session_kib"] = (idle["rss_kib"] - start["rss_kib"]) / sessions
        log(f"    RSS {start['rss_kib'] / 1024:.1f} MiB at start, {idle['rss_kib'] / 1024:.1f} MiB "
            f"with {len(load.sessions)} sessions: {idle['rss_per_session_kib']:.1f} KiB per session")

        if len(load.sessions) < 2 * args.pairs:
            raise RuntimeError(f"only {len(load.sessions)} sessions logged in; "
                               f"{args.pairs} pairs need {2 * args.pairs}")
        for address in args.address:
            with Profiler(args, server, f"saturate_{address}", log):
                figures = await load.saturate(args.pairs, args.window, args.duration, address)
            before = record(f"saturate_{address}", figures, before)
        if args.rate > 0:
            with Profiler(args, server, f"rate_{args.address[0]}", log):
                figures = await load.fixedRate(args.pairs, args.rate, args.duration, args.address[0])
            before = record(f"rate_{args.address[0]}", figures, before)

        results["dropped_sessions"] = load.dropped
        results["stream_errors"] = load.streamErrors
        results["server_pings_answered"] = load.pingsAnswered
        log(f"    sessions dropped by the server: {load.dropped}, stream errors: "
            f"{load.streamErrors}, server pings answered: {load.pingsAnswered}")
        with Profiler(args, server, "logout", log):
            figures = await load.logoutAll(timeout=max(30, args.sessions / 100))
            # Work the server does after the connections are gone (writing
            # last activity, say) belongs to the logout too: wait until it
            # is idle.
            figures["settle_seconds"] = await settle(server.pid, limit=60)
        before = record("logout", figures, before)
    finally:
        load.abortAll()
    end = meter.read()
    results["server_cpu_total_s"] = end["server_cpu"] - start["server_cpu"]
    results["load_cpu_total_s"] = end["load_cpu"] - start["load_cpu"]
    results["other_cpu_max_pct"] = max(p["other_cpu_pct"] for p in phases.values())
    results["wait_max_pct"] = max(max(p["server_wait_pct"], p["load_wait_pct"]) for p in phases.values())
    if results["wait_max_pct"] > 5:
        log(f"    WARNING: other processes kept the server or the generator from its CPU up to "
            f"{results['wait_max_pct']:.0f}% of a phase; these figures are disturbed")
    results["errors"] = load.errors
    if load.errors:
        log(f"    errors seen: {load.errors}")
    return results


class Profiler:
    """
    With --profile, py-spy samples the (Python) server during one phase,
    itself pinned to the generator's CPU.
    """

    def __init__(self, args, server, phase, log):
        self.command = None
        if args.profile and server.name == "openmessenger":
            os.makedirs(args.profile, exist_ok=True)
            self.output = os.path.join(args.profile, f"{server.name}-{phase}.txt")
            self.command = [
                "taskset", "-c", str(args.load_cpu), args.py_spy, "record",
                "--pid", str(server.pid),
                "--rate", "200", "--nonblocking", "--format", "raw", "--output", self.output,
            ]
        self.log = log
        self.process = None

    def __enter__(self):
        if self.command:
            self.process = subprocess.Popen(
                self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def __exit__(self, *exc):
        if self.process is not None:
            # py-spy writes its file when interrupted.
            try:
                os.killpg(self.process.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
            self.log(f"    profile: {self.output}")


async def settle(pid, limit):
    """
    Wait until the server has used no CPU for a second (at most C{limit}
    seconds); return how long that took.
    """
    started = time.perf_counter()
    last = servers.cpuSeconds(pid)
    quiet = 0
    while time.perf_counter() - started < limit and quiet < 2:
        await asyncio.sleep(0.5)
        now = servers.cpuSeconds(pid)
        quiet = quiet + 1 if now - last < 0.02 else 0
        last = now
    return time.perf_counter() - started


def summarise(name, f):
    cpu = (f"server {f['server_cpu_s']:.2f} CPU s ({f['server_cpu_pct']:.0f}%), "
           f"generator {f['load_cpu_pct']:.0f}%, other {f['other_cpu_pct']:.0f}%; "
           f"waiting for a CPU: server {f['server_wait_pct']:.0f}%, generator {f['load_wait_pct']:.0f}%")
    if name == "login":
        return (f"{f['logins']} sessions in {f['seconds']:.1f} s = {f['per_second']:.0f} logins/s, "
                f"{f['per_server_cpu_second']:.0f} per server CPU s "
                f"(p50 {f['login_p50_ms']:.1f} ms, p99 {f['login_p99_ms']:.1f} ms, {f['failed']} failed); {cpu}")
    if name == "idle":
        return f"{f['sessions']} idle for {f['seconds']:.0f} s; {cpu}"
    if name.startswith(("saturate", "rate")):
        return (f"{f['per_second']:.0f} msgs/s ({f['per_server_cpu_second']:.0f} per server CPU s), latency p50 {f['p50_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms, "
                f"{f['errors']} errors, {f['lost']} lost; {cpu}")
    if name == "logout":
        return (f"{f['closed']} closed in {f['seconds']:.1f} s "
                f"({f['open_after_timeout']} still open at the timeout), server idle again "
                f"{f['settle_seconds']:.1f} s later; {cpu}")
    return str(f)


# name, phase, key, label, unit, better
ROWS = [
    ("login", "per_second", "logins per second", "/s", "higher"),
    ("login", "per_server_cpu_second", "logins per server CPU second", "", "higher"),
    ("login", "login_p99_ms", "login latency p99", "ms", "lower"),
    ("login", "server_cpu_s", "server CPU for all logins", "s", "lower"),
    ("idle", "sessions", "concurrent idle sessions", "", "higher"),
    ("idle", "rss_per_session_kib", "RSS per idle session", "KiB", "lower"),
    ("idle", "rss_kib", "server RSS with all sessions", "KiB", "lower"),
    ("idle", "server_cpu_pct", "server CPU while idle", "%", "lower"),
    ("saturate_bare", "per_second", "msgs/s saturated, to bare JID", "/s", "higher"),
    ("saturate_bare", "per_server_cpu_second", "  msgs per server CPU second", "", "higher"),
    ("saturate_bare", "p50_ms", "  latency p50", "ms", "lower"),
    ("saturate_bare", "p99_ms", "  latency p99", "ms", "lower"),
    ("saturate_bare", "server_cpu_pct", "  server CPU", "%", "lower"),
    ("saturate_bare", "load_cpu_pct", "  generator CPU", "%", "-"),
    ("saturate_full", "per_second", "msgs/s saturated, to full JID", "/s", "higher"),
    ("saturate_full", "per_server_cpu_second", "  msgs per server CPU second", "", "higher"),
    ("saturate_full", "p50_ms", "  latency p50", "ms", "lower"),
    ("saturate_full", "p99_ms", "  latency p99", "ms", "lower"),
    ("saturate_full", "server_cpu_pct", "  server CPU", "%", "lower"),
    ("saturate_full", "load_cpu_pct", "  generator CPU", "%", "-"),
    ("rate_bare", "per_second", "msgs/s at fixed rate", "/s", "higher"),
    ("rate_bare", "p50_ms", "  latency p50", "ms", "lower"),
    ("rate_bare", "p99_ms", "  latency p99", "ms", "lower"),
    ("rate_bare", "server_cpu_pct", "  server CPU", "%", "lower"),
    ("rate_bare", "per_server_cpu_second", "  msgs per server CPU second", "", "higher"),
    ("rate_full", "per_second", "msgs/s at fixed rate", "/s", "higher"),
    ("rate_full", "p50_ms", "  latency p50", "ms", "lower"),
    ("rate_full", "p99_ms", "  latency p99", "ms", "lower"),
    ("rate_full", "server_cpu_pct", "  server CPU", "%", "lower"),
    ("rate_full", "per_server_cpu_second", "  msgs per server CPU second", "", "higher"),
    ("logout", "seconds", "logout of all sessions", "s", "lower"),
    ("logout", "server_cpu_s", "  server CPU, incl. work after it", "s", "lower"),
    (None, "server_cpu_total_s", "server CPU, whole run", "s", "lower"),
    (None, "load_cpu_total_s", "generator CPU, whole run", "s", "-"),
    (None, "other_cpu_max_pct", "other processes' CPU, worst phase", "%", "-"),
    (None, "wait_max_pct", "time kept from its CPU, worst phase", "%", "-"),
]


def value(result, phase, key):
    if phase is None:
        return result.get(key)
    return result["phases"].get(phase, {}).get(key)


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, int) or abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def table(results, names):
    """
    The figures side by side, with the ratio of the first server to the
    second (and whether that ratio is the good direction).
    """
    lines = []
    header = f"{'':36}" + "".join(f"{n:>16}" for n in names)
    if len(names) == 2:
        header += f"{names[0][:4] + '/' + names[1][:4]:>12}"
    lines.append(header)
    for phase, key, label, unit, better in ROWS:
        values = [value(results[n], phase, key) for n in names]
        if all(v is None for v in values):
            continue
        line = f"{label + (' (' + unit + ')' if unit else ''):36}" + "".join(f"{fmt(v):>16}" for v in values)
        if len(names) == 2 and None not in values and values[1]:
            ratio = values[0] / values[1]
            line += f"{ratio:>11.2f}x"
            if better != "-":
                line += f"  ({better} is better)"
        lines.append(line)
    return "\n".join(lines)


def waitQuiet(limit, log):
    """
    Wait until the machine is quiet, at most C{limit} seconds: other work on
    these CPUs would be measured as the servers' slowness.
    """
    started = time.monotonic()
    while True:
        before = servers.machineBusySeconds()
        time.sleep(2)
        busy = (servers.machineBusySeconds() - before) / 2
        waited = time.monotonic() - started
        if busy < 0.15:
            if waited > 3:
                log(f"  waited {waited:.0f} s for other processes to finish")
            return busy
        if waited >= limit:
            log(f"  WARNING: the machine is still busy ({100 * busy:.0f}% of a CPU) "
                f"after {waited:.0f} s; measuring anyway")
            return busy


# The figure that decides which run's phase is shown (best of --repeat).
PRIMARY = {
    "login": ("per_second", max),
    "idle": ("rss_per_session_kib", min),
    "saturate_bare": ("per_server_cpu_second", max),
    "saturate_full": ("per_server_cpu_second", max),
    "rate_bare": ("p99_ms", min),
    "rate_full": ("p99_ms", min),
    "logout": ("seconds", min),
}


def best(runs):
    """
    One result from several runs of a server: for each phase, the run in
    which that phase went best (interference from other processes only ever
    makes a phase worse), with all of that phase's figures.
    """
    if len(runs) == 1:
        return runs[0]
    result = json.loads(json.dumps(runs[0]))
    for phase, (key, choose) in PRIMARY.items():
        candidates = [r["phases"][phase] for r in runs if phase in r["phases"]]
        if candidates:
            result["phases"][phase] = choose(candidates, key=lambda f: f[key])
    for key in ("server_cpu_total_s", "load_cpu_total_s"):
        result[key] = min(r[key] for r in runs)
    result["other_cpu_max_pct"] = max(r["other_cpu_max_pct"] for r in runs)
    result["wait_max_pct"] = max(r["wait_max_pct"] for r in runs)
    result["runs"] = len(runs)
    return result


#: The Debian package of each program a benchmark needs.
PACKAGES = {"taskset": "util-linux", "wrk": "wrk"}


def prepareMachine(args, programs=("taskset",)):
    """
    Check the programs and the two CPUs, pin this process (the load) to
    C{--load-cpu}, and let SIGTERM and SIGHUP end the run like Ctrl-C does,
    through the finally blocks that stop the servers.
    """
    for program in programs:
        if shutil.which(program) is None:
            raise SystemExit(f"{program} is needed (apt-get install {PACKAGES[program]})")
    cpus = os.sched_getaffinity(0)
    if args.server_cpu not in cpus or args.load_cpu not in cpus or args.server_cpu == args.load_cpu:
        raise SystemExit(f"--server-cpu and --load-cpu must be two different CPUs of {sorted(cpus)}")
    os.sched_setaffinity(0, {args.load_cpu})

    def interrupted(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)


def raiseFileLimit():
    """
    Raise the soft limit of open files to the hard one; return that.
    """
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} x {model}, {memory:.0f} GiB RAM, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def main(argv=None):
    args = parseArguments(argv)
    log = lambda text: print(text, flush=True)

    hard = raiseFileLimit()
    if args.sessions + 100 > hard:
        raise SystemExit(f"{args.sessions} sessions need more than the file descriptor limit {hard}")
    prepareMachine(args)

    when = datetime.datetime.now(datetime.timezone.utc)
    log(f"XMPP benchmark {when:%Y-%m-%d %H:%M} UTC on {machine()}")
    log(f"{args.sessions} sessions (logins {args.login_concurrency} at a time), {args.pairs} pairs, "
        f"window {args.window}, {args.duration:g} s per message phase, fixed rate {args.rate:g}/s, "
        f"{'STARTTLS' if args.tls else 'no TLS'}; "
        f"server on CPU {args.server_cpu}, generator on CPU {args.load_cpu}; "
        f"file descriptor limit {hard}")

    runs = {name: [] for name in args.servers}
    failed = {}
    order = []
    for r in range(args.repeat):
        order += args.servers if r % 2 == 0 else list(reversed(args.servers))
    for name in order:
        waitQuiet(args.settle, log)
        workdir = tempfile.mkdtemp(prefix=f"bench-{name}-")
        kwargs = {"loglevel": args.prosody_log} if name == "prosody" else {}
        server = servers.SERVERS[name](
            workdir, args.port, args.server_cpu, args.sessions, tls=args.tls, **kwargs
        )
        try:
            log(f"\n{name}: creating {args.sessions} accounts in {workdir}")
            t = time.perf_counter()
            server.prepare()
            log(f"  accounts ready in {time.perf_counter() - t:.1f} s; starting the server")
            server.start()
            log(f"  {server.version()} running as pid {server.pid}")
            try:
                result = asyncio.run(measure(args, server, log))
            except (RuntimeError, OSError) as e:
                log(f"  {name}: measurement failed: {e}; see {server.logfile}")
                failed[name] = str(e)
                continue
            result["server_alive_at_end"] = server.alive()
            runs[name].append(result)
            if not server.alive():
                log(f"  {name} died during the run; see {server.logfile}")
        finally:
            server.stop()
            problems = servers.wildcardListeners(5222)
            if problems:
                log(f"  WARNING: something listens on port 5222 on all interfaces: {problems}")
            if args.keep:
                log(f"  kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        time.sleep(1)

    results = {name: best(runs[name]) for name in args.servers if runs[name]}
    names = [n for n in args.servers if n in results]
    log("\n" + table(results, names))
    for name, error in failed.items():
        log(f"{name} failed at least once: {error}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"date": when.isoformat(), "machine": machine(), "arguments": vars(args),
                       "results": results, "runs": runs}, f, indent=2)
        log(f"\nfigures written to {args.json}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as e:
        raise SystemExit(f"interrupted ({e}); servers stopped")
