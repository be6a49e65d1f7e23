"""
Psi 1.5 (the Qt desktop client) under Xvfb against the real daemon.
"""

import os
import subprocess

import pytest

from tests.clients import (
    XServer,
    requireTools,
    screenshotDirectory,
    screenshotX,
    stopProcess,
    traffic,
    uniqueText,
    waitFor,
    writePsiProfile,
    xdotool,
)
from tests.clients.conftest import ALICE, BOB

#: The resource Psi binds (set in the generated profile).
RESOURCE = "psi-test"

#: What Psi asks at login and the daemon answers with service-unavailable
#: (see /work/shared/psi-login.md): Psi copes with it silently.
UNIMPLEMENTED = {
    "jabber:iq:privacy",
    "jabber:iq:private",
    "http://jabber.org/protocol/disco#info",
}

PRIVACY = "{jabber:iq:privacy}query"
PRIVATE = "{jabber:iq:private}query"
DISCO_INFO = "{http://jabber.org/protocol/disco#info}query"


@pytest.fixture
def display():
    """
    A private X server (Xvfb); stopped after the test.
    """
    requireTools("Xvfb", "xdotool")
    server = XServer()
    try:
        yield server.display
    finally:
        server.close()


@pytest.fixture
def psi(tmp_path, daemon, bob, display):
    """
    Psi logged in as alice with a generated profile (HOME in the test's
    temporary folder); killed after the test, its output printed on failure.
    """
    requireTools("psi")
    home = tmp_path / "psi"
    writePsiProfile(home, ALICE[0], ALICE[1], daemon.port, daemon.certificate, RESOURCE)
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(tmp_path / "runtime"),
        "DISPLAY": display,
        # No session bus: Psi must not start or reach one.
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
        "LANG": "C.UTF-8",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "QT_QPA_PLATFORM": "xcb",
    }
    (tmp_path / "runtime").mkdir(mode=0o700)
    output = tmp_path / "psi.log"
    with open(output, "wb") as log:
        process = subprocess.Popen(
            ["psi"], env=env, cwd=str(home), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield process
    finally:
        stopProcess(process)
        lines = output.read_text(errors="replace").splitlines()
        print("--- psi output (without its option warnings) ---")
        print("\n".join(l for l in lines if "Unknown signature value" not in l)[-5000:])


@pytest.mark.clients
def test_psi_login_and_chat(daemon, bob, psi, display, tmp_path):
    """Psi logs in over STARTTLS, gets every request answered, and chats with bob both ways."""
    alice = ALICE[0]
    full = f"{alice}/{RESOURCE}"
    screenshots = screenshotDirectory(tmp_path)

    def session():
        return traffic(daemon).of(full)

    def loggedIn():
        connection = session()
        if connection is None or connection.initialPresence() is None:
            return None
        asked = {child.tag for request in connection.requests() for child in request}
        # Psi's last login requests (privacy, bookmarks, server disco)
        # come after its initial presence.
        if not {PRIVACY, PRIVATE, DISCO_INFO} <= asked or connection.unanswered():
            return None
        return connection

    connection = waitFor(
        loggedIn, "Psi to log in and get its login requests answered",
        diagnose=lambda: session().transcript() if session() else traffic(daemon).connections,
    )
    assert psi.poll() is None, "Psi exited"

    # STARTTLS, then SASL and bind.
    assert connection.received[0].tag == "{urn:ietf:params:xml:ns:xmpp-tls}starttls"
    assert any(e.tag == "{urn:ietf:params:xml:ns:xmpp-sasl}success" for e in connection.sent)
    assert connection.jid == full

    # The roster get is answered with a result holding bob.
    roster = connection.rosterResult()
    assert roster is not None and roster.get("type") == "result", connection.transcript()
    items = roster.findall("{jabber:iq:roster}query/{jabber:iq:roster}item")
    assert [(i.get("jid"), i.get("subscription")) for i in items] == [(BOB[0], "both")]

    # Initial presence, and bob's presence delivered to Psi.
    assert connection.initialPresence() is not None
    waitFor(
        lambda: any(p.get("from") == bob.fullJID and p.get("type") is None
                    for p in session().sentStanzas("presence")),
        "bob's presence sent to Psi",
    )
    screenshotX(display, os.path.join(screenshots, "psi-roster.png"))

    # bob -> alice: delivered to Psi, whose chat window opens.
    incoming = uniqueText("Hello from bob")
    bob.send(alice, incoming)
    waitFor(lambda: session().messagesSent(incoming), "bob's message sent to Psi")
    window = waitFor(
        lambda: xdotool(display, "search", "--onlyvisible", "--name", "bob@localhost"),
        "Psi's chat window with bob",
    )[-1]
    # No window manager: put the chat beside the roster, then give it the
    # keyboard.
    xdotool(display, "windowmove", "--sync", window, "300", "20")
    xdotool(display, "windowsize", "--sync", window, "520", "400")
    screenshotX(display, os.path.join(screenshots, "psi-chat-incoming.png"))

    # alice -> bob, typed into Psi's chat window.
    outgoing = uniqueText("Hello from Psi")
    xdotool(display, "windowfocus", "--sync", window)
    xdotool(display, "type", "--delay", "20", outgoing)
    xdotool(display, "key", "Return")
    sender = waitFor(lambda: bob.received(outgoing), "bob to receive Psi's message")
    assert sender == full
    screenshotX(display, os.path.join(screenshots, "psi-chat.png"))
