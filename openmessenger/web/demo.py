# -*- test-case-name: tests.web.test_demo -*-
"""
The public live demo: C{/demo/<company-or-group-id>} shows that ID's status
button exactly as a website would embed it, refreshing itself.  The page is
the same for any ID (an unknown one just stays offline), so it tells
nothing the button would not.
"""

from twisted.web.resource import Resource

from openmessenger.web import embed
from openmessenger.web.pages import language


class DemoResource(Resource):
    isLeaf = True

    def __init__(self, pages, publicURL):
        Resource.__init__(self)
        self.pages = pages
        self.publicURL = publicURL.rstrip("/")

    def render_GET(self, request):
        publicId = request.postpath[0].decode("utf-8", "replace") if request.postpath else ""
        lang = language(request)
        live, _ = embed.snippets(self.publicURL, publicId, None, "button", lang)
        # The CSP allows exactly the snippet's script.
        script = embed.refreshScript(embed.imageId(embed.imageURL(self.publicURL, publicId, None, "button", lang)))
        csp = (
            "default-src 'none'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
            f"script-src {embed.cspHash(script)} 'unsafe-hashes' {embed.cspHash(embed.OPENER)}; "
            "base-uri 'none'; form-action 'none'"
        )
        return self.pages.render(request, "demo.html", csp=csp, snippet=live, session=None, csrf="", isAdmin=False)
