"""
Nothing acknowledged is lost, against the real C{twistd openmessenger}
process: a kill -9 during the replay of offline messages, a database
locked by another process, a full disk.
"""

import asyncio
import base64
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import time

import pytest
import pytest_twisted

from tests.daemon import Daemon
from tests.integration.harness import DEADLINE, Client, wait
from tests.integration.test_daemon import DaemonServer

PASSWORD = "s3cret pass"


class RawReader:
    """
    A client that logs in over direct TLS, sends initial presence and then
    only reads: it never answers anything (as a client killed mid-login).
    """

    def __init__(self, daemon, user):
        context = ssl.create_default_context(cafile=daemon.certificate)
        raw = socket.create_connection(("127.0.0.1", daemon.tlsPort), timeout=DEADLINE)
        self.socket = context.wrap_socket(raw, server_hostname="localhost")
        self.received = b""
        header = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
                  b" to='localhost' version='1.0'>")
        self.socket.sendall(header)
        self.until(b"</stream:features>")
        plain = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
        self.socket.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
                            .encode())
        self.until(b"<success")
        self.socket.sendall(header)
        self.until(b"</stream:features>")
        self.socket.sendall(b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
        self.until(b"</iq>")
        self.received = b""
        self.socket.sendall(b"<presence/>")

    def until(self, marker):
        deadline = time.monotonic() + DEADLINE
        while marker not in self.received:
            assert time.monotonic() < deadline, self.received
            chunk = self.socket.recv(65536)
            assert chunk, self.received
            self.received += chunk

    def close(self):
        self.socket.close()


def sendAll(client, to, count, prefix, padding=""):
    for n in range(count):
        message = client.make_message(mto=to, mbody=f"{prefix} {n}{padding}", mtype="chat")
        message["id"] = f"{prefix}-{n}"
        message.send()


def errors(client):
    """
    A queue of the error messages a client gets.
    """
    queue = asyncio.Queue()
    client.add_event_handler("message_error", queue.put_nowait)
    return queue


async def collect(client, wanted, errors=()):
    """
    The bodies a client receives until it has C{wanted} different ones.
    """
    bodies = set()
    while len(bodies) < wanted:
        message = await client.nextMessage()
        if message["type"] != "error" and message["body"]:
            bodies.add(message["body"])
    return bodies


@pytest.fixture
def daemon(tmp_path):
    server = Daemon(tmp_path)
    server.addUser("romeo@localhost", PASSWORD)
    server.addUser("juliet@localhost", PASSWORD)
    yield server
    server.stop()


async def stored(romeo):
    """
    Wait until what Romeo sent so far is written: a vCard read goes through
    the server's one database connection after those writes.
    """
    romeo.register_plugin("xep_0054")
    await wait(romeo.plugin["xep_0054"].get_vcard("romeo@localhost"))


@pytest_twisted.ensureDeferred
async def test_killDuringReplayLosesNothing(daemon):
    """
    100 messages wait for Juliet; she logs in and the server is killed
    (SIGKILL) while she reads them, before her client confirmed them: after
    the restart all 100 are still there for her.
    """
    daemon.start()
    server = DaemonServer(daemon)
    romeo = Client(server, "romeo")
    await romeo.login()
    sendAll(romeo, "juliet@localhost", 100, "kept")
    await stored(romeo)
    reader = RawReader(daemon, "juliet")
    reader.until(b"kept 0<")
    daemon.stop(signal.SIGKILL)
    reader.close()

    daemon.start()
    juliet = Client(server, "juliet")
    await juliet.login()
    bodies = await collect(juliet, 100)
    assert bodies == {f"kept {n}" for n in range(100)}


@pytest_twisted.ensureDeferred
async def test_lockedDatabaseAnsweredWithError(daemon):
    """
    While another process holds the database's write lock beyond the
    server's patience, a message to an offline user is answered with an
    error instead of being dropped; once the lock goes, storage works again.
    """
    daemon.start()
    romeo = Client(DaemonServer(daemon), "romeo")
    refused = errors(romeo)
    await romeo.login()
    locker = sqlite3.connect(os.path.join(daemon.directory, "data", "openmessenger.sqlite"), timeout=30)
    try:
        locker.execute("BEGIN IMMEDIATE")
        sendAll(romeo, "juliet@localhost", 1, "locked")
        error = await wait(refused.get())
    finally:
        locker.rollback()
        locker.close()
    assert (error["type"], error["id"]) == ("error", "locked-0")
    assert error["error"]["condition"] == "internal-server-error"
    sendAll(romeo, "juliet@localhost", 1, "later")
    await stored(romeo)
    juliet = Client(DaemonServer(daemon), "juliet")
    await juliet.login()
    assert await collect(juliet, 1) == {"later 0"}


@pytest.fixture
def smallDisk(daemon):
    """
    The daemon's data directory on a tmpfs of 2 MB (root only).
    """
    data = os.path.join(daemon.directory, "data")
    os.makedirs(data, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", data], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    yield data
    daemon.stop()
    subprocess.run(["umount", "-l", data])


@pytest_twisted.ensureDeferred
async def test_fullDiskLosesNothingAcknowledged(daemon, smallDisk):
    """
    With the disk full, messages to an offline user are either stored or
    answered with resource-constraint: Juliet later gets exactly those that
    were not refused.
    """
    # ctl made the database in the directory before the mount: again.
    daemon.addUser("romeo@localhost", PASSWORD)
    daemon.addUser("juliet@localhost", PASSWORD)
    daemon.start()
    romeo = Client(DaemonServer(daemon), "romeo")
    answers = errors(romeo)
    await romeo.login()
    filler = os.path.join(smallDisk, "filler")
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"x" * 4096)
        except OSError:
            pass
    os.truncate(filler, os.path.getsize(filler) - 24 * 1024)
    sendAll(romeo, "juliet@localhost", 100, "full", padding=" " + "x" * 400)
    await stored(romeo)
    refused = set()
    while not answers.empty():
        message = answers.get_nowait()
        assert message["error"]["condition"] == "resource-constraint", message
        refused.add(int(message["id"].rpartition("-")[2]))
    assert refused, "the disk never filled"
    os.unlink(filler)
    juliet = Client(DaemonServer(daemon), "juliet")
    await juliet.login()
    got = await collect(juliet, 100 - len(refused))
    assert got == {f"full {n} {'x' * 400}" for n in range(100) if n not in refused}
