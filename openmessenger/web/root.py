# -*- test-case-name: tests.web.test_root -*-
"""
The web listener's root: the administration pages, the status buttons and
the static files.  (Visitor chat joins here.)
"""

import os

from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import File
from twisted.web.util import Redirect

STATIC = os.path.join(os.path.dirname(__file__), "static")


class WebSite(Site):
    """
    The site, logging every request but the status buttons': those come
    every 10 seconds from every open page, and a log line costs more than
    the answer.
    """

    def log(self, request):
        if not request.uri.startswith(b"/status/"):
            Site.log(self, request)


def makeSite(admin, status, demo, visitor):
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
    root.putChild(b"static", File(STATIC))
    site = WebSite(root)
    site.displayTracebacks = False
    return site
