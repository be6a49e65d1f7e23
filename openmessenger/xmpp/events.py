"""
Named events on the account bus, for features that cooperate without
importing each other (xish C{EventDispatcher} events).

Each is dispatched with the L{Session} concerned as its argument, except
L{PRESENCE_OUTBOUND}, dispatched with the presence stanza (whose C{origin}
attribute is the sender's session; C{automatic} is true on presences the
server makes on the user's behalf).
"""

#: A client bound a resource; its session is in the registry.
RESOURCE_BOUND = "//event/om/resource-bound"

#: A session sent its initial presence (it became available).
RESOURCE_AVAILABLE = "//event/om/resource-available"

#: The presence feature accepted a new presence for a session (its
#: C{presence} attribute), available or not, from the client or automatic.
PRESENCE_CHANGED = "//event/om/presence-changed"

#: The client said the user is idle / active again (XEP-0352 inactive/active).
CLIENT_INACTIVE = "//event/om/client-inactive"
CLIENT_ACTIVE = "//event/om/client-active"

#: A session sent a message with a body: its user is at the keyboard.
USER_ACTIVE = "//event/om/user-active"

#: A local client sent a message (the stanza; C{origin} is the session).
MESSAGE_SENT = "//event/om/message-sent"

#: A message was handed to sessions of its recipient (a L{Delivery}).
MESSAGE_DELIVERED = "//event/om/message-delivered"

#: A session's connection broke but it may be resumed (XEP-0198): it has
#: left the registry and shows offline; it keeps its state meanwhile.
RESOURCE_SUSPENDED = "//event/om/resource-suspended"

#: A suspended session was resumed and is in the registry again.
RESOURCE_RESUMED = "//event/om/resource-resumed"

#: A session ended and has left the registry (its stream is gone).
RESOURCE_UNBOUND = "//event/om/resource-unbound"

#: A client sent a presence stanza: broadcast, directed or subscription.
PRESENCE_OUTBOUND = "//event/om/presence-outbound"

#: Every stanza a local client sends, before it goes anywhere, and every
#: stanza arriving for a local address, before delivery: a guard (blocking,
#: the company boundary) stops one by setting its C{handled}, having
#: answered it if need be.  Guards observe at L{GUARD} priority.
STANZA_OUTBOUND = "//event/om/stanza-outbound"
STANZA_INBOUND = "//event/om/stanza-inbound"
GUARD = 100

#: An account was deleted, its data gone from storage (the address).
ACCOUNT_DELETED = "//event/om/account-deleted"

#: Which contacts a user has without storing them (a L{SharedContacts}):
#: listeners add theirs (the directory its groups' members, the visitor
#: chat the visitors a supporter serves).
SHARED_CONTACTS = "//event/om/shared-contacts"

#: The members of a shared-roster group changed, or its name (a
#: L{MembershipChange}): they see each other come and go.
MEMBERSHIP_CHANGED = "//event/om/membership-changed"


class MembershipChange:
    """
    The argument of L{MEMBERSHIP_CHANGED}: who joined and who left C{group}.
    """

    def __init__(self, group, added, removed):
        self.group = group
        self.added = tuple(added)
        self.removed = tuple(removed)
