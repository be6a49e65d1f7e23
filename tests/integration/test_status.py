"""
Status buttons end to end: a supporter logs in with slixmpp and walks
through the states; the real HTTP listener's PNG and JSON follow.
"""

import json

import pytest_twisted
import treq

from openmessenger.web.status import loadAnswers
from tests.integration.harness import Client, Server, wait

ANSWERS = loadAnswers()


@pytest_twisted.ensureDeferred
async def test_buttonFollowsPresence():
    """
    Alice, support staff of ACME, goes online, away, extended away, do not
    disturb and offline; right after each change the button's JSON and PNG
    show it, and an unchanged button is a 304.
    """
    server = await Server().start()
    await server.addUser("alice")
    directory = server.core.directory
    company = next(iter(directory.companies))
    await directory.addSupporter(company, "alice@localhost", "alice", "Alice")
    port = (await server.service.ports["http"]).getHost().port
    base = f"http://127.0.0.1:{port}/status/{company}/alice"
    alice = Client(server, "alice")

    async def state():
        response = await treq.get(base + ".json")
        return json.loads(await response.content())["state"]

    async def png():
        response = await treq.get(base + ".png")
        return await response.content()

    try:
        assert await state() == "offline"
        await alice.login()
        await wait(alice.get_roster())  # a round trip: the initial presence was handled
        assert await state() == "online"
        for show in ("away", "xa", "dnd"):
            alice.send_presence(pshow=show)
            await wait(alice.get_roster())  # a round trip: the presence was handled
            assert await state() == show
            assert await png() == ANSWERS[("png", "label", show, "en", 1)].body
        response = await treq.get(base + ".png")
        etag = response.headers.getRawHeaders("etag")[0]
        await response.content()
        again = await treq.get(base + ".png", headers={"If-None-Match": etag})
        assert again.code == 304
        await again.content()
        gone = alice.expect("disconnected")
        alice.disconnect()
        await wait(gone)
        assert await state() == "offline"
    finally:
        await server.stop([alice])
        server.cleanup()
