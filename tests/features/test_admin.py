"""
Tests for L{openmessenger.features.admin}: service administration
(XEP-0133) for operators.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer

NS_COMMANDS = "http://jabber.org/protocol/commands"
ADMIN = "http://jabber.org/protocol/admin"


def field(name, *values):
    return f"<field var='{name}'>" + "".join(f"<value>{v}</value>" for v in values) + "</field>"


class AdminCommandTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer(admins="boss@example.com")
        self.server.addUser("boss@example.com")
        self.server.addUser("alice@example.com")
        self.boss = self.server.login("boss@example.com")

    def execute(self, client, command, *fields):
        client.send(
            f"<iq type='set' id='e' to='example.com'><command xmlns='{NS_COMMANDS}' "
            f"node='{ADMIN}#{command}'/></iq>"
        )
        started = client.readOne()
        if started["type"] == "error":
            return started
        sessionid = started.command["sessionid"]
        client.send(
            f"<iq type='set' id='c' to='example.com'><command xmlns='{NS_COMMANDS}' node='{ADMIN}#{command}' "
            f"sessionid='{sessionid}' action='complete'><x xmlns='jabber:x:data' type='submit'>"
            + "".join(fields) + "</x></command></iq>"
        )
        return client.readOne()

    def test_onlyAdmins(self):
        """
        Users who are not operators neither see nor run admin commands.
        """
        alice = self.server.login("alice@example.com")
        reply = self.execute(alice, "add-user", field("accountjid", "x@example.com"))
        self.assertEqual(reply.error.firstChildElement().name, "forbidden")
        alice.send(f"<iq type='get' id='i' to='example.com'><query xmlns='http://jabber.org/protocol/disco#items' node='{NS_COMMANDS}'/></iq>")
        nodes = [i["node"] for i in alice.readOne().query.elements()]
        self.assertEqual(nodes, ["urn:openmessenger:autoaway"])

    def test_addChangeDelete(self):
        """
        The operator adds a user, changes the password and deletes the user.
        """
        done = self.execute(self.boss, "add-user", field("accountjid", "carol@example.com"),
                        field("password", "pw1"), field("password-verify", "pw1"))
        self.assertEqual(done.command["status"], "completed")
        self.assertTrue(self.server.core.accounts.exists("carol@example.com"))
        done = self.execute(self.boss, "change-user-password", field("accountjid", "carol@example.com"),
                        field("password", "pw2"))
        self.assertEqual(done.command["status"], "completed")
        from openmessenger.xmpp.sasl import checkPassword
        self.assertTrue(checkPassword(self.server.store.getCredentials("carol@example.com").result, "pw2"))
        done = self.execute(self.boss, "delete-user", field("accountjids", "carol@example.com"))
        self.assertEqual(done.command["status"], "completed")
        self.assertFalse(self.server.core.accounts.exists("carol@example.com"))

    def test_errorsShowForm(self):
        """
        Mismatched passwords or an existing account show the form again.
        """
        for fields in [
            (field("accountjid", "carol@example.com"), field("password", "a"), field("password-verify", "b")),
            (field("accountjid", "alice@example.com"), field("password", "a"), field("password-verify", "a")),
            (field("accountjid", "carol@elsewhere.example"), field("password", "a"), field("password-verify", "a")),
        ]:
            reply = self.execute(self.boss, "add-user", *fields)
            self.assertEqual((reply.command["status"], reply.command.note["type"]), ("executing", "error"))

    def test_onlineUsers(self):
        """
        The operator lists who is online.
        """
        self.server.login("alice@example.com")
        reply = self.execute(self.boss, "get-online-users-list", field("max_items", "none"))
        users = [str(v) for f in reply.command.x.elements() if f.getAttribute("var") == "onlineuserjids"
                 for v in f.elements()]
        self.assertEqual(sorted(users), ["alice@example.com", "boss@example.com"])

    def test_announce(self):
        """
        An announcement reaches every online resource as a headline.
        """
        alice = self.server.login("alice@example.com")
        self.boss.send(
            f"<iq type='set' id='e' to='example.com'><command xmlns='{NS_COMMANDS}' node='{ADMIN}#announce'/></iq>"
        )
        sessionid = self.boss.readOne().command["sessionid"]
        self.boss.send(
            f"<iq type='set' id='c' to='example.com'><command xmlns='{NS_COMMANDS}' node='{ADMIN}#announce' "
            f"sessionid='{sessionid}' action='complete'><x xmlns='jabber:x:data' type='submit'>"
            + field("subject", "Maintenance") + field("announcement", "Restart at 18:00")
            + "</x></command></iq>"
        )
        kinds = sorted(e.name for e in self.boss.read())
        self.assertEqual(kinds, ["iq", "message"])
        (message,) = [e for e in alice.read() if e.name == "message"]
        self.assertEqual((message["type"], str(message.subject), str(message.body)),
                         ("headline", "Maintenance", "Restart at 18:00"))
