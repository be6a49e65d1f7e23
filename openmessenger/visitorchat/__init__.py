"""
Visitor chat: website visitors talk in the browser with support staff, who
answer from their ordinary XMPP client.
"""
