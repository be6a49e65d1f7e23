"""
Presence you can trust, end to end with slixmpp: auto-away from client
signals, per-user settings by ad-hoc command, and no ghosts.
"""

from datetime import datetime, timedelta, timezone

import pytest_twisted

from tests.integration.harness import Client, Server, wait


async def friends(extra, *plugins, c2s=""):
    """
    A server whose users romeo and juliet are subscribed to each other and
    logged in, with the given slixmpp plugins.
    """
    server = await Server(extra=extra, c2s=c2s).start()
    for user in ("romeo", "juliet"):
        await server.addUser(user)
    clients = []
    for user in ("romeo", "juliet"):
        client = Client(server, user)
        for plugin in plugins:
            client.register_plugin(plugin)
        clients.append(client)
    romeo, juliet = clients
    await romeo.login()
    await juliet.login()
    romeo.send_presence_subscription("juliet@localhost")
    await romeo.subscription("juliet@localhost", "both")
    await juliet.subscription("romeo@localhost", "both")
    return server, romeo, juliet


@pytest_twisted.ensureDeferred
async def test_inactiveClientGoesAwayThenXAThenBack():
    """
    Juliet's client says she is inactive (XEP-0352); Romeo sees her away,
    then extended away, each with an idle stamp, and online again the
    moment her client is active.
    """
    server, romeo, juliet = await friends("[autoaway]\naway_after = 1\nxa_after = 2\n", "xep_0352", "xep_0319")
    try:
        assert juliet.plugin["xep_0352"].enabled
        juliet.plugin["xep_0352"].send_inactive()
        away = await romeo.presenceFrom("juliet@localhost/test", "away")
        assert away["idle"]["since"] is not None
        assert "automatic" in away["status"]
        await romeo.presenceFrom("juliet@localhost/test", "xa")
        juliet.plugin["xep_0352"].send_active()
        await romeo.presenceFrom("juliet@localhost/test", "available")
        assert server.core.availability.stateOf("juliet@localhost") == "online"
    finally:
        await server.stop([romeo, juliet])
        server.cleanup()


@pytest_twisted.ensureDeferred
async def test_idlePresenceGoesAway():
    """
    Juliet's client sends presence with an XEP-0319 idle time two seconds
    ago; with a one-second away interval, Romeo sees her away.
    """
    server, romeo, juliet = await friends("[autoaway]\naway_after = 1\nxa_after = 3600\n")
    try:
        since = datetime.now(timezone.utc) - timedelta(seconds=2)
        presence = juliet.make_presence()
        idle = presence.xml.makeelement("{urn:xmpp:idle:1}idle", {"since": since.isoformat()})
        presence.xml.append(idle)
        presence.send()
        await romeo.presenceFrom("juliet@localhost/test", "away")
    finally:
        await server.stop([romeo, juliet])
        server.cleanup()


@pytest_twisted.ensureDeferred
async def test_silentlyDroppedClientGoesOffline():
    """
    Juliet's connection goes silent without closing (her client neither
    reads nor writes); the server pings, gets nothing, and Romeo sees her
    offline within the configured bound.
    """
    server, romeo, juliet = await friends("", c2s="dead_peer_timeout = 2")
    try:
        juliet.whitespace_keepalive = False
        juliet.transport.pause_reading()
        juliet.send_raw = lambda data: None
        await romeo.presenceFrom("juliet@localhost/test", "unavailable")
        assert server.core.sessions.get("juliet@localhost/test") is None
        assert server.core.availability.stateOf("juliet@localhost") == "offline"
    finally:
        juliet.abort()
        await server.stop([romeo])
        server.cleanup()


@pytest_twisted.ensureDeferred
async def test_autoAwaySettingsCommand():
    """
    Romeo finds "Auto-away settings" among the server's commands, sets 10
    and 40 minutes, and after a restart the form shows his values.
    """
    server = await Server().start()
    await server.addUser("romeo")
    romeo = Client(server, "romeo")
    romeo.register_plugin("xep_0050")
    romeo.register_plugin("xep_0004")
    try:
        await romeo.login()
        items = await wait(romeo.plugin["xep_0050"].get_commands("localhost"))
        nodes = {item[1]: item[2] for item in items["disco_items"]["items"]}
        assert nodes["urn:openmessenger:autoaway"] == "Auto-away settings"
        started = await wait(romeo.plugin["xep_0050"].send_command("localhost", "urn:openmessenger:autoaway"))
        form = started["command"]["form"]
        assert form["values"] == {"away_after": "5", "xa_after": "30"}
        answer = romeo.plugin["xep_0004"].make_form(ftype="submit")
        answer.add_field(var="away_after", value="10")
        answer.add_field(var="xa_after", value="40")
        done = await wait(romeo.plugin["xep_0050"].send_command(
            "localhost", "urn:openmessenger:autoaway", action="complete",
            sessionid=started["command"]["sessionid"], payload=answer,
        ))
        assert done["command"]["status"] == "completed"
    finally:
        await server.stop([romeo])

    restarted = await Server(server.directory).start()
    romeo = Client(restarted, "romeo")
    romeo.register_plugin("xep_0050")
    try:
        await romeo.login()
        started = await wait(romeo.plugin["xep_0050"].send_command("localhost", "urn:openmessenger:autoaway"))
        assert started["command"]["form"]["values"] == {"away_after": "10", "xa_after": "40"}
    finally:
        await restarted.stop([romeo])
        server.cleanup()
