# -*- test-case-name: tests.web.test_embed -*-
"""
Copy-paste HTML for status buttons: a link that opens the visitor chat in
its own window around the live image, with a tiny inline script that
re-fetches the image every 10 seconds (a cheap 304 while nothing changed);
and a no-script variant for e-mail signatures.

The script needs no external file, sets no cookie and touches no style of
the host page.
"""

import base64
import hashlib
from html import escape
from urllib.parse import quote, urlencode

REFRESH_SECONDS = 10
SIZES = {"label": (150, 22), "mono": (150, 22), "button": (200, 48), "dot": (16, 16)}


def imageId(image):
    return "om-status-" + hashlib.sha1(image.encode("utf-8")).hexdigest()[:8]


def statusPath(publicId, slug=None):
    path = "/status/" + quote(publicId, safe="")
    if slug:
        path += "/" + quote(slug, safe="")
    return path


def chatURL(base, publicId, slug=None, parameters=()):
    """
    The visitor chat's entry URL, with C{param_*} values for the supporter.
    """
    query = [("company", publicId)]
    if slug:
        query.append(("supporter", slug))
    query += [(f"param_{name}", value) for name, value in parameters]
    return f"{base}/chat?{urlencode(query)}"


#: Opens the chat in a window of its own.
OPENER = "window.open(this.href,'openmessenger','width=440,height=640,resizable=yes');return false;"


def refreshScript(ident):
    """
    The inline script that refreshes the image with id C{ident}: it asks
    with C{no-cache}, so an unchanged picture costs a 304.
    """
    return (
        "(function(){var i=document.getElementById('" + ident + "'),u=i.src;"
        "setInterval(function(){fetch(u,{cache:'no-cache'}).then(function(r){return r.blob()})"
        ".then(function(b){var o=i.src;i.src=URL.createObjectURL(b);"
        "if(o.indexOf('blob:')===0)URL.revokeObjectURL(o)}).catch(function(){})},"
        f"{REFRESH_SECONDS * 1000})"
        "})();"
    )


def cspHash(code):
    """
    The CSP source that allows exactly this inline code.
    """
    return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode() + "'"


def imageURL(base, publicId, slug=None, iconset="label", lang="en"):
    """
    The button's picture (PNG), under C{base} (the public URL, or "").
    """
    return f"{base}{statusPath(publicId, slug)}.png?{urlencode([('iconset', iconset), ('lang', lang)])}"


def snippets(base, publicId, slug=None, iconset="label", lang="en", parameters=()):
    """
    The HTML to paste: C{(withScript, withoutScript)}.

    @param base: the server's public URL (C{[http] public_url}).
    @param parameters: C{(name, value)} pairs passed to the chat as
        C{param_<name>}.
    """
    image = imageURL(base, publicId, slug, iconset, lang)
    chat = chatURL(base, publicId, slug, parameters)
    width, height = SIZES.get(iconset, SIZES["label"])
    alt = "Live-Support" if lang == "de" else "Live support"
    ident = imageId(image)
    img = (f'<img src="{escape(image)}" alt="{alt}" width="{width}" height="{height}" '
           f'style="border:0"')
    plain = f'<a href="{escape(chat)}" target="_blank" rel="noopener">{img}></a>'
    live = (f'<a href="{escape(chat)}" target="_blank" rel="noopener" onclick="{escape(OPENER)}">'
            f'{img} id="{ident}"></a><script>{refreshScript(ident)}</script>')
    return live, plain
