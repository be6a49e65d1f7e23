"""
Tests for L{openmessenger.visitorchat.model}.
"""

from twisted.trial.unittest import SynchronousTestCase

from openmessenger.visitorchat import model


class DispatcherTests(SynchronousTestCase):
    def test_bestStateFirst(self):
        """
        Online before away before xa; never dnd or offline.
        """
        states = {"a": "xa", "b": "away", "c": "dnd", "d": "offline"}
        d = model.Dispatcher()
        self.assertEqual(d.choose(list(states), states.get, lambda j: 0), "b")
        states["b"] = "offline"
        self.assertEqual(d.choose(list(states), states.get, lambda j: 0), "a")
        states["a"] = "dnd"
        self.assertIsNone(d.choose(list(states), states.get, lambda j: 0))

    def test_fair(self):
        """
        Among equals, the least busy, then in turn.
        """
        states = {"a": "online", "b": "online", "c": "online"}
        load = {"a": 1, "b": 0, "c": 0}
        d = model.Dispatcher()
        first = d.choose(list(states), states.get, load.get)
        second = d.choose(list(states), states.get, load.get)
        self.assertEqual({first, second}, {"b", "c"})
        self.assertEqual(d.choose(list(states), states.get, lambda j: 0, exclude=("a", "b")), "c")


class CheckTests(SynchronousTestCase):
    def test_bounds(self):
        """
        Names, messages and parameters are bounded.
        """
        self.assertEqual(model.cleanText("  Vera \n Visitor ", 64, "name"), "Vera Visitor")
        self.assertRaises(model.VisitorError, model.cleanText, "", 64, "name")
        self.assertRaises(model.VisitorError, model.cleanText, "x" * 65, 64, "name")
        self.assertRaises(model.VisitorError, model.cleanParameters, [("p", "v")] * 21)
        self.assertRaises(model.VisitorError, model.cleanParameters, [("p", "v" * 513)])
