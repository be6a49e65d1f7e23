"""
The servers under test: set-up in a temporary folder, start pinned to one
CPU, process statistics from /proc, and a stop that always happens.

OpenMessenger and Prosody get the same accounts (user1 .. userN on
bench.test, one password, one SCRAM-SHA-1 salt and 4096 iterations), listen
on 127.0.0.1 only, without TLS, and keep their data in the temporary
folder.  nginx (for bench/status.py only) serves one static file, as the
practical limit of an HTTP server on this machine.
"""

import hashlib
import hmac
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

DOMAIN = "bench.test"
PASSWORD = "bench-password"
ITERATIONS = 4096
# One salt for every account of both servers: the server's SCRAM work does
# not depend on it, and the load generator can then derive the salted
# password once instead of 10,000 times (4096 PBKDF2 rounds each).
SALT = b"openmessenger-bench-salt"

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def username(i):
    return f"user{i}"


def scramSha1Keys(password=PASSWORD, salt=SALT, iterations=ITERATIONS):
    """
    SCRAM-SHA-1 StoredKey and ServerKey (RFC 5802 3) for the bench password.
    """
    salted = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, iterations)
    clientKey = hmac.new(salted, b"Client Key", "sha1").digest()
    storedKey = hashlib.sha1(clientKey).digest()
    serverKey = hmac.new(salted, b"Server Key", "sha1").digest()
    return storedKey, serverKey


# /proc readers


def cpuSeconds(pid, mainThreadOnly=False):
    """
    User + system CPU seconds of a process: all its threads, or its main
    thread only (for twistd the reactor; the others are the database's).
    """
    with open(f"/proc/{pid}/task/{pid}/stat" if mainThreadOnly else f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # fields[0] is the state (field 3); utime and stime are fields 14, 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def runQueueWaitSeconds(pid):
    """
    Seconds the process's main thread spent runnable but waiting for a CPU
    (/proc/PID/schedstat): time other processes took from it.
    """
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def machineBusySeconds():
    """
    CPU seconds all CPUs of the machine spent busy (not idle, not waiting
    for I/O) since boot, from /proc/stat.
    """
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is in user)
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLOCK_TICKS


def rssKiB(pid):
    """
    Resident set size (VmRSS) of a process in KiB.
    """
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def groupPids(pgid):
    """
    The live processes of the process group C{pgid} (a server started in
    its own session: nginx's master and worker, or just the one process of
    the others).
    """
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        # fields[2] is the process group (field 5).
        if int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


def groupCpuSeconds(pgid):
    """
    User + system CPU seconds of every process in the process group C{pgid}.
    """
    total = 0.0
    for pid in groupPids(pgid):
        try:
            total += cpuSeconds(pid)
        except OSError:
            pass
    return total


def groupRunQueueWaitSeconds(pgid):
    """
    L{runQueueWaitSeconds} added up over the main threads of the processes
    in the process group C{pgid}.
    """
    return sum(runQueueWaitSeconds(pid) for pid in groupPids(pgid))


