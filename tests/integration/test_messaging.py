"""
Two users log in to the real server over loopback with slixmpp, befriend
each other and chat; offline messages and rosters survive a restart.
"""

import pytest_twisted

from tests.integration.harness import Client, Server, wait

# Each test is one conversation; its docstring tells it.


async def started(extra=""):
    server = await Server(extra=extra).start()
    await server.addUser("romeo")
    await server.addUser("juliet")
    return server


@pytest_twisted.ensureDeferred
async def test_befriendAndChat():
    """
    Romeo and Juliet log in over STARTTLS with SCRAM, subscribe to each
    other, see each other's presence changes, and exchange messages.
    """
    server = await started()
    romeo = Client(server, "romeo", "balcony")
    juliet = Client(server, "juliet", "window")
    try:
        await romeo.login()
        await juliet.login()
        assert romeo.is_connected()
        romeo.send_presence_subscription("juliet@localhost")
        # slixmpp answers subscription requests and asks back by default.
        await juliet.presenceFrom("romeo@localhost/balcony")
        await romeo.presenceFrom("juliet@localhost/window")
        await romeo.subscription("juliet@localhost", "both")
        await juliet.subscription("romeo@localhost", "both")

        juliet.send_presence(pshow="away", pstatus="Asleep")
        away = await romeo.presenceFrom("juliet@localhost/window", "away")
        assert away["status"] == "Asleep"

        romeo.send_message(mto="juliet@localhost", mbody="But soft!", mtype="chat")
        message = await juliet.nextMessage()
        assert (message["from"].full, message["body"]) == ("romeo@localhost/balcony", "But soft!")
        juliet.send_message(mto=message["from"], mbody="Wherefore art thou?", mtype="chat")
        assert (await romeo.nextMessage())["body"] == "Wherefore art thou?"

        juliet.disconnect()
        await romeo.presenceFrom("juliet@localhost/window", "unavailable")
    finally:
        await server.stop([romeo, juliet])
        server.cleanup()


@pytest_twisted.ensureDeferred
async def test_offlineMessagesAndRosterSurviveRestart():
    """
    Romeo adds Juliet and writes to her while she is offline; the server
    restarts; Juliet logs in and gets the message with its delay stamp, and
    Romeo's roster is still there.
    """
    server = await started()
    romeo = Client(server, "romeo")
    try:
        await romeo.login()
        await wait(romeo.update_roster("juliet@localhost", name="Juliet", groups=["Capulets"]))
        romeo.send_message(mto="juliet@localhost", mbody="Meet me at dawn", mtype="chat")
        # A round trip: by its answer, the message sent before was stored.
        await wait(romeo.get_roster())
    finally:
        await server.stop([romeo])

    restarted = await Server(server.directory).start()
    romeo = Client(restarted, "romeo", "again")
    juliet = Client(restarted, "juliet")
    juliet.register_plugin("xep_0203")
    try:
        await romeo.login()
        item = romeo.client_roster["juliet@localhost"]
        assert (item["name"], item["groups"]) == ("Juliet", ["Capulets"])
        await juliet.login()
        message = await juliet.nextMessage()
        assert message["body"] == "Meet me at dawn"
        assert message["delay"]["stamp"] is not None
        assert message["delay"]["from"].full == "localhost"
    finally:
        await restarted.stop([romeo, juliet])
        server.cleanup()


@pytest_twisted.ensureDeferred
async def test_directTLS():
    """
    Juliet logs in over direct TLS (XEP-0368) on the second port.
    """
    server = await started()
    juliet = Client(server, "juliet", directTLS=True)
    try:
        await juliet.login()
        assert server.core.sessions.get("juliet@localhost/test") is not None
    finally:
        await server.stop([juliet])
        server.cleanup()


@pytest_twisted.ensureDeferred
async def test_wrongPassword():
    """
    Romeo with a wrong password is refused.
    """
    server = await started()
    romeo = Client(server, "romeo", password="wrong")
    try:
        try:
            await romeo.login()
        except RuntimeError as e:
            assert "authentication failed" in str(e)
        else:
            raise AssertionError("logged in with a wrong password")
    finally:
        await server.stop([romeo])
        server.cleanup()
