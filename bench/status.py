#!/usr/bin/env python3
"""
HTTP load (wrk) on the status button of a supporter who is online:
OpenMessenger's PNG endpoint, Prosody's mod_webpresence and nginx serving
the same PNG as a static file, one after the other with fresh processes,
and the figures of each side by side with their ratios.

    .venv/bin/python bench/status.py              # 10 s per target, ~2 minutes
    .venv/bin/python bench/status.py --quick      # 3 s per target
    .venv/bin/python bench/status.py --help

Each server runs pinned to one CPU (taskset), wrk to another.  See
bench/README.md for what each number means.
"""

import argparse
import asyncio
import datetime
import http.client
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import servers  # noqa: E402
from load import Load  # noqa: E402
from run import Profiler, addMachineOptions, machine, prepareMachine, waitQuiet  # noqa: E402

WEBPRESENCE = "/usr/lib/prosody/modules/mod_webpresence"

# name: (server, revalidate with If-None-Match)
TARGETS = {
    "openmessenger": ("openmessenger", False),
    "openmessenger-304": ("openmessenger", True),
    "prosody": ("prosody", False),
    "nginx": ("nginx", False),
    "nginx-304": ("nginx", True),
}

# wrk's own summary in a form that needs no parsing of its report: counts,
# and latency percentiles in microseconds.
WRK_SCRIPT = """\
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH %d %d %d %d %d %d %d %d %d %d %d %d %.1f\\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""
WRK_FIELDS = ("requests", "duration_us", "bytes", "err_connect", "err_read", "err_write",
              "err_status", "err_timeout", "p50_us", "p90_us", "p99_us", "max_us", "mean_us")


def parseArguments(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", default=",".join(TARGETS),
                   help="comma-separated, run in this order (default: %(default)s); "
                        "the -304 ones send If-None-Match with the answer's ETag")
    p.add_argument("--quick", action="store_true", help="3 s per target (unless --duration)")
    p.add_argument("--duration", type=float, help="seconds wrk measures per target (default 10; quick 3)")
    p.add_argument("--warmup", type=float, default=2.0,
                   help="seconds of wrk before the measured run, not counted (default %(default)s)")
    p.add_argument("--connections", type=int, default=50,
                   help="wrk's open keep-alive connections (default %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="wrk's threads (default %(default)s)")
    p.add_argument("--port", type=int, default=15222, help="XMPP port of the servers (default %(default)s)")
    p.add_argument("--http-port", type=int, default=15280, help="HTTP port of the servers (default %(default)s)")
    p.add_argument("--prosody-log", default="warn", help="Prosody's log level (default %(default)s)")
    p.add_argument("--repeat", type=int, default=1,
                   help="measure each target this many times, alternating the order; the table "
                        "shows the run with the most requests/s (default %(default)s)")
    p.add_argument("--settle", type=float,
                   help="before each target, wait up to this many seconds for the machine to be "
                        "quiet (default 60; quick 5)")
    addMachineOptions(p, "status", "the measured run")
    args = p.parse_args(argv)
    if args.duration is None:
        args.duration = 3.0 if args.quick else 10.0
    if args.settle is None:
        args.settle = 5.0 if args.quick else 60.0
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for name in args.targets:
        if name not in TARGETS:
            p.error(f"unknown target {name!r}; known: {', '.join(TARGETS)}")
    for port in (args.port, args.http_port):
        if not 1024 <= port < 32767:
            p.error("ports must be within 1024..32766 (below the ephemeral range)")
    if args.port == args.http_port:
        p.error("--port and --http-port must differ")
    return args


def ourOnlinePNG():
    """
    The bytes OpenMessenger answers for an online supporter with the
    default icon set, English, scale 1.
    """
    from openmessenger import buttons
    from openmessenger.web.status import DEFAULT_ICONSET

    name = buttons.fileName(DEFAULT_ICONSET, "online", "en", "png", 1)
    with open(os.path.join(buttons.PICTURES, name), "rb") as f:
        return f.read()


def fetch(port, path, headers=None):
    """
    One GET on 127.0.0.1: status, headers (lower-case names), body.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def waitListening(port, server, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if servers.listening(port):
            return
        if not server.alive():
            raise RuntimeError(f"{server.name} exited; see {server.logfile}")
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not listen on HTTP port {port} in {timeout} s")


class Target:
    """
    One target: its server (prepared, not started), the URL path to load,
    and the body an online supporter's answer must have.
    """

    def __init__(self, name, args, workdir):
        self.name = name
        self.kind, self.revalidate = TARGETS[name]
        self.httpPort = args.http_port
        from openmessenger.directory import defaultCompanyId

        company = defaultCompanyId(servers.DOMAIN)
        if self.kind == "openmessenger":
            self.server = servers.OpenMessenger(workdir, args.port, args.server_cpu, 1,
                                                http_port=args.http_port)
            self.expected = ourOnlinePNG()
        elif self.kind == "prosody":
            self.server = servers.Prosody(workdir, args.port, args.server_cpu, 1,
                                          loglevel=args.prosody_log, http_port=args.http_port)
            # mod_webpresence: /status/<jid>[/image]; with a bare user name
            # the host would be taken from the Host header (127.0.0.1 here).
            self.path = f"/status/{servers.username(1)}@{servers.DOMAIN}"
            with open(os.path.join(WEBPRESENCE, "icons", "status_online.png"), "rb") as f:
                self.expected = f.read()
        else:
            self.server = servers.Nginx(workdir, args.http_port, args.server_cpu, 0)
            self.expected = ourOnlinePNG()
            self.path = f"/status/{company}/{servers.username(1)}.png"
        self.xmpp = self.kind != "nginx"

    def prepare(self):
        if self.kind == "openmessenger":
            self.server.prepare()
            company, slug = self.server.addSupporter(1)
            self.path = f"/status/{company}/{slug}.png"
        elif self.kind == "prosody":
            if not os.path.exists(os.path.join(WEBPRESENCE, "mod_webpresence.lua")):
                raise RuntimeError("mod_webpresence is not installed (apt-get install prosody-modules)")
            self.server.prepare()
        else:
            self.server.prepare(self.path, self.expected)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpPort}{self.path}"


