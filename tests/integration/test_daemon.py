"""
The real C{twistd openmessenger} process: packaging, the control channel,
and durability across C{kill -9}.
"""

import signal
import socket
import ssl

import pytest
import pytest_twisted

from tests.daemon import Daemon
from tests.integration.harness import DEADLINE, Client, wait


class DaemonServer:
    """
    Adapts a L{Daemon} to what L{Client} expects of a server.
    """

    def __init__(self, daemon):
        self.daemon = daemon
        self.port = daemon.port
        self.tlsPort = daemon.tlsPort
        self.certificate = daemon.certificate


@pytest.fixture
def daemon(tmp_path):
    server = Daemon(tmp_path)
    server.addUser("romeo@localhost", "s3cret pass")
    server.addUser("juliet@localhost", "s3cret pass")
    server.start()
    yield server
    server.stop()


@pytest_twisted.ensureDeferred
async def test_loginToRealProcess(daemon):
    """
    The installed twistd plugin starts from a temporary configuration, makes
    its certificate, and Romeo logs in and chats with Juliet through it.
    """
    server = DaemonServer(daemon)
    romeo, juliet = Client(server, "romeo"), Client(server, "juliet")
    await romeo.login()
    await juliet.login()
    romeo.send_message(mto="juliet@localhost/test", mbody="Hello from a real process")
    assert (await juliet.nextMessage())["body"] == "Hello from a real process"
    assert "Certificate SHA-256 fingerprint" in daemon.log()
    for client in (romeo, juliet):
        client.disconnect()
        await wait(client.expect("disconnected"))


@pytest_twisted.ensureDeferred
async def test_ctlTalksToRunningServer(daemon):
    """
    With the server running, ctl adds a user who can log in at once, and
    deleting a user ends their session.
    """
    result = daemon.ctl("user", "add", "mercutio@localhost", "--password", "queen mab")
    assert result.returncode == 0, result.stderr
    assert daemon.ctl("user", "list").stdout.split() == [
        "juliet@localhost", "mercutio@localhost", "romeo@localhost"
    ]
    server = DaemonServer(daemon)
    mercutio = Client(server, "mercutio", password="queen mab")
    await mercutio.login()
    disconnected = mercutio.expect("disconnected")
    assert daemon.ctl("user", "del", "mercutio@localhost").returncode == 0
    await wait(disconnected)
    refused = daemon.ctl("user", "add", "mercutio@elsewhere", "--password", "x")
    assert refused.returncode != 0 and "not a domain served here" in refused.stderr


@pytest_twisted.ensureDeferred
async def test_acceptedChangesSurviveKill(daemon):
    """
    A roster change and an offline message the server accepted are still
    there after the process is killed with SIGKILL and restarted.
    """
    server = DaemonServer(daemon)
    romeo = Client(server, "romeo")
    await romeo.login()
    romeo.register_plugin("xep_0054")
    await wait(romeo.update_roster("juliet@localhost", name="My love"))
    romeo.send_message(mto="juliet@localhost", mbody="Survive this", mtype="chat")
    # Reading his vCard goes through the same single database connection as
    # the offline message's write, after it: once answered, it is on disk.
    await wait(romeo.plugin["xep_0054"].get_vcard("romeo@localhost"))
    disconnected = romeo.expect("disconnected")
    daemon.stop(signal.SIGKILL)
    await wait(disconnected)

    daemon.start()
    romeo, juliet = Client(server, "romeo", "again"), Client(server, "juliet")
    await romeo.login()
    assert romeo.client_roster["juliet@localhost"]["name"] == "My love"
    await juliet.login()
    assert (await juliet.nextMessage())["body"] == "Survive this"
    for client in (romeo, juliet):
        client.disconnect()
        await wait(client.expect("disconnected"))


def test_billionLaughsOverTheWire(daemon):
    """
    A billion-laughs document gets a C{restricted-xml} stream error at once,
    before any entity is expanded, and the server keeps serving.
    """
    laughs = "<?xml version='1.0'?><!DOCTYPE l [<!ENTITY l0 'lol'>" + "".join(
        f"<!ENTITY l{i} '{('&l%d;' % (i - 1)) * 10}'>" for i in range(1, 10)
    ) + "]><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'><message><body>&l9;</body></message>"
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=DEADLINE) as s:
        s.sendall(laughs.encode())
        answer = b""
        while b"</stream:stream>" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert b"restricted-xml" in answer
    context = ssl.create_default_context(cafile=daemon.certificate)
    with socket.create_connection(("127.0.0.1", daemon.tlsPort), timeout=DEADLINE) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>")
            features = b""
            while b"</stream:features>" not in features:
                chunk = s.recv(4096)
                assert chunk, features
                features += chunk
            assert b"SCRAM-SHA-256" in features


@pytest_twisted.ensureDeferred
async def test_stopSaysSystemShutdown(daemon):
    """
    SIGTERM ends each client's stream with C{system-shutdown} (RFC 6120
    4.9.3.20) instead of just closing TCP, so clients know to come back.
    """
    romeo = Client(DaemonServer(daemon), "romeo")
    await romeo.login()
    error = romeo.expect("stream_error")
    daemon.stop(signal.SIGTERM)
    assert (await wait(error))["condition"] == "system-shutdown"
