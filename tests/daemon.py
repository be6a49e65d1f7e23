"""
Run the real daemon (C{twistd -n openmessenger}) as a subprocess, on
loopback, with its own configuration and data directory.

Used by the end-to-end tests that need the real process (restart, kill -9,
packaging) and by the real-client tests.
"""

import contextlib
import os
import random
import select
import signal
import socket
import subprocess
import sys
import time

BIN = os.path.dirname(sys.executable)

#: How long the daemon may take to start listening, in seconds.
START_DEADLINE = 30


def freePort():
    """
    A free TCP port on 127.0.0.1 below 32768 (higher ones collide with
    outgoing connections' ports).
    """
    for _ in range(200):
        port = random.randint(10000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found")


class Daemon:
    """
    One server process.  C{port} is its STARTTLS port, C{tlsPort} its
    direct TLS port.
    """

    def __init__(self, directory, domain="localhost", requireTLS=True, extra="",
                 verbose=False, admins="", twistd=(os.path.join(BIN, "twistd"),)):
        """
        @param admins: the operators (C{[server] admins}), bare JIDs,
            comma-separated; none by default.
        @param twistd: the command that runs twistd (another installation's).
        """
        self.twistd = list(twistd)
        self.directory = str(directory)
        self.verbose = verbose
        self.domain = domain
        self.port = freePort()
        self.tlsPort = freePort()
        self.httpPort = freePort()
        self.config = os.path.join(self.directory, "openmessenger.conf")
        self.logFile = os.path.join(self.directory, "twistd.log")
        self.process = None
        with open(self.config, "w") as f:
            f.write(
                f"[server]\ndomain = {domain}\ndata_dir = data\n"
                + (f"admins = {admins}\n" if admins else "")
                + f"[c2s]\nendpoint = tcp:{self.port}:interface=127.0.0.1\n"
                f"direct_tls_endpoint = tcp:{self.tlsPort}:interface=127.0.0.1\n"
                f"require_tls = {'true' if requireTLS else 'false'}\n"
                f"[http]\nendpoint = tcp:{self.httpPort}:interface=127.0.0.1\n"
                f"public_url = http://127.0.0.1:{self.httpPort}\n"
                f"{extra}\n"
            )

    @property
    def certificate(self):
        return os.path.join(self.directory, "data", "server.crt")

    def ctl(self, *args, input=None):
        """
        Run C{openmessenger-ctl} with this daemon's configuration.
        """
        return subprocess.run(
            [os.path.join(BIN, "openmessenger-ctl"), "--config", self.config, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def addUser(self, jid, password):
        result = self.ctl("user", "add", jid, "--password", password)
        assert result.returncode == 0, result.stderr

    def start(self):
        """
        Start the process and wait until it says it listens: the C{READY=1}
        it sends to C{NOTIFY_SOCKET} as under systemd, or its exit.
        """
        notifyPath = os.path.join(self.directory, "notify.sock")
        if os.path.exists(notifyPath):
            os.unlink(notifyPath)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            notify.bind(notifyPath)
            self.process = subprocess.Popen(
                [
                    *self.twistd, "--nodaemon", "--pidfile=",
                    f"--logfile={self.logFile}", "openmessenger", "--config", self.config,
                    *(["--verbose"] if self.verbose else []),
                ],
                cwd=self.directory,
                env=dict(os.environ, NOTIFY_SOCKET=notifyPath),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            printed = b""
            deadline = time.monotonic() + START_DEADLINE
            while (left := deadline - time.monotonic()) > 0:
                readable, _, _ = select.select([notify, self.process.stdout], [], [], left)
                if notify in readable and notify.recv(100) == b"READY=1":
                    return self
                if self.process.stdout in readable:
                    output = os.read(self.process.stdout.fileno(), 65536)
                    if not output:  # the pipe closed: the process is gone
                        self.process.wait()
                        self.process.stdout.close()
                        raise RuntimeError(
                            f"the daemon exited with {self.process.returncode}: "
                            f"{printed.decode(errors='replace')}\n{self.log()}"
                        )
                    printed += output
        self.stop()
        raise RuntimeError(f"the daemon did not listen within {START_DEADLINE}s")

    @contextlib.contextmanager
    def running(self, logLines=100):
        """
        Start, and stop afterwards printing the log's last C{logLines}
        lines, which pytest shows for a failed test.
        """
        self.start()
        try:
            yield self
        finally:
            self.stop()
            print(f"--- daemon log ({self.logFile}), last {logLines} lines ---")
            print("\n".join(self.log().splitlines()[-logLines:]))

    def log(self):
        try:
            with open(self.logFile) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        """
        Stop the process (C{SIGKILL} for a crash) and wait for it.
        """
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