async def runWrk(args, target, duration, headers):
    """
    Run wrk pinned to the load CPU; its figures (see WRK_FIELDS).
    """
    command = [
        "taskset", "-c", str(args.load_cpu), "wrk",
        "-t", str(args.threads), "-c", str(args.connections), "-d", f"{duration:g}s",
        "--timeout", "5s", "-s", args.wrkScript,
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(target.url)
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), duration + 30)
    except asyncio.TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise RuntimeError("wrk did not finish")
    text = out.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("BENCH "):
            values = [float(v) for v in line.split()[1:]]
            figures = dict(zip(WRK_FIELDS, values))
            figures["report"] = text
            return figures
    raise RuntimeError(f"wrk gave no figures (exit {process.returncode}): {text[-500:]}")


def check(target, headers=None, status=200):
    """
    The answer is the online picture (or a 304 for it); returns its headers.
    """
    got, responseHeaders, body = fetch(target.httpPort, target.path, headers)
    if got != status:
        raise RuntimeError(f"{target.url}: status {got}, expected {status}")
    if status == 200 and body != target.expected:
        raise RuntimeError(f"{target.url}: {len(body)} bytes that are not the online picture "
                           f"({len(target.expected)} bytes)")
    return responseHeaders


async def measure(args, target, log):
    server = target.server
    result = {"version": server.version(), "url": target.url}
    load = None
    try:
        if target.xmpp:
            # Before the supporter is online, the answer must be another
            # picture, or the check below would prove nothing.
            status, _, body = fetch(target.httpPort, target.path)
            if status != 200 or body == target.expected:
                raise RuntimeError(f"{target.url} answers {status} with the online picture "
                                   f"before anyone logged in")
            load = Load("127.0.0.1", server.port, lambda: servers.cpuSeconds(server.pid))
            login = await load.loginAll(1, 1, timeout=60)
            if not load.sessions:
                raise RuntimeError(f"the supporter could not log in: {login['failures']}")
            # Available presence went with the login; wait until the button
            # shows it.
            deadline = time.monotonic() + 10
            while True:
                status, _, body = fetch(target.httpPort, target.path)
                if status == 200 and body == target.expected:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{target.url} does not show the supporter online")
                await asyncio.sleep(0.1)
        responseHeaders = check(target)
        result["response_headers"] = responseHeaders
        result["body_bytes"] = len(target.expected)
        headers = {}
        expectStatus = 200
        if target.revalidate:
            etag = responseHeaders.get("etag")
            if not etag:
                raise RuntimeError(f"{target.url} sends no ETag")
            headers = {"If-None-Match": etag}
            expectStatus = 304
            check(target, headers, 304)
        if args.warmup > 0:
            await runWrk(args, target, args.warmup, headers)
        pid = server.pid
        before = {
            "wall": time.perf_counter(),
            "server_cpu": servers.groupCpuSeconds(pid),
            "machine_cpu": servers.machineBusySeconds(),
            "server_wait": servers.groupRunQueueWaitSeconds(pid),
            "load_cpu": sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]),
            "rss_kib": servers.rssKiB(pid),
        }
        with Profiler(args, server, target.name, log):
            figures = await runWrk(args, target, args.duration, headers)
        wall = time.perf_counter() - before["wall"]
        server_cpu = servers.groupCpuSeconds(pid) - before["server_cpu"]
        load_cpu = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]) - before["load_cpu"]
        other = servers.machineBusySeconds() - before["machine_cpu"] - server_cpu - load_cpu
        seconds = figures["duration_us"] / 1e6
        errors = sum(figures[k] for k in WRK_FIELDS if k.startswith("err_"))
        if not figures["requests"]:
            raise RuntimeError(f"{target.url}: wrk completed no request in {args.duration:g} s "
                               f"({errors:.0f} errors)")
        result.update({
            "status": expectStatus,
            "requests": int(figures["requests"]),
            "seconds": seconds,
            "per_second": figures["requests"] / seconds,
            "per_server_cpu_second": figures["requests"] / server_cpu if server_cpu else 0.0,
            "p50_ms": figures["p50_us"] / 1000,
            "p90_ms": figures["p90_us"] / 1000,
            "p99_ms": figures["p99_us"] / 1000,
            "max_ms": figures["max_us"] / 1000,
            "mean_ms": figures["mean_us"] / 1000,
            "errors": int(errors),
            "error_detail": {k: int(figures[k]) for k in WRK_FIELDS if k.startswith("err_")},
            "bytes_per_response": figures["bytes"] / figures["requests"] if figures["requests"] else 0,
            "server_cpu_s": server_cpu,
            "server_cpu_pct": 100 * server_cpu / wall,
            "load_cpu_pct": 100 * load_cpu / wall,
            "other_cpu_pct": max(0.0, 100 * other / wall),
            "server_wait_pct": 100 * (servers.groupRunQueueWaitSeconds(pid) - before["server_wait"]) / wall,
            "rss_kib": servers.rssKiB(pid),
            "wrk_report": figures["report"],
        })
        # Still the online answer after the load (the supporter's session
        # lasted), and the server still there.
        check(target, headers, expectStatus)
        if load is not None:
            result["supporter_dropped"] = load.dropped
            result["server_pings_answered"] = load.pingsAnswered
            if load.dropped:
                raise RuntimeError("the supporter's session was dropped during the run")
            await load.logoutAll(timeout=10)
    finally:
        if load is not None:
            load.abortAll()
    log(f"  {result['per_second']:,.0f} requests/s ({result['status']}), "
        f"{result['per_server_cpu_second']:,.0f} per server CPU s; latency p50 "
        f"{result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, max {result['max_ms']:.1f} ms; "
        f"{result['errors']} errors, {result['bytes_per_response']:.0f} bytes/response; "
        f"server {result['server_cpu_pct']:.0f}% CPU, wrk {result['load_cpu_pct']:.0f}%, "
        f"other {result['other_cpu_pct']:.0f}%; server waiting for a CPU {result['server_wait_pct']:.0f}%")
    if result["server_wait_pct"] > 5:
        log("    WARNING: other processes kept the server from its CPU; these figures are disturbed")
    elif result["other_cpu_pct"] > 30:
        log("    WARNING: other processes were busy meanwhile; wall-clock figures may be disturbed")
    return result


