# -*- test-case-name: tests.test_directory -*-
"""
Companies, groups, support staff and account profiles, in memory.

Read once at start-up and kept: the status buttons and the shared roster
ask it on every request, so it never waits for storage.  It is the only
writer of the directory: every change is validated here, written through to
storage, applied to the copy once stored, and announced to listeners (the
shared roster pushes roster changes to online clients).
"""

import re
from dataclasses import replace

from twisted.internet import defer

from openmessenger.buttons import ICONSETS
from openmessenger.messages import Message
from openmessenger.storage.interfaces import Company, Group, Profile, RosterItem, Supporter
from openmessenger.xmpp import events

#: Company and group IDs: also the first label of automatic domains.
PUBLIC_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,30}[a-z0-9]\Z")
#: Support staff are ordered by numbers up to this size (either sign).
MAX_POSITION = 99999
SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}\Z")


class DirectoryError(ValueError):
    """
    A change that would break the directory's rules; the message (a
    L{Message}) says which.
    """

    def __init__(self, template, **values):
        ValueError.__init__(self, Message(template, **values))


def defaultCompanyId(domain):
    """
    The ID of the company made for a domain on first start.
    """
    text = re.sub(r"[^a-z0-9-]", "-", domain.lower()).strip("-")[:32]
    return text if PUBLIC_ID.match(text) else "default"


def ensureDefaultCompany(store, domains):
    """
    On a new install, make one company own the configured domains.  Needs a
    store that answers at once (start-up, the command-line tool).

    @return: the company made, or C{None} if there were companies already.
    """
    if store.loadDirectory().result.companies:
        return None
    company = Company(defaultCompanyId(domains[0]), domains[0], tuple(domains))
    store.putCompany(company)
    return company


