# -*- test-case-name: tests.features.test_sharedroster -*-
"""
Shared rosters: the members of a group see each other in their rosters,
under the group's name, with presence both ways, without asking (like
Openfire's shared groups and ejabberd's mod_shared_roster).

The contacts themselves come from the directory whenever a roster is read
(L{openmessenger.xmpp.rosters.CachedRoster.allItems}); this module makes a
change of membership visible at once: roster pushes to online clients, and
presence exchanged between the new (or former) group mates.
"""

from twisted.words.protocols.jabber.xmlstream import XMPPHandler

from openmessenger.xmpp import events, stanzas


class SharedRosterHandler(XMPPHandler):
    def __init__(self, rosters, sessions):
        XMPPHandler.__init__(self)
        self.rosters = rosters
        self.sessions = sessions

    def connectionInitialized(self):
        self.xmlstream.addObserver(events.MEMBERSHIP_CHANGED, self.membershipChanged)

    def membershipChanged(self, change):
        group, added, removed = change.group, change.added, change.removed
        remaining = [m for m in group.members if m not in added]
        for member in added:
            for other in remaining + [m for m in added if m != member]:
                self.rosters.sharedChanged(other, member)
                self.exchange(member, other, None)
        for member in removed:
            for other in group.members:
                self.rosters.sharedChanged(other, member)
                self.rosters.sharedChanged(member, other)
                self.exchange(member, other, "unavailable")

    def exchange(self, one, other, kind):
        """
        Send each user's current presence (or unavailable) to the other.
        """
        for sender, recipient in ((one, other), (other, one)):
            for session in self.sessions.availableSessions(sender):
                if kind is None:
                    presence = stanzas.clone(session.presence)
                    presence["to"] = recipient
                else:
                    presence = stanzas.presence(recipient, session.full, kind)
                self.send(presence)