def reference(results, name, kind):
    """
    The name of the result to compare C{name} with: Prosody, or nginx for
    the same status (200 or 304).
    """
    if kind == "prosody":
        return "prosody" if "prosody" in results else None
    wanted = "nginx-304" if TARGETS[name][1] else "nginx"
    if wanted in results:
        return wanted
    return "nginx" if "nginx" in results else None


def table(results, names):
    lines = [
        f"{'':20}{'status':>7}{'requests/s':>12}{'per CPU s':>11}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'errors':>8}{'server':>8}{'wrk':>6}{'/ Prosody':>11}{'/ nginx':>9}"
    ]
    for name in names:
        r = results[name]
        row = (f"{name:20}{r['status']:>7}{r['per_second']:>12,.0f}{r['per_server_cpu_second']:>11,.0f}"
               f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['max_ms']:>9.1f}{r['errors']:>8}"
               f"{r['server_cpu_pct']:>7.0f}%{r['load_cpu_pct']:>5.0f}%")
        for kind in ("prosody", "nginx"):
            other = reference(results, name, kind)
            width = 11 if kind == "prosody" else 9
            if other and other != name:
                row += f"{results[name]['per_second'] / results[other]['per_second']:>{width - 1}.2f}x"
            else:
                row += f"{'':>{width}}"
        lines.append(row)
    lines.append("(requests/s and their ratios; 'per CPU s' = requests per server CPU second; "
                 "server and wrk CPU in % of one CPU; '/ nginx' compares with nginx for the same status)")
    verdicts = []
    if "openmessenger" in results and "prosody" in results:
        ours, theirs = results["openmessenger"]["per_second"], results["prosody"]["per_second"]
        verdicts.append(f"goal, faster than Prosody's mod_webpresence: {ours:,.0f} vs {theirs:,.0f} "
                        f"requests/s = {ours / theirs:.2f}x: {'met' if ours > theirs else 'MISSED'}")
    for name in ("openmessenger", "openmessenger-304"):
        other = reference(results, name, "nginx")
        if name in results and other:
            ours, theirs = results[name]["per_second"], results[other]["per_second"]
            verdicts.append(f"stretch, {name} within 3x of {other}: {theirs:,.0f} / {ours:,.0f} = "
                            f"{theirs / ours:.1f}x: {'met' if theirs <= 3 * ours else 'MISSED'}")
    return "\n".join(lines + verdicts)


