"""
Profanity (a terminal client) in tmux against the real daemon.

The test types commands into Profanity with tmux send-keys, reads its screen
with capture-pane, and checks what the daemon did in its traffic log.
"""

import os
import re

import pytest

from tests.clients import (
    Tmux,
    requireTools,
    screenshotDirectory,
    screenshotText,
    serverFailures,
    traffic,
    uniqueText,
    waitFor,
)
from tests.clients.conftest import ALICE, BOB

#: What Profanity asks at login that the daemon does not implement (and may
#: answer with service-unavailable): nothing any more.  Private XML storage
#: (bookmarks), blocking and carbons, the last ones, are there now.
UNIMPLEMENTED = set()

PRIVATE = "{jabber:iq:private}query"
BLOCKLIST = "{urn:xmpp:blocking}blocklist"
CARBONS = "{urn:xmpp:carbons:2}enable"


@pytest.fixture(autouse=True)
def tools():
    """
    Profanity and tmux are installed (checked before anything starts).
    """
    requireTools("profanity", "tmux")


@pytest.fixture
def profanity(tmp_path):
    """
    Profanity in a private tmux server, with HOME and the XDG folders in the
    test's temporary folder; killed after the test, its screen and log
    printed on failure.
    """
    home = tmp_path / "profanity"
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "TMPDIR": str(home / "tmp"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    for folder in ("config", "data", "cache", "tmp"):
        (home / folder).mkdir(parents=True)
    terminal = Tmux(tmp_path, ["profanity"], env)
    try:
        yield terminal
    finally:
        try:
            print("--- profanity screen ---")
            print(terminal.screen())
        except Exception as e:
            print(f"(no screen: {e})")
        finally:
            terminal.close()
        logs = home / "data" / "profanity" / "logs" / "profanity.log"
        if logs.exists():
            print("--- profanity.log ---")
            print(logs.read_text(errors="replace")[-5000:])


@pytest.mark.clients
def test_profanity_login_roster_and_chat(daemon, bob, profanity, tmp_path):
    """Profanity logs in over STARTTLS, sees bob online and chats with him both ways."""
    alice, password = ALICE
    profanity.waitForText("Type '/help'")

    # Log in: STARTTLS on the plain port, trusting the self-signed certificate.
    profanity.type(f"/connect {alice} server 127.0.0.1 port {daemon.port} tls trust")
    profanity.waitForText("Enter password:")
    profanity.type(password)
    screen = profanity.waitForText(re.compile(rf"{re.escape(alice)}/(\S+) logged in successfully"))
    resource = re.search(rf"{re.escape(alice)}/(\S+) logged in successfully", screen).group(1)
    full = f"{alice}/{resource}"
    assert "[TLS]" in screen

    # The roster panel lists bob under "Online" (the number counts unread
    # messages).
    screen = profanity.waitForText(re.compile(r"Online \(\d+\) *\n.* bob@localhost"))
    screenshots = screenshotDirectory(tmp_path)
    screenshotText(screen, os.path.join(screenshots, "profanity-roster.png"))

    # The daemon's side: STARTTLS first, the roster with bob, presence both
    # ways.
    session = waitFor(lambda: traffic(daemon).of(full), f"{full} bound on the server")
    assert session.received[0].tag == "{urn:ietf:params:xml:ns:xmpp-tls}starttls"
    waitFor(lambda: traffic(daemon).of(full).rosterResult() is not None, "the roster result")
    session = traffic(daemon).of(full)
    items = session.rosterResult().findall("{jabber:iq:roster}query/{jabber:iq:roster}item")
    assert [(i.get("jid"), i.get("subscription")) for i in items] == [(BOB[0], "both")]
    assert session.initialPresence() is not None
    waitFor(
        lambda: any(p.get("from") == bob.fullJID and p.get("type") is None
                    for p in traffic(daemon).of(full).sentStanzas("presence")),
        "bob's presence sent to Profanity",
    )

    # bob -> alice: the server delivers it, Profanity shows it in a new window.
    incoming = uniqueText("Hello from bob")
    bob.send(alice, incoming)
    profanity.waitForText(f"<< chat message: {bob.fullJID} (win 2)")
    waitFor(lambda: traffic(daemon).of(full).messagesSent(incoming), "bob's message sent to Profanity")
    profanity.type("/win 2")
    profanity.waitForText(f"{bob.fullJID}: {incoming}")

    # alice -> bob, typed into the chat window.
    outgoing = uniqueText("Hello from Profanity")
    profanity.type(outgoing)
    sender = waitFor(lambda: bob.received(outgoing), "bob to receive Profanity's message")
    assert sender == full
    screen = profanity.waitForText(f"me: {outgoing}")
    screenshotText(screen, os.path.join(screenshots, "profanity-chat.png"))

    # Both messages went through the daemon as chat messages.
    everything = traffic(daemon)
    session, bobs = everything.of(full), everything.of(bob.fullJID)
    [sent] = session.messagesReceived(outgoing)
    # Profanity answers the full JID the message came from.
    assert sent.get("to") in (BOB[0], bob.fullJID) and sent.get("type") == "chat"
    [delivered] = bobs.messagesSent(outgoing)
    assert delivered.get("from") == full
    [delivered] = session.messagesSent(incoming)
    assert delivered.get("from") == bob.fullJID

    # What Profanity asks at login besides the roster got a result each:
    # its bookmarks (private XML storage), the block list and carbons.
    for payload in (PRIVATE, BLOCKLIST, CARBONS):
        [request] = [r for r in session.requests() if r.find(payload) is not None]
        assert session.answer(request).get("type") == "result", session.transcript()

    # Every request answered; no stanza error at all.
    assert session.unanswered() == [], session.transcript()
    assert session.problems(UNIMPLEMENTED) == [], session.transcript()

    # The console shows no error (there used to be "Server error enabling
    # message carbons: service-unavailable").
    profanity.type("/win 1")
    console = profanity.waitForText("logged in successfully")
    errors = [line for line in console.splitlines() if "error" in line.lower()]
    assert errors == [], errors

    # The daemon logged no internal error.
    assert serverFailures(daemon) == []
