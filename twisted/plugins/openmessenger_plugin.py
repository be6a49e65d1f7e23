from twisted.application.service import ServiceMaker

OpenMessenger = ServiceMaker(
    "OpenMessenger",
    "openmessenger.tap",
    "Jabber/XMPP server with web status buttons and visitor chat",
    "openmessenger",
)
