"""
The XMPP core: streams, authentication, sessions and routing.
"""
