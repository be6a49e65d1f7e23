"""
Fixtures for the real-client tests: a verbose daemon with two accounts, and
the scripted contact C{bob} in alice's roster.
"""

import pytest

from tests.clients import Contact
from tests.daemon import Daemon

ALICE = ("alice@localhost", "alice-secret")
BOB = ("bob@localhost", "bob-secret")


@pytest.fixture
def daemon(tmp_path):
    """
    The real daemon, logging all traffic (C{--verbose}), with the accounts
    alice and bob; stopped after the test, its log printed on failure.
    """
    directory = tmp_path / "server"
    directory.mkdir()
    server = Daemon(directory, verbose=True)
    server.addUser(*ALICE)
    server.addUser(*BOB)
    server.start()
    yield server
    server.stop()
    # pytest shows this only for a failed test.
    print(f"--- daemon log ({server.logFile}), last 200 lines ---")
    print("\n".join(server.log().splitlines()[-200:]))


@pytest.fixture
def bob(daemon):
    """
    bob online (slixmpp), with alice and bob subscribed to each other; alice
    is logged out again, for a real client to log in as her.
    """
    contacts = []
    try:
        alice = Contact(*ALICE, daemon.port, daemon.certificate)
        contacts.append(alice)
        contact = Contact(*BOB, daemon.port, daemon.certificate)
        contacts.append(contact)
        alice.befriend(contact)
        alice.close()
        contacts.remove(alice)
        yield contact
    finally:
        for contact in contacts:
            contact.close()
