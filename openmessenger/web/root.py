# -*- test-case-name: tests.web.test_root -*-
"""
The web listener's root: mounts the administration pages and the static
files.  (Status buttons and visitor chat join here.)
"""

import os

from klein import Klein
from twisted.web.server import Site
from twisted.web.static import File

STATIC = os.path.join(os.path.dirname(__file__), "static")


class RootRoutes:
    app = Klein()

    def __init__(self, admin):
        self.admin = admin

    @app.route("/", methods=["GET"])
    def root(self, request):
        request.setResponseCode(303)
        request.setHeader(b"location", b"/admin/")
        return b""

    @app.route("/admin/", branch=True)
    def adminPages(self, request):
        return self.admin.app.resource()

    @app.route("/static/", branch=True)
    def static(self, request):
        return File(STATIC)


def makeSite(root):
    site = Site(root.app.resource())
    # Request bodies are small forms; refuse anything larger early.
    site.displayTracebacks = False
    return site