def main(argv=None):
    args = parseArguments(argv)
    log = lambda text: print(text, flush=True)
    prepareMachine(args, ("wrk", "taskset"))

    when = datetime.datetime.now(datetime.timezone.utc)
    log(f"Status button benchmark {when:%Y-%m-%d %H:%M} UTC on {machine()}")
    log(f"wrk, {args.threads} thread(s), {args.connections} keep-alive connections, "
        f"{args.warmup:g} s warm-up + {args.duration:g} s measured per target; "
        f"server on CPU {args.server_cpu}, wrk on CPU {args.load_cpu}")

    scratch = tempfile.mkdtemp(prefix="bench-status-")
    args.wrkScript = os.path.join(scratch, "summary.lua")
    with open(args.wrkScript, "w") as f:
        f.write(WRK_SCRIPT)

    runs = {name: [] for name in args.targets}
    failed = {}
    order = []
    for r in range(args.repeat):
        order += args.targets if r % 2 == 0 else list(reversed(args.targets))
    try:
        for name in order:
            waitQuiet(args.settle, log)
            workdir = tempfile.mkdtemp(prefix=f"bench-{name}-")
            target = Target(name, args, workdir)
            server = target.server
            try:
                log(f"\n{name}: preparing in {workdir}")
                target.prepare()
                server.start()
                waitListening(target.httpPort, server)
                log(f"  {server.version()} running as pid {server.pid}; {target.url}")
                try:
                    result = asyncio.run(measure(args, target, log))
                except (RuntimeError, OSError, http.client.HTTPException) as e:
                    log(f"  {name}: measurement failed: {e}; see {server.logfile}")
                    failed[name] = str(e)
                    continue
                result["server_alive_at_end"] = server.alive()
                runs[name].append(result)
            finally:
                server.stop()
                for port in (args.port, args.http_port, 80, 443, 5222, 5280):
                    problems = servers.wildcardListeners(port)
                    if problems:
                        log(f"  WARNING: something listens on port {port} on all interfaces: {problems}")
                if servers.listening(args.http_port):
                    log(f"  WARNING: something still listens on 127.0.0.1:{args.http_port}")
                if args.keep:
                    log(f"  kept {workdir}")
                else:
                    shutil.rmtree(workdir, ignore_errors=True)
            time.sleep(1)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    results = {name: max(runs[name], key=lambda r: r["per_second"]) for name in args.targets if runs[name]}
    names = [n for n in args.targets if n in results]
    if results:
        log("\n" + table(results, names))
    for name, error in failed.items():
        log(f"{name} failed at least once: {error}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"date": when.isoformat(), "machine": machine(), "arguments": vars(args),
                       "results": results, "runs": runs}, f, indent=2)
        log(f"\nfigures written to {args.json}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as e:
        raise SystemExit(f"interrupted ({e}); servers stopped")
