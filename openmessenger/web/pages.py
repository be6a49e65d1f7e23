# -*- test-case-name: tests.web.test_admin -*-
"""
Rendering pages: Jinja2 templates (escaping everything by default) in the
visitor's language, with the security headers every page carries.
"""

import jinja2

from openmessenger import buttons
from openmessenger.web.i18n import negotiate, translator

#: No scripts, no framing, forms only to ourselves.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
LANGUAGE_COOKIE = b"om_lang"


def secureHeaders(request, csp=CSP):
    request.setHeader(b"content-security-policy", csp.encode("ascii"))
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"referrer-policy", b"no-referrer")
    request.setHeader(b"x-frame-options", b"DENY")
    request.setHeader(b"cache-control", b"no-store")


def language(request):
    def arg(name):
        values = request.args.get(name.encode())
        return values[0].decode("utf-8", "replace") if values else None

    cookie = request.getCookie(LANGUAGE_COOKIE)
    accept = (request.getHeader(b"accept-language") or b"").decode("latin-1")
    return negotiate(arg("lang"), cookie.decode("ascii", "replace") if cookie else None, accept)


class Pages:
    def __init__(self):
        self.environment = jinja2.Environment(
            loader=jinja2.PackageLoader("openmessenger.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def render(self, request, name, csp=CSP, **context):
        lang = language(request)
        if request.args.get(b"lang"):
            request.addCookie(LANGUAGE_COOKIE, lang.encode("ascii"), path=b"/", sameSite=b"lax")
        secureHeaders(request, csp)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        template = self.environment.get_template(name)
        labels = buttons.LABELS[lang]
        return template.render(_=translator(lang), lang=lang, stateLabel=labels.__getitem__,
                               **context).encode("utf-8")
