"""
The services a modern client expects, each exercised end to end by a
slixmpp client built from slixmpp's own plugin for it.
"""


import pytest_twisted

from tests.integration.harness import Client, Server, wait


async def started(*users, extra=""):
    server = await Server(extra=extra).start()
    for user in users:
        await server.addUser(user)
    return server


@pytest_twisted.ensureDeferred
async def test_streamResumption():
    """
    Juliet's TCP connection is cut mid-chat (no closing tag); Romeo keeps
    writing; Juliet resumes the stream (XEP-0198) and has every one of
    Romeo's messages exactly once.
    """
    server = await started("romeo", "juliet")
    romeo = Client(server, "romeo")
    juliet = Client(server, "juliet")
    juliet.register_plugin("xep_0198")
    try:
        await romeo.login()
        await juliet.login()
        assert juliet.plugin["xep_0198"].sm_id
        for n in range(5):
            romeo.send_message(mto="juliet@localhost", mbody=f"m{n}", mtype="chat")
        got = [(await juliet.nextMessage())["body"] for _ in range(3)]
        resumed = juliet.expect("session_resumed")
        disconnected = juliet.expect("disconnected")
        juliet.transport.abort()
        await wait(disconnected)
        for n in range(5, 10):
            romeo.send_message(mto="juliet@localhost", mbody=f"m{n}", mtype="chat")
        await wait(romeo.get_roster())  # a round trip: the messages were handled
        juliet.connect("127.0.0.1", server.port)
        await wait(resumed)
        while len(got) < 10:
            got.append((await juliet.nextMessage())["body"])
        await wait(juliet.get_roster())
        assert juliet.messages.empty(), "a message arrived twice"
        assert sorted(got, key=lambda b: int(b[1:])) == [f"m{n}" for n in range(10)]
    finally:
        await server.stop([romeo, juliet])
        server.cleanup()


@pytest_twisted.ensureDeferred
async def test_vcardPrivateBlockingCarbonsTimeVersionLastPing():
    """
    Romeo uses the vCard, private storage, blocking, carbons, entity time,
    version, last activity and ping plugins of slixmpp against the server.
    """
    server = await started("romeo", "juliet")
    romeo = Client(server, "romeo", "pc")
    for plugin in ["xep_0054", "xep_0049", "xep_0191", "xep_0280", "xep_0202",
                   "xep_0092", "xep_0012", "xep_0199", "xep_0030"]:
        romeo.register_plugin(plugin)
    juliet = Client(server, "juliet")
    juliet.register_plugin("xep_0054")
    try:
        await romeo.login()
        await juliet.login()
        info = await wait(romeo.plugin["xep_0030"].get_info("localhost"))
        features = set(info["disco_info"]["features"])
        for feature in ["vcard-temp", "jabber:iq:private", "urn:xmpp:blocking", "urn:xmpp:carbons:2",
                        "urn:xmpp:time", "jabber:iq:version", "jabber:iq:last", "urn:xmpp:ping"]:
            assert feature in features, feature

        vcard = romeo.plugin["xep_0054"].make_vcard()
        vcard["FN"] = "Romeo Montague"
        await wait(romeo.plugin["xep_0054"].publish_vcard(vcard))
        fetched = await wait(juliet.plugin["xep_0054"].get_vcard("romeo@localhost"))
        assert fetched["vcard_temp"]["FN"] == "Romeo Montague"

        await wait(romeo.plugin["xep_0049"].store(romeo.plugin["xep_0054"].make_vcard()))

        await wait(romeo.plugin["xep_0191"].block("juliet@localhost"))
        blocked = await wait(romeo.plugin["xep_0191"].get_blocked())
        assert 'jid="juliet@localhost"' in str(blocked["blocklist"])
        await wait(romeo.plugin["xep_0191"].unblock("juliet@localhost"))

        await wait(romeo.plugin["xep_0280"].enable())
        time = await wait(romeo.plugin["xep_0202"].get_entity_time("localhost"))
        # Read the XML: slixmpp's own parser of <tzo/> and <utc/> rejects
        # XEP-0082 times with a zone designator.
        utc = time.xml.find("{urn:xmpp:time}time/{urn:xmpp:time}utc").text
        assert utc.endswith("Z") and "T" in utc
        version = await wait(romeo.plugin["xep_0092"].get_version("localhost"))
        assert version["software_version"]["name"] == "OpenMessenger"
        uptime = await wait(romeo.plugin["xep_0012"].get_last_activity("localhost"))
        assert int(uptime["last_activity"]["seconds"]) >= 0
        await wait(romeo.plugin["xep_0199"].ping("localhost"))
    finally:
        await server.stop([romeo, juliet])
        server.cleanup()
