# -*- test-case-name: tests.web.test_i18n -*-
"""
German and English for every page: one catalogue per language, keyed by the
English text; the language comes from C{?lang=}, then a cookie the admin
pages set, then C{Accept-Language}.
"""

from openmessenger.messages import Message

LANGUAGES = ("en", "de")

GERMAN = {
    "Administration": "Verwaltung",
    "Log in": "Anmelden",
    "Log out": "Abmelden",
    "Address": "Adresse",
    "Password": "Passwort",
    "Wrong address or password.": "Adresse oder Passwort falsch.",
    "Too many attempts; please wait a minute.": "Zu viele Versuche; bitte eine Minute warten.",
    "Users": "Benutzerverwaltung",
    "Groups": "Gruppenverwaltung",
    "Download": "Download",
    "User": "Benutzer",
    "Display name": "Anzeigename",
    "State": "Status",
    "Enabled": "Aktiv",
    "Company admin": "Firmenadministrator",
    "Company ID": "OpenMessenger-ID der Firma",
    "Domains": "Domains",
    "Own company only: users exchange no messages or presence with other companies on this server":
        "Nur eigene Firma: Benutzer tauschen mit anderen Firmen auf diesem Server keine Nachrichten und keinen Status aus",
    "Create user": "Benutzer anlegen",
    "User name": "Benutzername",
    "Save": "Speichern",
    "Delete": "Löschen",
    "Reset password": "Passwort zurücksetzen",
    "New password": "Neues Passwort",
    "Create group": "Gruppe anlegen",
    "Group ID": "Gruppen-ID",
    "Name": "Name",
    "Members": "Mitglieder",
    "Add member": "Mitglied hinzufügen",
    "Remove": "Entfernen",
    "Shared roster": "Gemeinsame Kontaktliste",
    "Support staff": "Supportmitarbeiter",
    "Add supporter": "Supportmitarbeiter hinzufügen",
    "Shown to visitors as": "Für Besucher angezeigt als",
    "Order": "Reihenfolge",
    "URL name": "URL-Name",
    "yes": "ja",
    "no": "nein",
    "Saved.": "Gespeichert.",
    "The form expired; please try again.": "Das Formular ist abgelaufen; bitte erneut versuchen.",
    "Connect your client": "Client verbinden",
    "Use these settings in Psi or any XMPP client:": "Diese Einstellungen in Psi oder einem anderen XMPP-Client verwenden:",
    "Server": "Server",
    "Port": "Port",
    "Encryption": "Verschlüsselung",
    "Certificate fingerprint (SHA-256)": "Zertifikat-Fingerabdruck (SHA-256)",
    "Compare it with what your client shows when it asks whether to trust the certificate.":
        "Vergleichen Sie ihn mit dem, was Ihr Client beim Vertrauen des Zertifikats anzeigt.",
    "Clients": "Clients",
    "Company": "Firma",
    "OpenMessenger-ID of the company": "OpenMessenger-ID der Firma",
    "Not found.": "Nicht gefunden.",
    "You may not do this.": "Das dürfen Sie nicht.",
    "Language": "Sprache",
    "Auto-away": "Automatisch abwesend",
    "Status button": "Status-Button",
    "Transcripts": "Protokolle",
    "First start": "Erster Start",
    "Choose the password of the operator account": "Wählen Sie das Passwort des Betreiberkontos",
    "Since": "Seit",
    "Supporter": "Supportmitarbeiter",
    "Visitor or parameter": "Besucher oder Parameter",
    "Filter": "Filtern",
    "Newer": "Neuere",
    "Older": "Ältere",
    "Started": "Beginn",
    "Visitor": "Besucher",
    "Ended": "Ende",
    "Export": "Exportieren",
    "text": "Text",
    "Live chat": "Live-Chat",
    "Your name": "Ihr Name",
    "E-mail (optional)": "E-Mail (freiwillig)",
    "Start chat": "Chat starten",
    "Message": "Nachricht",
    "Send": "Senden",
    "End chat": "Chat beenden",
    "Your message": "Ihre Nachricht",
    "You": "Sie",
    "You are talking to {name}.": "Sie sprechen mit {name}.",
    "The chat has ended.": "Der Chat ist beendet.",
    "Nobody is available right now. Leave a message:": "Gerade ist niemand erreichbar. Hinterlassen Sie eine Nachricht:",
    "{name} is typing…": "{name} schreibt…",
    "Thank you, your message was sent.": "Danke, Ihre Nachricht wurde gesendet.",
    "Something went wrong; please try again.": "Etwas ist schiefgegangen; bitte erneut versuchen.",
    "Your colleague is no longer available; we are looking for someone else.":
        "Ihr Ansprechpartner ist nicht mehr erreichbar; wir suchen jemand anderen.",
    "Live demo": "Live-Demo",
    "This button shows the support team's presence and refreshes itself every 10 seconds, as it does on a website.":
        "Dieser Button zeigt die Anwesenheit des Support-Teams und erneuert sich alle 10 Sekunden, wie auf einer Webseite.",
    "Who": "Wer",
    "The whole group": "Die ganze Gruppe",
    "Icon set": "Symbolsatz",
    "Parameters (one Name=Value per line)": "Parameter (je Zeile Name=Wert)",
    "Make the code": "Code erzeugen",
    "Preview": "Vorschau",
    "For web pages": "Für Webseiten",
    "For e-mail (no script)": "Für E-Mails (ohne Skript)",
    "Away after (minutes)": "Kurz abwesend nach (Minuten)",
    "Extended away after (minutes)": "Länger abwesend nach (Minuten)",
    "Use whole minutes.": "Bitte ganze Minuten angeben.",
    "Register your company": "Firma registrieren",
    "Register": "Registrieren",
    "An operator approves each new company before anyone can log in.":
        "Jede neue Firma wird vom Betreiber freigeschaltet, bevor sich jemand anmelden kann.",
    "Company name": "Name der Firma",
    "Lower-case letters, digits and '-'. Your users' addresses end in @<id>.{domain}.":
        "Kleinbuchstaben, Ziffern und '-'. Die Adressen Ihrer Benutzer enden auf @<id>.{domain}.",
    "Your user name": "Ihr Benutzername",
    "Too many registrations from your address; please try later.":
        "Zu viele Registrierungen von Ihrer Adresse; bitte später erneut versuchen.",
    "Registered. You can log in once an operator has approved your company.":
        "Registriert. Sie können sich anmelden, sobald der Betreiber Ihre Firma freigeschaltet hat.",
    "Your company awaits approval by the operator.": "Ihre Firma wartet auf die Freischaltung durch den Betreiber.",
    "Companies": "Firmen",
    "approved": "freigeschaltet",
    "awaiting approval": "wartet auf Freischaltung",
    "Approve": "Freischalten",
    "Add company": "Firma anlegen",
    # Messages with values (openmessenger.messages).
    "{id!r}: IDs are 2 to 32 of a-z, 0-9 and '-', starting and ending with a letter or digit":
        "{id!r}: IDs bestehen aus 2 bis 32 Zeichen a-z, 0-9 und '-' und beginnen und enden mit einem Buchstaben "
        "oder einer Ziffer",
    "{id!r} is taken": "{id!r} ist schon vergeben",
    "name a domain: no [companies] base_domain is set for automatic ones":
        "Bitte eine Domain angeben: für automatische ist kein [companies] base_domain gesetzt",
    "{domain} is not a domain served here": "{domain} ist keine Domain dieses Servers",
    "{domain} belongs to {company}": "{domain} gehört zu {company}",
    "{company} is approved already": "{company} ist schon freigeschaltet",
    "a company needs a name": "Eine Firma braucht einen Namen",
    "{name!r}: the icon sets are {sets}": "{name!r}: die Symbolsätze sind {sets}",
    "keep transcripts 0 (for ever) to 36500 days": "Protokolle 0 (unbegrenzt) bis 36500 Tage aufbewahren",
    "auto-away: away after 1 minute or more, extended away later, within a day":
        "Automatisch abwesend: kurz abwesend nach mindestens 1 Minute, länger abwesend später, innerhalb eines Tages",
    "there is no company {company!r}": "Es gibt keine Firma {company!r}",
    "there is no group {group!r}": "Es gibt keine Gruppe {group!r}",
    "there is no account {user}": "Es gibt kein Konto {user}",
    "{user} is not a user of {company}": "{user} ist kein Benutzer von {company}",
    "{user} is not in {group}": "{user} ist nicht in {group}",
    "{slug!r}: slugs are a-z, 0-9, '.', '_' and '-'": "{slug!r}: URL-Namen bestehen aus a-z, 0-9, '.', '_' und '-'",
    "the slug {slug!r} is taken in {company}": "Der URL-Name {slug!r} ist in {company} schon vergeben",
    "{user} is not a member of {group}": "{user} ist kein Mitglied von {group}",
    "{user} is not support staff of {company}": "{user} ist kein Supportmitarbeiter von {company}",
    "{address!r} is not a valid address: {why}": "{address!r} ist keine gültige Adresse: {why}",
    "{address!r} is not an account address (user@domain)": "{address!r} ist keine Kontoadresse (benutzer@domain)",
    "password not allowed: {why}": "Passwort nicht erlaubt: {why}",
    "the password must not be empty": "Das Passwort darf nicht leer sein",
    "{name!r} is not a valid user name": "{name!r} ist kein gültiger Benutzername",
    "The order is a number.": "Die Reihenfolge ist eine Zahl.",
    "the order is a number from {low} to {high}": "Die Reihenfolge ist eine Zahl von {low} bis {high}",
    "Use whole numbers.": "Bitte ganze Zahlen angeben.",
    "This account exists already.": "Dieses Konto gibt es schon.",
    "Yes, delete for good": "Ja, endgültig löschen",
    "Nothing was deleted: tick the box to confirm.": "Nichts wurde gelöscht: bitte zur Bestätigung ankreuzen.",
    "Change your password": "Passwort ändern",
    "Current password": "Bisheriges Passwort",
    "Change password": "Passwort ändern",
    "The current password is wrong.": "Das bisherige Passwort ist falsch.",
    "It is the password of your XMPP account too: change it in your client as well.":
        "Es ist auch das Passwort Ihres XMPP-Kontos: ändern Sie es auch in Ihrem Client.",
    "Group": "Gruppe",
    "the whole company": "die ganze Firma",
    "The whole company": "Die ganze Firma",
    "Remove from support staff": "Aus dem Support entfernen",
    "The button of the whole company shows all its support staff; each group's page has its own.":
        "Der Button der ganzen Firma zeigt alle Supportmitarbeiter; jede Gruppe hat auf ihrer Seite einen eigenen.",
    "The company, its groups, support staff and transcripts go; so do its accounts on these domains:":
        "Die Firma, ihre Gruppen, Supportmitarbeiter und Protokolle werden gelöscht, ebenso ihre Konten auf diesen Domains:",
    "Domain": "Domain",
    "Icon set offered first for status buttons": "Vorgeschlagener Symbolsatz für Status-Buttons",
    "Keep chat transcripts (days, 0: for ever)": "Chat-Protokolle aufbewahren (Tage, 0: unbegrenzt)",
    "Empty fields use the server's setting (shown greyed). Users' own auto-away settings win.":
        "Leere Felder nutzen die Einstellung des Servers (grau angezeigt). Eigene Einstellungen der Benutzer gehen vor.",
}

CATALOGUES = {"de": GERMAN, "en": {}}


def negotiate(requested=None, cookie=None, acceptLanguage=""):
    """
    The language to answer in.
    """
    for choice in (requested, cookie):
        if choice in LANGUAGES:
            return choice
    ranked = []
    for part in (acceptLanguage or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((quality, tag.strip().lower().split("-")[0]))
    for quality, tag in sorted(ranked, key=lambda r: -r[0]):
        if tag in LANGUAGES and quality > 0:
            return tag
    return "en"


def translator(language):
    """
    The function that translates English text into C{language}.
    """
    catalogue = CATALOGUES.get(language, {})

    def translate(text):
        if isinstance(text, Message):
            return text.translated(catalogue)
        return catalogue.get(text, text)

    return translate
