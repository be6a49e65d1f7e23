"""
Tests for L{openmessenger.features.commands} with the auto-away settings
command of L{openmessenger.features.autoaway}.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import FakeServer

NS_COMMANDS = "http://jabber.org/protocol/commands"
NODE = "urn:openmessenger:autoaway"


def submit(sessionid, **values):
    fields = "".join(f"<field var='{k}'><value>{v}</value></field>" for k, v in values.items())
    return (
        f"<iq type='set' id='s' to='example.com'><command xmlns='{NS_COMMANDS}' node='{NODE}' "
        f"sessionid='{sessionid}' action='complete'><x xmlns='jabber:x:data' type='submit'>"
        f"{fields}</x></command></iq>"
    )


class AutoAwayCommandTests(SynchronousTestCase):
    def setUp(self):
        self.server = FakeServer()
        self.server.addUser("alice@example.com")
        self.alice = self.server.login("alice@example.com")

    def start(self):
        self.alice.send(
            f"<iq type='set' id='e' to='example.com'><command xmlns='{NS_COMMANDS}' node='{NODE}' action='execute'/></iq>"
        )
        command = self.alice.readOne().command
        self.assertEqual(command["status"], "executing")
        return command

    def fields(self, command):
        return {f["var"]: str(f.value) for f in command.x.elements("jabber:x:data", "field")}

    def test_showsCurrentValues(self):
        """
        The form shows the defaults in minutes.
        """
        self.assertEqual(self.fields(self.start()), {"away_after": "5", "xa_after": "30"})

    def test_save(self):
        """
        Submitting valid minutes stores seconds and completes.
        """
        command = self.start()
        self.alice.send(submit(command["sessionid"], away_after="10", xa_after="45"))
        done = self.alice.readOne().command
        self.assertEqual(done["status"], "completed")
        self.assertIn("away after 10 min", str(done.note))
        self.assertEqual(self.server.store.getAutoAway("alice@example.com").result, (600, 2700))
        self.assertEqual(self.fields(self.start()), {"away_after": "10", "xa_after": "45"})

    def test_badSubmissions(self):
        """
        Missing, non-numeric, out-of-range and inverted values show the form
        again with an error note, and store nothing.
        """
        for values, words in [
            ({"xa_after": "30"}, "please enter"),
            ({"away_after": "soon", "xa_after": "30"}, "not a whole number"),
            ({"away_after": "-5", "xa_after": "30"}, "not a whole number"),
            ({"away_after": "0", "xa_after": "30"}, "between 1 and 1440"),
            ({"away_after": "30", "xa_after": "10"}, "must come after"),
        ]:
            command = self.start()
            self.alice.send(submit(command["sessionid"], **values))
            again = self.alice.readOne().command
            self.assertEqual(again["status"], "executing", values)
            self.assertEqual(again.note["type"], "error")
            self.assertIn(words, str(again.note), values)
            self.assertIsNotNone(again.x)
        self.assertIsNone(self.server.store.getAutoAway("alice@example.com").result)

    def test_sessionBelongsToRequester(self):
        """
        Another user cannot complete Alice's command session.
        """
        command = self.start()
        self.server.addUser("mallory@example.com")
        mallory = self.server.login("mallory@example.com")
        mallory.send(submit(command["sessionid"], away_after="1", xa_after="2"))
        error = mallory.readOne().error
        self.assertEqual([c.name for c in error.elements()], ["bad-request", "bad-sessionid"])

    def test_cancel(self):
        """
        A cancelled session is gone.
        """
        command = self.start()
        self.alice.send(
            f"<iq type='set' id='c' to='example.com'><command xmlns='{NS_COMMANDS}' node='{NODE}' "
            f"sessionid='{command['sessionid']}' action='cancel'/></iq>"
        )
        self.assertEqual(self.alice.readOne().command["status"], "canceled")
        self.alice.send(submit(command["sessionid"], away_after="1", xa_after="2"))
        self.assertEqual(self.alice.readOne()["type"], "error")

    def test_unknownCommand(self):
        """
        An unknown node is C{item-not-found}.
        """
        self.alice.send(
            f"<iq type='set' id='e' to='example.com'><command xmlns='{NS_COMMANDS}' node='nope'/></iq>"
        )
        self.assertEqual(self.alice.readOne().error.firstChildElement().name, "item-not-found")

    def test_noForm(self):
        """
        Completing without a submitted form is C{bad-payload}.
        """
        command = self.start()
        self.alice.send(
            f"<iq type='set' id='c' to='example.com'><command xmlns='{NS_COMMANDS}' node='{NODE}' "
            f"sessionid='{command['sessionid']}' action='complete'/></iq>"
        )
        error = self.alice.readOne().error
        self.assertEqual([c.name for c in error.elements()], ["bad-request", "bad-payload"])
