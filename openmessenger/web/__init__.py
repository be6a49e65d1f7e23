"""
The web side: administration, status buttons and visitor chat, served by
Klein in the same process as the XMPP server.
"""