def threadCount(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def listening(port):
    """
    Whether something accepts connections on 127.0.0.1:port.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def portFree(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def wildcardListeners(port):
    """
    Lines of C{ss -ltnp} for anything listening on C{port} on all
    interfaces (with the owning process): the system Prosody must never be
    started by accident.
    """
    try:
        out = subprocess.run(
            ["ss", "-Hltnp"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            local = parts[3]
            if local.endswith(f":{port}") and not local.startswith("127.0.0.1:"):
                found.append(line.strip())
    return found


class Server:
    """
    One server under test.  C{prepare} writes its configuration and accounts
    into C{workdir}; C{start} runs it pinned to C{cpu}; C{stop} ends it.
    """

    name = None
    process = None

    def __init__(self, workdir, port, cpu, sessions, tls=False, http_port=None):
        """
        @param http_port: where the server's HTTP listener (status buttons)
            goes; C{None}: OpenMessenger's at C{port + 1}, Prosody's off.
        """
        self.tls = tls
        self.httpPort = http_port
        self.workdir = workdir
        self.port = port
        self.cpu = cpu
        self.sessions = sessions
        self.logfile = os.path.join(workdir, f"{self.name}.log")

    @property
    def pid(self):
        return self.process.pid

    def command(self):
        raise NotImplementedError

    def version(self):
        raise NotImplementedError

    def _limitFiles(self):
        # Run in the child between fork and exec: the server gets the hard
        # file descriptor limit, whatever the soft limit of our shell is.
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def start(self, timeout=60):
        if not portFree(self.port):
            raise RuntimeError(f"port {self.port} is in use; choose another with --port")
        command = ["taskset", "-c", str(self.cpu)] + self.command()
        self.output = open(os.path.join(self.workdir, f"{self.name}.out"), "wb")
        self.process = subprocess.Popen(
            command,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=self._limitFiles,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} while "
                    f"starting; see {self.output.name} and {self.logfile}"
                )
            if listening(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen on port {self.port} in {timeout}s")

    def stop(self, timeout=20):
        """
        SIGTERM, then SIGKILL to the whole process group; always safe to call.
        """
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(10)
        self.output.close()

    def alive(self):
        return self.process is not None and self.process.poll() is None


class OpenMessenger(Server):
    name = "openmessenger"
    #: More [c2s] options, one "key = value" line each, and more sections.
    c2s = ""
    sections = ""

    @property
    def config(self):
        return os.path.join(self.workdir, "openmessenger.conf")

    @property
    def http(self):
        return self.httpPort or self.port + 1

    def prepare(self):
        with open(self.config, "w") as f:
            f.write(
                "[server]\n"
                f"domain = {DOMAIN}\n"
                "data_dir = data\n"
                "[c2s]\n"
                f"endpoint = tcp:{self.port}:interface=127.0.0.1\n"
                "direct_tls_endpoint =\n"
                f"require_tls = {'true' if self.tls else 'false'}\n"
                "auth_failures = 0\n"
                # Prosody runs without mod_limits: no shaping on either side.
                "account_guesses = 0\n"
                "rate_bytes = 0\n"
                "rate_stanzas = 0\n"
                f"{self.c2s}"
                "[http]\n"
                # The web listener (administration, status buttons): off the
                # usual port and on loopback.
                f"endpoint = tcp:{self.http}:interface=127.0.0.1\n"
                f"public_url = http://127.0.0.1:{self.http}\n"
                f"{self.sections}"
            )
        # The project's own API, in this process, before the server starts.
        from openmessenger.config import loadConfig
        from openmessenger.ctl import directAccounts
        from openmessenger.storage.interfaces import Credentials, ScramKeys
        from openmessenger.xmpp import sasl

        accounts = directAccounts(loadConfig(self.config))
        storedKey, serverKey = scramSha1Keys()
        # Real SCRAM-SHA-256 keys too (the server offers that mechanism
        # first); the load generator uses SCRAM-SHA-1, as with Prosody.
        made = sasl.makeCredentials(PASSWORD, ITERATIONS)
        keys = dict(made.keys)
        keys["SCRAM-SHA-1"] = ScramKeys(SALT, storedKey, serverKey, ITERATIONS)
        credentials = Credentials(keys=keys)
        store = accounts.store
        connection = store.pool.connection
        # One transaction for all accounts instead of one fsync each.
        connection.execute("PRAGMA synchronous = OFF")
        for i in range(1, self.sessions + 1):
            d = store.createAccount(f"{username(i)}@{DOMAIN}", credentials)
            failures = []
            d.addErrback(failures.append)
            if failures:
                failures[0].raiseException()
        store.pool.close()

    def addSupporter(self, index=1, slug=None):
        """
        Make C{userINDEX} support staff of the default company, before the
        server starts (the project's own API over the database).

        @return: the company's public ID and the supporter's slug.
        """
        from openmessenger.config import loadConfig
        from openmessenger.ctl import directServer
        from openmessenger.directory import defaultCompanyId

        accounts, directory = directServer(loadConfig(self.config))
        company = defaultCompanyId(DOMAIN)
        slug = slug or username(index)
        d = directory.addSupporter(company, f"{username(index)}@{DOMAIN}", slug, f"User {index}")
        failures = []
        d.addErrback(failures.append)
        accounts.store.pool.close()
        if failures:
            failures[0].raiseException()
        return company, slug

    def command(self):
        bindir = os.path.dirname(sys.executable)
        return [
            os.path.join(bindir, "twistd"),
            "--nodaemon",
            "--pidfile=",
            f"--logfile={self.logfile}",
            "openmessenger",
            "--config",
            self.config,
        ]

    def version(self):
        try:
            from openmessenger import __version__
        except ImportError:
            __version__ = "?"
        revision = ""
        try:
            head = subprocess.run(
                ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                capture_output=True, text=True, timeout=10,
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", ROOT, "status", "--porcelain", "--", "openmessenger"],
                capture_output=True, text=True, timeout=10,
            ).stdout.strip()
            if head:
                revision = f" (git {head}{', modified' if dirty else ''})"
        except (OSError, subprocess.SubprocessError):
            pass
        return f"OpenMessenger {__version__}{revision}"


PROSODY_CONFIG = """\
-- Written by bench/servers.py for one benchmark run.
daemonize = false
run_as_root = true
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
log = {{ {{ levels = {{ min = "{loglevel}" }}, to = "file", filename = "{log}" }} }}

network_backend = "epoll"
interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
c2s_direct_tls_ports = {{ }}
legacy_ssl_ports = {{ }}
s2s_ports = {{ }}
component_ports = {{ }}
http_ports = {{ {http_ports} }}
http_interfaces = {{ "127.0.0.1" }}
https_ports = {{ }}
https_interfaces = {{ }}
-- Requests whose Host is not a virtual host (127.0.0.1:PORT) go here.
http_default_host = "{domain}"
plugin_paths = {{ }}

authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = {tls}
s2s_require_encryption = false
allow_unencrypted_plain_auth = false
allow_registration = false
certificates = "{dir}/certs"
{ssl}
-- mod_presence, mod_message, mod_iq, mod_offline and mod_c2s are always
-- loaded; mod_limits is not loaded, so nothing throttles.
modules_enabled = {{ "roster", "saslauth", "ping"{withtls}{withhttp} }}
modules_disabled = {{ "s2s", "s2s_auth_certs" }}

VirtualHost "{domain}"
"""


class Prosody(Server):
    name = "prosody"

    def __init__(self, *args, loglevel="warn", **kwargs):
        Server.__init__(self, *args, **kwargs)
        self.loglevel = loglevel

    @property
    def config(self):
        return os.path.join(self.workdir, "prosody.cfg.lua")

    def prepare(self):
        if shutil.which("prosody") is None:
            raise RuntimeError("prosody is not installed (apt-get install prosody)")
        certs = os.path.join(self.workdir, "certs")
        os.makedirs(certs)
        ssl = ""
        if self.tls:
            # The same kind of certificate OpenMessenger makes for itself
            # (self-signed, EC P-256), made by the same code.
            from openmessenger.tls import makeSelfSigned

            cert, key = os.path.join(certs, f"{DOMAIN}.crt"), os.path.join(certs, f"{DOMAIN}.key")
            makeSelfSigned(cert, key, [DOMAIN])
            ssl = f'ssl = {{ certificate = "{cert}", key = "{key}" }}\n'
        with open(self.config, "w") as f:
            f.write(PROSODY_CONFIG.format(
                dir=self.workdir, log=self.logfile, port=self.port,
                domain=DOMAIN, loglevel=self.loglevel, ssl=ssl,
                tls="true" if self.tls else "false",
                withtls=', "tls"' if self.tls else "",
                http_ports=self.httpPort or "",
                # mod_webpresence (Debian prosody-modules): /status/JID
                withhttp=', "http", "webpresence"' if self.httpPort else "",
            ))
        # Prosody's "internal" storage is one Lua file per account; writing
        # them directly is what `prosodyctl register` would do, minus one
        # process (and 10,000 PBKDF2 rounds) per account.
        hostdir = "".join(c if c.isalnum() else f"%{ord(c):02x}" for c in DOMAIN)
        accounts = os.path.join(self.workdir, "data", hostdir, "accounts")
        os.makedirs(accounts, mode=0o750)
        storedKey, serverKey = scramSha1Keys()
        record = (
            "return {\n"
            f'\t["iteration_count"] = {ITERATIONS};\n'
            f'\t["salt"] = "{SALT.decode()}";\n'
            f'\t["server_key"] = "{serverKey.hex()}";\n'
            f'\t["stored_key"] = "{storedKey.hex()}";\n'
            "};\n"
        )
        for i in range(1, self.sessions + 1):
            with open(os.path.join(accounts, f"{username(i)}.dat"), "w") as f:
                f.write(record)

    def command(self):
        # Never without --config: that would start the system's server on
        # every interface.
        return ["prosody", "-F", "--config", self.config]

    def version(self):
        try:
            out = subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", "prosody"],
                capture_output=True, text=True, timeout=10,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        lua = ""
        try:
            with open(shutil.which("prosody")) as f:
                first = f.readline().strip()
            lua = " on " + os.path.basename(first.split()[-1]) if first.startswith("#!") else ""
        except OSError:
            pass
        return f"Prosody {out or '?'}{lua}"


class Nginx(Server):
    """
    nginx serving one file (for bench/status.py): the practical limit of an
    HTTP answer on this machine.  One worker process; its own configuration,
    pid file, logs and temporary folders in C{workdir}; never the system's
    service.  C{port} is its HTTP port.
    """

    name = "nginx"

    CONFIG = """\
# Written by bench/servers.py for one benchmark run.
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx.log warn;
events {{ worker_connections 4096; }}
http {{
    types {{ image/png png; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
        # What OpenMessenger answers with, too (nginx adds ETag and
        # Last-Modified itself, and answers If-None-Match with 304).
        add_header Cache-Control no-cache;
    }}
}}
"""

    @property
    def config(self):
        return os.path.join(self.workdir, "nginx.conf")

    def prepare(self, path="/status.png", body=b""):
        """
        Serve C{body} at C{path}.
        """
        if shutil.which("nginx") is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx-light)")
        os.makedirs(os.path.join(self.workdir, "tmp"))
        target = os.path.join(self.workdir, "www", path.lstrip("/"))
        os.makedirs(os.path.dirname(target), mode=0o755)
        with open(target, "wb") as f:
            f.write(body)
        # The worker runs as nobody when started by root: it must reach the
        # file (mkdtemp made the folder 0700).
        os.chmod(self.workdir, 0o755)
        for folder, _, files in os.walk(os.path.join(self.workdir, "www")):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        with open(self.config, "w") as f:
            f.write(self.CONFIG.format(dir=self.workdir, port=self.port))

    def command(self):
        # -e: the error log before the configuration is read (otherwise the
        # system's /var/log/nginx/error.log).
        return ["nginx", "-p", self.workdir, "-c", self.config, "-e", self.logfile]

    def version(self):
        try:
            out = subprocess.run(["nginx", "-v"], capture_output=True, text=True, timeout=10)
            text = (out.stderr or out.stdout).strip()
        except (OSError, subprocess.SubprocessError):
            text = ""
        return text.replace("nginx version: ", "") or "nginx ?"


SERVERS = {"openmessenger": OpenMessenger, "prosody": Prosody}
