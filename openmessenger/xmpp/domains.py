# -*- test-case-name: tests.xmpp.test_domains -*-
"""
The domains served here: the configured ones (C{[server] domain}) and those
companies bring while the server runs (C{<id>.<base domain>}).  Whoever
must follow them (the routes of the local domain and of the visitors
sub-domains) listens; streams and account addresses ask it.
"""


class ServedDomains:
    def __init__(self, configured):
        """
        @param configured: the domains from the configuration, prepared; the
            first is the server's own name.
        """
        self.configured = tuple(configured)
        self._domains = set(self.configured)
        self._listeners = []

    @property
    def primary(self):
        return self.configured[0]

    def __contains__(self, domain):
        return domain in self._domains

    def __iter__(self):
        return iter(sorted(self._domains))

    def follow(self, added, removed):
        """
        Call C{added(domain)} for every domain served now and from now on,
        and C{removed(domain)} when one is no longer served.
        """
        self._listeners.append((added, removed))
        for domain in self:
            added(domain)

    def add(self, domain):
        if domain not in self._domains:
            self._domains.add(domain)
            for added, _ in self._listeners:
                added(domain)

    def remove(self, domain):
        """
        Stop serving a domain a company brought (never a configured one).
        """
        if domain in self._domains and domain not in self.configured:
            self._domains.discard(domain)
            for _, removed in self._listeners:
                removed(domain)
