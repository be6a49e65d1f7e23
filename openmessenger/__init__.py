"""
OpenMessenger: a Jabber/XMPP server with live status buttons and visitor chat.
"""

__version__ = "0.1.0"
