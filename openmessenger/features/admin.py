# -*- test-case-name: tests.features.test_admin -*-
"""
Service administration (XEP-0133) for the server operators listed in
C{[server] admins}: add and delete users, change a password, list who is
online, and send an announcement to everyone online.
"""

from twisted.internet import defer
from twisted.words.xish import domish

from openmessenger.compat import wokkel  # noqa: F401  (before wokkel modules)
from wokkel import data_form

from openmessenger.features.commands import CommandError
from openmessenger.storage.interfaces import AccountExists, NoSuchAccount
from openmessenger.xmpp import stanzas

NS_ADMIN = "http://jabber.org/protocol/admin"


def adminForm(title, *fields):
    form = data_form.Form("form", title=title, formNamespace=NS_ADMIN)
    for field in fields:
        form.addField(field)
    return defer.succeed(form)


def value(form, name, label):
    text = form.getValues().get(name)
    if isinstance(text, list):
        text = "\n".join(text)
    text = str(text or "").strip()
    if not text:
        raise CommandError(f"{label}: this field is required.")
    return text


class AdminCommand:
    """
    A command only operators may run.
    """

    def __init__(self, admins, accounts):
        self.admins = frozenset(admins)
        self.accounts = accounts

    def allowed(self, requester):
        return requester in self.admins

    def run(self, d, done):
        """
        Turn account errors into form errors.
        """

        def failed(failure):
            failure.trap(ValueError, AccountExists, NoSuchAccount)
            message = {AccountExists: "This account exists already.",
                       NoSuchAccount: "There is no such account."}.get(failure.type)
            raise CommandError(message or str(failure.value))

        return d.addCallbacks(lambda _: done, failed)


class AddUser(AdminCommand):
    node = NS_ADMIN + "#add-user"
    name = "Add a user"

    def form(self, requester):
        return adminForm(
            "Add a user",
            data_form.Field("jid-single", "accountjid", label="The address of the new user", required=True),
            data_form.Field("text-private", "password", label="Password", required=True),
            data_form.Field("text-private", "password-verify", label="Password again", required=True),
        )

    def submit(self, requester, form):
        jid = value(form, "accountjid", "Address")
        password = value(form, "password", "Password")
        if password != value(form, "password-verify", "Password again"):
            raise CommandError("The passwords differ.")
        return self.run(self.accounts.create(jid, password), f"Created {jid}.")


class DeleteUser(AdminCommand):
    node = NS_ADMIN + "#delete-user"
    name = "Delete users"

    def form(self, requester):
        return adminForm(
            "Delete users",
            data_form.Field("jid-multi", "accountjids", label="The users to delete", required=True),
        )

    def submit(self, requester, form):
        addresses = value(form, "accountjids", "Users").split()
        d = defer.succeed(None)
        for address in addresses:
            d.addCallback(lambda _, a=address: self.accounts.delete(a))
        return self.run(d, f"Deleted {', '.join(addresses)}.")


class ChangePassword(AdminCommand):
    node = NS_ADMIN + "#change-user-password"
    name = "Change a user's password"

    def form(self, requester):
        return adminForm(
            "Change a user's password",
            data_form.Field("jid-single", "accountjid", label="The user", required=True),
            data_form.Field("text-private", "password", label="New password", required=True),
        )

    def submit(self, requester, form):
        jid = value(form, "accountjid", "User")
        if not self.accounts.exists(self.accounts.prepare(jid)):
            raise CommandError("There is no such account.")
        password = value(form, "password", "New password")
        return self.run(self.accounts.setPassword(jid, password), f"Changed the password of {jid}.")


class SessionsCommand(AdminCommand):
    """
    An admin command about who is online.
    """

    def __init__(self, admins, accounts, sessions):
        AdminCommand.__init__(self, admins, accounts)
        self.sessions = sessions


class OnlineUsers(SessionsCommand):
    node = NS_ADMIN + "#get-online-users-list"
    name = "List online users"

    def form(self, requester):
        return adminForm(
            "List online users",
            data_form.Field("list-single", "max_items", label="Maximum number of users",
                            options=[data_form.Option(v) for v in ("25", "50", "75", "100", "150", "200", "none")]),
        )

    def submit(self, requester, form):
        limit = str(form.getValues().get("max_items") or "none")
        users = sorted(self.sessions.accounts())
        if limit != "none":
            if not limit.isdigit():
                raise CommandError("Maximum number of users: a number or 'none'.")
            users = users[: int(limit)]
        result = data_form.Form("result", title="Online users", formNamespace=NS_ADMIN)
        result.addField(data_form.Field("jid-multi", "onlineuserjids", values=users, label="Online users"))
        return defer.succeed(result)


class Announce(SessionsCommand):
    node = NS_ADMIN + "#announce"
    name = "Send an announcement to online users"

    def form(self, requester):
        return adminForm(
            "Send an announcement to online users",
            data_form.Field("text-single", "subject", label="Subject"),
            data_form.Field("text-multi", "announcement", label="Announcement", required=True),
        )

    def submit(self, requester, form):
        body = value(form, "announcement", "Announcement")
        subject = str(form.getValues().get("subject") or "").strip()
        sent = 0
        for user in self.sessions.accounts():
            for session in self.sessions.availableSessions(user):
                message = domish.Element((stanzas.NS_CLIENT, "message"))
                message["type"] = "headline"
                message["from"] = session.jid.host
                message["to"] = session.full
                if subject:
                    message.addElement("subject", content=subject)
                message.addElement("body", content=body)
                session.send(message)
                sent += 1
        return defer.succeed(f"Sent to {sent} online resources.")


def operatorNotifier(route, serverDomain, operators):
    """
    A function that tells every operator something in a message from the
    server (kept offline for those not logged in).
    """

    def notify(text):
        for operator in operators:
            message = domish.Element((stanzas.NS_CLIENT, "message"))
            message["from"] = serverDomain
            message["to"] = operator
            message["type"] = "normal"
            message.addElement("body", content=text)
            route(message)

    return notify


def adminCommands(admins, accounts, sessions):
    return [
        AddUser(admins, accounts),
        DeleteUser(admins, accounts),
        ChangePassword(admins, accounts),
        OnlineUsers(admins, accounts, sessions),
        Announce(admins, accounts, sessions),
    ]
