"""
Psi 1.5 (the Qt desktop client) under Xvfb against the real daemon.

Psi starts from a generated profile that logs in by itself; the test reads
what happened from the daemon's traffic log, looks at Psi's windows with
xdotool, and types into its chat window.
"""

import os
import subprocess

import pytest

from tests.clients import (
    XServer,
    requireTools,
    screenshotDirectory,
    screenshotNow,
    screenshotX,
    serverFailures,
    stopProcess,
    traffic,
    uniqueText,
    visibleWindows,
    waitFor,
    writePsiProfile,
    xdotool,
)
from tests.clients.conftest import ALICE, BOB

#: The resource Psi binds (set in the generated profile).
RESOURCE = "psi-test"

#: What Psi asks at login that the daemon does not implement and answers
#: with service-unavailable: privacy lists and private XML storage
#: (bookmarks).  Psi copes with that silently (/work/shared/psi-login.md).
UNIMPLEMENTED = {
    "jabber:iq:privacy",
    "jabber:iq:private",
}

PRIVACY = "{jabber:iq:privacy}query"
PRIVATE = "{jabber:iq:private}query"
DISCO_INFO = "{http://jabber.org/protocol/disco#info}query"

#: Psi's noise on stdout/stderr, left out when its output is shown.
NOISE = ("Unknown signature value", "Accessing missing option")


@pytest.fixture(autouse=True)
def tools():
    """
    Psi, Xvfb and xdotool are installed (checked before anything starts).
    """
    requireTools("psi", "Xvfb", "xdotool")


@pytest.fixture
def display():
    """
    A private X server (Xvfb, no window manager); stopped after the test.
    """
    server = XServer()
    try:
        yield server.display
    finally:
        server.close()


@pytest.fixture
def psi(tmp_path, daemon, bob, display):
    """
    Psi, logging in as alice by itself from a generated profile (HOME in the
    test's temporary folder); stopped after the test, its output printed on
    failure.
    """
    home = tmp_path / "psi"
    runtime, temporary = tmp_path / "runtime", tmp_path / "tmp"
    runtime.mkdir(mode=0o700)
    temporary.mkdir()
    writePsiProfile(home, ALICE[0], ALICE[1], daemon.port, daemon.certificate, RESOURCE)
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(runtime),
        "TMPDIR": str(temporary),
        "DISPLAY": display,
        "QT_QPA_PLATFORM": "xcb",
        # No session bus: Psi must neither reach nor start one.
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
        "LANG": "C.UTF-8",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    output = tmp_path / "psi.log"
    with open(output, "wb") as log:
        process = subprocess.Popen(
            ["psi"], env=env, cwd=str(home), stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        try:
            last = screenshotNow(display, str(tmp_path / "psi-last.png"))
        except Exception as e:
            last = f"none ({e})"
        stopProcess(process)
        print(f"--- Psi's screen at the end: {last} ---")
        lines = output.read_text(errors="replace").splitlines()
        print("--- psi output ---")
        print("\n".join(l for l in lines if not any(n in l for n in NOISE))[-5000:])


@pytest.mark.clients
def test_psi_login_and_chat(daemon, bob, psi, display, tmp_path):
    """Psi logs in over STARTTLS, gets every request answered, and chats with bob both ways."""
    alice = ALICE[0]
    full = f"{alice}/{RESOURCE}"
    screenshots = screenshotDirectory(tmp_path)

    def session():
        return traffic(daemon).of(full)

    def loggedIn():
        # A dialog (certificate question, password prompt, error) is a
        # failure at once.
        titles = sorted(visibleWindows(display).values())
        assert titles in ([], ["Psi"]), f"Psi opened a window: {titles}; see psi-last.png"
        connection = session()
        if connection is None or connection.initialPresence() is None:
            return None
        asked = {child.tag for request in connection.requests() for child in request}
        # Psi's last login requests (privacy lists, bookmarks, the server's
        # disco#info) follow its initial presence.
        if not {PRIVACY, PRIVATE, DISCO_INFO} <= asked or connection.unanswered():
            return None
        return connection

    def describe():
        # Psi's connection, bound or not (the scripted ones all bound).
        return "\n".join(
            f"--- connection from port {c.port}, bound to {c.jid} ---\n{c.transcript()}"
            for c in traffic(daemon).connections if c.jid in (None, full)
        ) or "Psi did not connect"

    connection = waitFor(
        loggedIn, "Psi to log in and get its login requests answered", diagnose=describe,
    )
    assert psi.poll() is None, "Psi exited"
    # No dialog: no certificate question, no vCard editor, no error.
    assert sorted(visibleWindows(display).values()) == ["Psi"]

    # STARTTLS first, then SASL, then the resource from the profile.
    assert connection.received[0].tag == "{urn:ietf:params:xml:ns:xmpp-tls}starttls"
    assert any(e.tag == "{urn:ietf:params:xml:ns:xmpp-sasl}success" for e in connection.sent)
    assert connection.jid == full

    # The roster get is answered with a result that holds bob.
    roster = connection.rosterResult()
    assert roster.get("type") == "result", connection.transcript()
    items = roster.findall("{jabber:iq:roster}query/{jabber:iq:roster}item")
    assert [(i.get("jid"), i.get("subscription")) for i in items] == [(BOB[0], "both")]

    # Psi sent its initial presence and got bob's.
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
        lambda: xdotool(display, "search", "--onlyvisible", "--name", "bob@localhost").split(),
        "Psi's chat window with bob", diagnose=lambda: visibleWindows(display),
    )[-1]
    # There is no window manager: put the chat beside the roster and give
    # it the keyboard.  (Its title is "* bob@localhost" while it holds an
    # unread message.)
    xdotool(display, "windowmove", "--sync", window, "300", "20")
    xdotool(display, "windowsize", "--sync", window, "520", "400")
    xdotool(display, "windowfocus", "--sync", window)

    # alice -> bob, typed into Psi's chat window.
    outgoing = uniqueText("Hello from Psi")
    xdotool(display, "type", "--delay", "20", outgoing)
    xdotool(display, "key", "Return")
    sender = waitFor(lambda: bob.received(outgoing), "bob to receive Psi's message")
    assert sender == full
    screenshotX(display, os.path.join(screenshots, "psi-chat.png"))

    # Both messages went through the daemon as chat messages.
    everything = traffic(daemon)
    connection, bobs = everything.of(full), everything.of(bob.fullJID)
    [delivered] = connection.messagesSent(incoming)
    assert delivered.get("from") == bob.fullJID
    [sent] = connection.messagesReceived(outgoing)
    assert sent.get("to") in (BOB[0], bob.fullJID) and sent.get("type") == "chat"
    [delivered] = bobs.messagesSent(outgoing)
    assert delivered.get("from") == full

    # Over the whole session: every request Psi sent was answered, and Psi
    # got no stream error, no SASL failure and no stanza error but
    # service-unavailable for the namespaces the daemon does not implement;
    # and it shows no window but the roster and the chat.
    assert psi.poll() is None, "Psi exited"
    assert connection.unanswered() == [], connection.transcript()
    assert connection.problems(UNIMPLEMENTED) == [], connection.transcript()
    titles = [title.lstrip("* ") for title in visibleWindows(display).values()]
    assert sorted(titles) == ["Psi", "bob@localhost"]

    # The daemon logged no internal error.
    assert serverFailures(daemon) == []
