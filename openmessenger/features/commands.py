# -*- test-case-name: tests.features.test_commands -*-
"""
Ad-hoc commands (XEP-0050) offered by the server, with data forms
(XEP-0004).

Commands are objects registered with L{CommandsHandler.register}; each has a
C{node}, a C{name}, C{allowed(requester)}, C{form(requester)} firing with
the form to fill in, and C{submit(requester, form)} firing with a note or a
result form (C{requester} is the bare JID, a string).  A
submission the command refuses (L{CommandError}) shows the form again with
the error, so the user can correct it.
"""


from twisted.internet import defer
from twisted.logger import Logger
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.xmlstream import XMPPHandler, toResponse
from twisted.words.xish import domish
from zope.interface import implementer

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import data_form, disco
from wokkel.iwokkel import IDisco

from openmessenger.xmpp import stanzas

NS_COMMANDS = "http://jabber.org/protocol/commands"
COMMAND_SET = f"/iq[@type='set']/command[@xmlns='{NS_COMMANDS}']"

#: Seconds a multi-step command session stays open.
SESSION_TIMEOUT = 600
#: Open sessions kept at most; the oldest are dropped first.
MAX_SESSIONS = 1000


class CommandError(Exception):
    """
    A submission was refused; the message is shown to the user.
    """


def commandError(condition, specific):
    error = StanzaError(condition)
    error.appCondition = domish.Element((NS_COMMANDS, specific))
    return error


@implementer(IDisco)
class CommandsHandler(XMPPHandler):
    log = Logger()

    def __init__(self, clock):
        XMPPHandler.__init__(self)
        self.now = clock.seconds
        self.commands = {}
        self.sessions = {}

    def register(self, command):
        self.commands[command.node] = command

    def connectionInitialized(self):
        self.xmlstream.addObserver(COMMAND_SET, self.onCommand)

    def getDiscoInfo(self, requestor, target, nodeIdentifier=""):
        if not nodeIdentifier:
            return [disco.DiscoFeature(NS_COMMANDS)]
        command = self.commands.get(nodeIdentifier)
        if command is None or not command.allowed(requestor.userhost()):
            return []
        return [
            disco.DiscoIdentity("automation", "command-node", command.name),
            disco.DiscoFeature(NS_COMMANDS),
            disco.DiscoFeature(data_form.NS_X_DATA),
        ]

    def getDiscoItems(self, requestor, target, nodeIdentifier=""):
        if nodeIdentifier != NS_COMMANDS:
            return []
        return [
            disco.DiscoItem(target, command.node, command.name)
            for command in self.commands.values()
            if command.allowed(requestor.userhost())
        ]

    def onCommand(self, iq):
        iq.handled = True
        d = defer.maybeDeferred(self.process, iq)
        d.addCallback(self.send)
        d.addErrback(self.failed, iq)

    def failed(self, failure, iq):
        if not failure.check(StanzaError):
            self.log.failure("Ad-hoc command failed", failure)
            error = StanzaError("internal-server-error")
        else:
            error = failure.value
        self.send(error.toResponse(iq))

    @defer.inlineCallbacks
    def process(self, iq):
        request = iq.command
        requester = stanzas.bare(iq["from"])
        command = self.commands.get(request.getAttribute("node", ""))
        if command is None:
            raise StanzaError("item-not-found")
        if not command.allowed(requester):
            raise StanzaError("forbidden")
        action = request.getAttribute("action", "execute")
        sessionid = request.getAttribute("sessionid")
        self.expire()
        if sessionid is None:
            if action != "execute":
                raise commandError("bad-request", "bad-action")
            sessionid = stanzas.newId(size=8)
            self.sessions[sessionid] = (requester, command.node, self.now())
            form = yield command.form(requester)
            return self.reply(iq, command, sessionid, "executing", form)
        if self.sessions.get(sessionid, (None, None))[:2] != (requester, command.node):
            raise commandError("bad-request", "bad-sessionid")
        if action == "cancel":
            del self.sessions[sessionid]
            return self.reply(iq, command, sessionid, "canceled")
        if action not in ("execute", "complete"):
            raise commandError("bad-request", "bad-action")
        submitted = None
        for element in request.elements(data_form.NS_X_DATA, "x"):
            submitted = data_form.Form.fromElement(element)
        if submitted is None or submitted.formType != "submit":
            raise commandError("bad-request", "bad-payload")
        try:
            outcome = yield command.submit(requester, submitted)
        except CommandError as e:
            form = yield command.form(requester)
            return self.reply(iq, command, sessionid, "executing", form, ("error", str(e)))
        del self.sessions[sessionid]
        if isinstance(outcome, data_form.Form):
            return self.reply(iq, command, sessionid, "completed", form=outcome)
        return self.reply(iq, command, sessionid, "completed", note=("info", outcome))

    def reply(self, iq, command, sessionid, status, form=None, note=None):
        response = toResponse(iq, "result")
        element = response.addElement((NS_COMMANDS, "command"))
        element["node"] = command.node
        element["sessionid"] = sessionid
        element["status"] = status
        if status == "executing":
            actions = element.addElement("actions")
            actions["execute"] = "complete"
            actions.addElement("complete")
        if note is not None:
            kind, text = note
            element.addElement("note", content=text)["type"] = kind
        if form is not None:
            element.addChild(form.toElement())
        return response

    def expire(self):
        horizon = self.now() - SESSION_TIMEOUT
        for sessionid, (_, _, started) in list(self.sessions.items()):
            if started < horizon or len(self.sessions) > MAX_SESSIONS:
                del self.sessions[sessionid]
