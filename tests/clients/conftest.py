"""
Fixtures for the real-client tests: a verbose daemon with two accounts, and
the scripted contact C{bob} in alice's roster.
"""

import pytest

from tests.clients import CHANGES, Contact
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
    with server.running(200) as running:
        CHANGES.watch(directory)  # its traffic log: what most waits are for
        yield running


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
