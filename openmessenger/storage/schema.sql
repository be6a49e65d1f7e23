-- OpenMessenger database schema.  Each "-- version N" section upgrades a
-- database at version N-1 (PRAGMA user_version) to N; never edit a section
-- that has shipped, add a new one.

-- version 1
CREATE TABLE account (
    jid TEXT PRIMARY KEY,
    credentials TEXT NOT NULL            -- JSON: mechanism -> SCRAM keys
);
CREATE TABLE roster_item (
    owner TEXT NOT NULL REFERENCES account(jid) ON DELETE CASCADE,
    contact TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    groups TEXT NOT NULL DEFAULT '[]',    -- JSON list
    subscription TEXT NOT NULL DEFAULT 'none',
    ask INTEGER NOT NULL DEFAULT 0,
    approved INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, contact)
);
CREATE INDEX roster_item_contact ON roster_item(contact);
CREATE TABLE roster_pending (
    owner TEXT NOT NULL REFERENCES account(jid) ON DELETE CASCADE,
    contact TEXT NOT NULL,
    PRIMARY KEY (owner, contact)
);
CREATE TABLE roster_version (
    owner TEXT PRIMARY KEY REFERENCES account(jid) ON DELETE CASCADE,
    version INTEGER NOT NULL
);
CREATE TABLE offline_message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL REFERENCES account(jid) ON DELETE CASCADE,
    stanza TEXT NOT NULL,
    stamp REAL NOT NULL
);
CREATE INDEX offline_message_owner ON offline_message(owner, id);
CREATE TABLE last_activity (
    owner TEXT PRIMARY KEY REFERENCES account(jid) ON DELETE CASCADE,
    stamp REAL NOT NULL,
    status TEXT NOT NULL DEFAULT ''
);

-- version 2
CREATE TABLE autoaway_setting (
    owner TEXT PRIMARY KEY REFERENCES account(jid) ON DELETE CASCADE,
    away_after INTEGER NOT NULL,          -- seconds
    xa_after INTEGER NOT NULL
);

-- version 3
CREATE TABLE user_document (
    owner TEXT NOT NULL REFERENCES account(jid) ON DELETE CASCADE,
    key TEXT NOT NULL,                    -- e.g. 'vcard-temp', 'private storage:bookmarks'
    xml TEXT NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE TABLE blocked_jid (
    owner TEXT NOT NULL REFERENCES account(jid) ON DELETE CASCADE,
    jid TEXT NOT NULL,
    PRIMARY KEY (owner, jid)
);

-- version 4
CREATE TABLE company (
    id TEXT PRIMARY KEY,                  -- public ID, shared namespace with groups
    name TEXT NOT NULL,
    approved INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE company_domain (
    domain TEXT PRIMARY KEY,
    company TEXT NOT NULL REFERENCES company(id) ON DELETE CASCADE
);
CREATE TABLE user_group (
    id TEXT PRIMARY KEY,
    company TEXT NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    shared_roster INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE group_member (
    grp TEXT NOT NULL REFERENCES user_group(id) ON DELETE CASCADE,
    jid TEXT NOT NULL REFERENCES account(jid) ON DELETE CASCADE,
    PRIMARY KEY (grp, jid)
);
CREATE TABLE supporter (
    company TEXT NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    jid TEXT NOT NULL REFERENCES account(jid) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    grp TEXT REFERENCES user_group(id) ON DELETE CASCADE,
    PRIMARY KEY (company, jid),
    UNIQUE (company, slug)
);
CREATE TABLE account_profile (
    jid TEXT PRIMARY KEY REFERENCES account(jid) ON DELETE CASCADE,
    display_name TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    company_admin INTEGER NOT NULL DEFAULT 0
);

-- version 5
CREATE TABLE visitor_chat (
    id TEXT PRIMARY KEY,
    company TEXT NOT NULL,
    public_id TEXT NOT NULL,              -- the company or group the visitor asked
    visitor_name TEXT NOT NULL,
    visitor_email TEXT NOT NULL DEFAULT '',
    parameters TEXT NOT NULL DEFAULT '[]',   -- JSON [[name, value], ...]
    supporters TEXT NOT NULL DEFAULT '[]',   -- JSON, in the order they served
    started REAL NOT NULL,
    ended REAL,
    ended_how TEXT NOT NULL DEFAULT ''
);
CREATE INDEX visitor_chat_company ON visitor_chat(company, started);
CREATE TABLE visitor_message (
    chat TEXT NOT NULL REFERENCES visitor_chat(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    direction TEXT NOT NULL,              -- 'visitor', 'supporter', 'system'
    sender TEXT NOT NULL,
    body TEXT NOT NULL,
    stamp REAL NOT NULL,
    PRIMARY KEY (chat, seq)
);

-- version 6
ALTER TABLE company ADD COLUMN own_company_only INTEGER NOT NULL DEFAULT 0;

-- version 7
ALTER TABLE company ADD COLUMN icon_set TEXT NOT NULL DEFAULT 'label';
ALTER TABLE company ADD COLUMN retention_days INTEGER;   -- NULL: the server's setting
ALTER TABLE company ADD COLUMN away_after INTEGER;       -- seconds; NULL: the server's
ALTER TABLE company ADD COLUMN xa_after INTEGER;

-- version 8
-- Who served each chat, for finding a supporter's chats without reading
-- every row; and the visitor's name, e-mail and parameter values for
-- full-text search.  Both follow visitor_chat through triggers.
CREATE TABLE visitor_chat_supporter (
    chat TEXT NOT NULL REFERENCES visitor_chat(id) ON DELETE CASCADE,
    supporter TEXT NOT NULL,
    PRIMARY KEY (supporter, chat)
);
INSERT INTO visitor_chat_supporter (chat, supporter)
    SELECT DISTINCT visitor_chat.id, served.value FROM visitor_chat, json_each(visitor_chat.supporters) AS served;
CREATE VIRTUAL TABLE visitor_chat_search USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER visitor_chat_indexed AFTER INSERT ON visitor_chat BEGIN
    INSERT INTO visitor_chat_search (rowid, text) VALUES (new.rowid, new.visitor_name || ' ' || new.visitor_email
        || ' ' || coalesce((SELECT group_concat(p.value ->> 1, ' ') FROM json_each(new.parameters) AS p), ''));
END;
CREATE TRIGGER visitor_chat_unindexed AFTER DELETE ON visitor_chat BEGIN
    DELETE FROM visitor_chat_search WHERE rowid = old.rowid;
END;
INSERT INTO visitor_chat_search (rowid, text)
    SELECT rowid, visitor_name || ' ' || visitor_email || ' '
        || coalesce((SELECT group_concat(p.value ->> 1, ' ') FROM json_each(parameters) AS p), '')
    FROM visitor_chat;