class Directory:
    def __init__(self, store, accounts, domains, fire, baseDomain=""):
        """
        @param store: an L{IDirectoryStore}.
        @param accounts: the L{AccountManager}; disabled accounts and those
            of companies awaiting approval cannot log in.
        @param domains: the L{ServedDomains}; companies' domains are added
            to it and removed with them.
        @param fire: fires named events (L{LocalDomain.fire}): membership
            changes of shared-roster groups.
        @param baseDomain: new companies get C{<id>.<baseDomain>} as their
            domain; empty: their domains must be configured ones.
        """
        self.store = store
        self.accounts = accounts
        self.fire = fire
        self.domains = domains
        self.baseDomain = baseDomain
        self.companies = {}
        self.groups = {}
        #: Support staff by company, then by account: a status button
        #: looks at its own company's only.
        self.staff = {}
        self.profiles = {}
        #: Which company (ID) each domain belongs to.
        self.domainOwners = {}
        #: The IDs of each user's groups: rosters ask on every presence.
        self.memberships = {}
        #: Answers kept until the directory changes (see L{changed}): shared
        #: contacts by user, public support staff by public ID.
        self._shared = {}
        self._public = {}
        #: Public IDs being stored: taken already for anyone else asking.
        self.reserved = set()

    def load(self, snapshot):
        self.companies = {c.id: c for c in snapshot.companies}
        self.groups = {}
        self.memberships = {}
        for group in snapshot.groups:
            self.keepGroup(group.id, group)
        self.staff = {}
        for s in snapshot.supporters:
            self.staff.setdefault(s.company, {})[s.jid] = s
        self.profiles = {p.jid: p for p in snapshot.profiles}
        self.changed()
        self.domainOwners = {d: c.id for c in self.companies.values() for d in c.domains}
        for domain in self.domainOwners:
            self.domains.add(domain)

    # Reading

    def companyOfDomain(self, domain):
        # Asked for every login and every stanza between domains: by index.
        return self.companies.get(self.domainOwners.get(domain))

    def companyOf(self, user):
        return self.companyOfDomain(user.rpartition("@")[2])

    def resolve(self, publicId):
        """
        The company or group with a public ID, or C{None} (also while the
        company awaits approval).
        """
        owner = self.companies.get(publicId) or self.groups.get(publicId)
        company = self.companies.get(getattr(owner, "company", publicId))
        return owner if company is not None and company.approved else None

    def mayLogIn(self, user):
        company = self.companyOf(user)
        return self.profile(user).enabled and (company is None or company.approved)

    def automaticDomain(self, companyId):
        return f"{companyId}.{self.baseDomain}" if self.baseDomain else None

    def groupsOf(self, user):
        return [self.groups[g] for g in sorted(self.memberships.get(user, ()))]

    def keepGroup(self, groupId, group):
        """
        Make C{group} the one with C{groupId} in memory (C{None}: none),
        keeping the membership index in step.
        """
        self.changed()
        old = self.groups.pop(groupId, None)
        for member in old.members if old else ():
            self.memberships[member].discard(groupId)
        if group is not None:
            self.groups[groupId] = group
            for member in group.members:
                self.memberships.setdefault(member, set()).add(groupId)

    def changed(self):
        """
        Forget the kept answers: every change of the directory calls this
        (rosters and status buttons ask for every presence and request).
        """
        self._shared.clear()
        self._public.clear()

    def supportersOf(self, publicId):
        """
        The support staff behind a public ID, in display order: a company's
        all, a group's those designated for it.  Callers must not change it.
        """
        supporters = self._public.get(publicId)
        if supporters is None:
            owner = self.resolve(publicId)
            supporters = () if owner is None else tuple(
                s for s in self.designated(owner) if self.profile(s.jid).enabled and self.accounts.exists(s.jid)
            )
            self._public[publicId] = supporters
        return supporters

    def designated(self, owner):
        """
        The support staff designated for a company (all of its) or a group,
        in display order, whether they can be shown or not.
        """
        staff = self.staff.get(getattr(owner, "company", owner.id), {}).values()
        chosen = staff if isinstance(owner, Company) else [s for s in staff if s.group == owner.id]
        return sorted(chosen, key=lambda s: (s.position, s.name, s.jid))

    def supporter(self, companyId, user):
        """
        The L{Supporter} C{user} is for the company, or C{None}.
        """
        return self.staff.get(companyId, {}).get(user)

    def profile(self, user):
        return self.profiles.get(user) or Profile(user)

    def displayName(self, user):
        return self.profile(user).displayName or user.partition("@")[0]

    def sharedContacts(self, user):
        """
        The contacts a user has through shared-roster groups, as roster items
        (subscribed both ways, in the groups' names).  Rosters ask for every
        presence and probe, so the answer is kept until a group or a display
        name changes; callers must not change it.
        """
        contacts = self._shared.get(user)
        if contacts is None:
            contacts = self._shared[user] = self.computeSharedContacts(user)
        return contacts

    def addSharedContacts(self, asked):
        """
        Add a user's contacts through groups to L{events.SHARED_CONTACTS}.
        """
        asked.contacts.update(self.sharedContacts(asked.user))

    def computeSharedContacts(self, user):
        contacts = {}
        for group in self.groupsOf(user):
            if not group.sharedRoster:
                continue
            for member in group.members:
                if member == user:
                    continue
                item = contacts.get(member) or RosterItem(
                    member, self.displayName(member), (), "both"
                )
                contacts[member] = item.evolve(groups=item.groups + (group.name,))
        return contacts

    # Changing

    def checkPublicId(self, publicId):
        if not PUBLIC_ID.match(publicId or ""):
            raise DirectoryError(
                "{id!r}: IDs are 2 to 32 of a-z, 0-9 and '-', starting and ending with a letter or digit", id=publicId
            )
        if publicId in self.companies or publicId in self.groups or publicId in self.reserved:
            raise DirectoryError("{id!r} is taken", id=publicId)

    @defer.inlineCallbacks
    def storeNew(self, publicId, put):
        """
        Store a new company or group, its ID reserved meanwhile, so two
        requests at once cannot both take it.
        """
        self.reserved.add(publicId)
        try:
            yield put()
        finally:
            self.reserved.discard(publicId)

    @defer.inlineCallbacks
    def addCompany(self, companyId, name, domains=(), approved=True):
        """
        Add a company with C{domains}, configured ones or its automatic one;
        none given: its automatic one.  An unapproved company's users cannot
        log in until L{approveCompany}.
        """
        self.checkPublicId(companyId)
        automatic = self.automaticDomain(companyId)
        if not domains and automatic in self.domains:
            # Served already (a configured domain): not to be taken over.
            raise DirectoryError("{id!r} is taken", id=companyId)
        domains = tuple(domains) or ((automatic,) if automatic else ())
        if not domains:
            raise DirectoryError("name a domain: no [companies] base_domain is set for automatic ones")
        for domain in domains:
            if domain not in self.domains.configured and domain != automatic:
                raise DirectoryError("{domain} is not a domain served here", domain=domain)
            owner = self.companyOfDomain(domain)
            if owner is not None:
                raise DirectoryError("{domain} belongs to {company}", domain=domain, company=owner.id)
        company = Company(companyId, name.strip() or companyId, domains, approved)
        yield self.storeNew(companyId, lambda: self.store.putCompany(company))
        self.companies[companyId] = company
        self.changed()
        for domain in domains:
            self.domainOwners[domain] = companyId
            self.domains.add(domain)
        return company

    @defer.inlineCallbacks
    def approveCompany(self, companyId):
        if self.company(companyId).approved:
            raise DirectoryError("{company} is approved already", company=companyId)
        return (yield self.setCompany(companyId, approved=True))

    @defer.inlineCallbacks
    def setCompany(self, companyId, **changes):
        """
        Change a company's name, approval or settings.
        """
        company = replace(self.company(companyId), **changes)
        if not company.name.strip():
            raise DirectoryError("a company needs a name")
        if company.iconSet not in ICONSETS:
            raise DirectoryError("{name!r}: the icon sets are {sets}", name=company.iconSet, sets=", ".join(ICONSETS))
        if company.retentionDays is not None and not 0 <= company.retentionDays <= 36500:
            raise DirectoryError("keep transcripts 0 (for ever) to 36500 days")
        if (company.awayAfter is None) != (company.xaAfter is None) or (
            company.awayAfter is not None and not 60 <= company.awayAfter < company.xaAfter <= 86400
        ):
            raise DirectoryError("auto-away: away after 1 minute or more, extended away later, within a day")
        yield self.store.putCompany(company)
        self.companies[companyId] = company
        self.changed()
        return company

    def company(self, companyId):
        company = self.companies.get(companyId)
        if company is None:
            raise DirectoryError("there is no company {company!r}", company=companyId)
        return company

    def group(self, groupId):
        group = self.groups.get(groupId)
        if group is None:
            raise DirectoryError("there is no group {group!r}", group=groupId)
        return group

    @defer.inlineCallbacks
    def removeCompany(self, companyId):
        """
        Remove a company with its groups and support staff; on a domain it
        brought (not a configured one), its accounts go too.
        """
        company = self.company(companyId)
        for group in [g for g in self.groups.values() if g.company == company.id]:
            yield self.removeGroup(group.id)
        yield self.store.deleteCompany(company.id)
        del self.companies[company.id]
        self.staff.pop(company.id, None)
        self.changed()
        for domain in company.domains:
            del self.domainOwners[domain]
            if domain not in self.domains.configured:
                for user in (yield self.accounts.list(domain)):
                    yield self.accounts.delete(user)
                self.domains.remove(domain)

    def autoAwayDefaults(self, user, serverDefaults):
        """
        The auto-away intervals of a user who has not chosen their own.
        """
        company = self.companyOf(user)
        if company is None or company.awayAfter is None:
            return serverDefaults
        return company.awayAfter, company.xaAfter

    def checkMember(self, company, user):
        if not self.accounts.exists(user):
            raise DirectoryError("there is no account {user}", user=user)
        if user.rpartition("@")[2] not in company.domains:
            raise DirectoryError("{user} is not a user of {company}", user=user, company=company.id)

    @defer.inlineCallbacks
    def addGroup(self, groupId, companyId, name, sharedRoster=True):
        company = self.company(companyId)
        self.checkPublicId(groupId)
        group = Group(groupId, company.id, name.strip() or groupId, sharedRoster)
        yield self.storeNew(groupId, lambda: self.store.putGroup(group))
        self.keepGroup(groupId, group)
        return group

    @defer.inlineCallbacks
    def renameGroup(self, groupId, name, sharedRoster):
        group = self.group(groupId)
        changed = replace(group, name=name.strip() or group.id, sharedRoster=sharedRoster)
        yield self.store.putGroup(changed)
        self.keepGroup(groupId, changed)
        # Members see the new name, or each other appear or disappear.
        if group.sharedRoster:
            self.fire(events.MEMBERSHIP_CHANGED, events.MembershipChange(group, (), group.members))
        if changed.sharedRoster:
            self.fire(events.MEMBERSHIP_CHANGED, events.MembershipChange(changed, group.members, ()))

    @defer.inlineCallbacks
    def removeGroup(self, groupId):
        group = self.group(groupId)
        yield self.store.deleteGroup(groupId)
        staff = self.staff.get(group.company, {})
        for user in [u for u, s in staff.items() if s.group == groupId]:
            del staff[user]
        self.keepGroup(groupId, None)
        self.announce(group, (), group.members)

    @defer.inlineCallbacks
    def setMembers(self, groupId, members):
        """
        Make C{members} (prepared bare JIDs) the group's members.
        """
        group = self.group(groupId)
        company = self.company(group.company)
        members = tuple(sorted(set(members)))
        for member in members:
            self.checkMember(company, member)
        changed = replace(group, members=members)
        yield self.store.putGroup(changed)
        self.keepGroup(groupId, changed)
        added = [m for m in members if m not in group.members]
        removed = [m for m in group.members if m not in members]
        self.announce(changed, added, removed)
        # A group's supporters are its members.
        for user in removed:
            supporter = self.supporter(group.company, user)
            if supporter is not None and supporter.group == groupId:
                yield self.removeSupporter(group.company, user)

    def addMember(self, groupId, user):
        return self.setMembers(groupId, self.group(groupId).members + (user,))

    def removeMember(self, groupId, user):
        group = self.group(groupId)
        if user not in group.members:
            raise DirectoryError("{user} is not in {group}", user=user, group=groupId)
        return self.setMembers(groupId, tuple(m for m in group.members if m != user))

    def announce(self, group, added, removed):
        if group.sharedRoster and (added or removed):
            self.fire(events.MEMBERSHIP_CHANGED, events.MembershipChange(group, added, removed))

    @defer.inlineCallbacks
    def addSupporter(self, companyId, user, slug, name, position=0, groupId=None):
        company = self.company(companyId)
        self.checkMember(company, user)
        if not SLUG.match(slug or ""):
            raise DirectoryError("{slug!r}: slugs are a-z, 0-9, '.', '_' and '-'", slug=slug)
        if not -MAX_POSITION <= position <= MAX_POSITION:
            raise DirectoryError("the order is a number from {low} to {high}", low=-MAX_POSITION, high=MAX_POSITION)
        for other in self.staff.get(company.id, {}).values():
            if other.slug == slug and other.jid != user:
                raise DirectoryError("the slug {slug!r} is taken in {company}", slug=slug, company=company.id)
        if groupId is not None and user not in self.group(groupId).members:
            raise DirectoryError("{user} is not a member of {group}", user=user, group=groupId)
        supporter = Supporter(company.id, user, slug, name.strip() or self.displayName(user), position, groupId)
        yield self.store.putSupporter(supporter)
        self.staff.setdefault(company.id, {})[user] = supporter
        self.changed()
        return supporter

    @defer.inlineCallbacks
    def removeSupporter(self, companyId, user):
        if self.supporter(companyId, user) is None:
            raise DirectoryError("{user} is not support staff of {company}", user=user, company=companyId)
        yield self.store.deleteSupporter(companyId, user)
        del self.staff[companyId][user]
        self.changed()

    @defer.inlineCallbacks
    def setProfile(self, user, **changes):
        if not self.accounts.exists(user):
            raise DirectoryError("there is no account {user}", user=user)
        profile = replace(self.profile(user), **changes)
        yield self.store.putProfile(profile)
        self.profiles[user] = profile
        self.changed()
        if not profile.enabled:
            for session in self.accounts.sessions.sessionsOf(user):
                session.close("not-authorized", "Account disabled.")

    def accountDeleted(self, user):
        """
        Forget a deleted account (storage has dropped its rows already).
        """
        self.profiles.pop(user, None)
        self.changed()
        for staff in self.staff.values():
            staff.pop(user, None)
        for group in self.groupsOf(user):
            self.keepGroup(group.id, replace(group, members=tuple(m for m in group.members if m != user)))
        self.memberships.pop(user, None)
