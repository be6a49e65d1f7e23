"""
Named events on the account bus, for features that cooperate without
importing each other (xish C{EventDispatcher} events).

Each is dispatched with the L{Session} concerned as its argument, except
L{PRESENCE_OUTBOUND}, dispatched with the presence stanza (whose C{session}
attribute is the sender's session).
"""

#: A client bound a resource; its session is in the registry.
RESOURCE_BOUND = "//event/om/resource-bound"

#: A session sent its initial presence (it became available).
RESOURCE_AVAILABLE = "//event/om/resource-available"

#: A session ended and has left the registry (its stream is gone).
RESOURCE_UNBOUND = "//event/om/resource-unbound"

#: A client sent a presence stanza: broadcast, directed or subscription.
PRESENCE_OUTBOUND = "//event/om/presence-outbound"
