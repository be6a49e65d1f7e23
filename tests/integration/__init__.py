"""
End-to-end tests: the real server over loopback, driven by slixmpp.
"""
