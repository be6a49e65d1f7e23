"""
Profanity (a terminal client) in tmux against the real daemon.
"""

import os
import re

import pytest

from tests.clients import (
    Tmux,
    requireTools,
    screenshotDirectory,
    screenshotText,
    traffic,
    uniqueText,
    waitFor,
)
from tests.clients.conftest import ALICE, BOB

#: What the daemon answers with service-unavailable and Profanity asks at
#: login anyway (the server advertises none of them).
UNIMPLEMENTED = {
    "jabber:iq:private",
    "urn:xmpp:blocking",
    "http://jabber.org/protocol/disco#info",
    "http://jabber.org/protocol/disco#items",
    "urn:xmpp:carbons:2",
}


@pytest.fixture
def profanity(tmp_path):
    """
    Profanity in a private tmux server, with HOME and the XDG folders in the
    test's temporary folder; killed after the test, its screen and log
    printed on failure.
    """
    requireTools("profanity", "tmux")
    home = tmp_path / "profanity"
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    for folder in ("config", "data", "cache"):
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

    profanity.type(f"/connect {alice} server 127.0.0.1 port {daemon.port} tls trust")
    profanity.waitForText("Enter password:")
    profanity.type(password)
    profanity.waitForText(re.compile(rf"{re.escape(alice)}/\S+ logged in successfully"))

    connection = waitFor(lambda: traffic(daemon).forResource(alice, "profanity"), "Profanity's session")
    print(profanity.screen())
