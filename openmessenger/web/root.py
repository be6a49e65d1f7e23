# -*- test-case-name: tests.web.test_root -*-
"""
The web listener's root: the administration pages, the status buttons,
visitor chat and the static files; and the HTTP connection every one of
them is reached through, which bounds request bodies.
"""

import os

from twisted.web.http import HTTPChannel
from twisted.web.pages import notFound
from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from twisted.web.static import File
from twisted.web.util import Redirect

STATIC = os.path.join(os.path.dirname(__file__), "static")
#: The paths that take request bodies (forms, JSON); all others take none.
TAKING_BODIES = (b"/admin/", b"/chat/")


class BoundedRequest(Request):
    """
    A request whose body stops at the channel's limit for its path.
    """

    bodyLimit = None
    received = 0
    refused = False

    def handleContentChunk(self, data):
        if self.refused:
            return
        self.received += len(data)
        if self.bodyLimit is not None and self.received > self.bodyLimit:
            # A chunked body that grew past the limit.
            self.channel.refuseBody(self)
            return
        Request.handleContentChunk(self, data)

    def requestReceived(self, command, path, version):
        if not self.refused:
            Request.requestReceived(self, command, path, version)


class BoundedChannel(HTTPChannel):
    """
    An HTTP connection that answers a body larger than its route takes with
    413 and closes: a declared length is refused before any of the body is
    read, a chunked one as soon as it passes the limit.  Nothing of it is
    written to disk or kept.
    """

    def allHeadersReceived(self):
        request = self.requests[-1]
        request.bodyLimit = self.site.bodyLimit(self._path)
        if self.length is not None and self.length > request.bodyLimit:
            self.refuseBody(request)
            return
        HTTPChannel.allHeadersReceived(self)

    def refuseBody(self, request):
        request.refused = True
        self.transport.write(
            b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        self.loseConnection()


class WebSite(Site):
    """
    The site, logging every request but the status buttons': those come
    every 10 seconds from every open page, and a log line costs more than
    the answer.

    @param maxBody: the largest request body, in bytes, of the routes that
        take one (L{TAKING_BODIES}); the others take none.
    """

    protocol = BoundedChannel
    requestFactory = BoundedRequest

    def __init__(self, resource, maxBody):
        Site.__init__(self, resource)
        self.maxBody = maxBody

    def bodyLimit(self, path):
        return self.maxBody if path.startswith(TAKING_BODIES) else 0

    def log(self, request):
        if not request.uri.startswith(b"/status/"):
            Site.log(self, request)


class StaticFiles(File):
    """
    The files under C{static/}: no directory listings, and a name that no
    file can have (a NUL in it) is simply not found.
    """

    def directoryListing(self):
        return notFound()

    def getChild(self, path, request):
        if b"\0" in path:
            return notFound()
        return File.getChild(self, path, request)


def makeSite(admin, status, demo, visitor, maxBody=65536):
    """
    The web site: C{/admin/} and C{/chat} (Klein), C{/status/}, C{/demo/},
    C{/static/}; C{/} goes to the administration.
    """
    root = Resource()
    root.putChild(b"", Redirect(b"/admin/"))
    root.putChild(b"admin", admin.app.resource())
    root.putChild(b"status", status)
    root.putChild(b"demo", demo)
    root.putChild(b"chat", visitor.app.resource())
    root.putChild(b"static", StaticFiles(STATIC))
    site = WebSite(root, maxBody)
    site.displayTracebacks = False
    return site
