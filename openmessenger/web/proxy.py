# -*- test-case-name: tests.web.test_proxy -*-
"""
Who is asking, and over what, behind a reverse proxy: C{X-Forwarded-For}
and C{X-Forwarded-Proto} count only when the request comes from one of the
configured C{trusted_proxies}.
"""


def _peer(request):
    address = request.getClientAddress()
    return getattr(address, "host", str(address))


def clientAddress(request, trusted):
    """
    The client's IP address: the last address a trusted proxy added.
    """
    peer = _peer(request)
    if peer not in trusted:
        return peer
    forwarded = (request.getHeader(b"x-forwarded-for") or b"").decode("latin-1")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    # Skip our own proxies from the right; the first other hop is the client.
    while hops and hops[-1] in trusted:
        hops.pop()
    return hops[-1] if hops else peer


def isSecure(request, trusted):
    """
    Whether the browser's connection is HTTPS (to us or to a trusted proxy).
    """
    if request.isSecure():
        return True
    if _peer(request) in trusted:
        return (request.getHeader(b"x-forwarded-proto") or b"").lower() == b"https"
    return False
