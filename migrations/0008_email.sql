-- Follow emails (sent only while [smtp] is configured). Each kind is opt-in: a column holds the time
-- the user turned it on, NULL while off (the default: no row at all). Only emails about shows that
-- appear after both the follow and the opt-in are sent, so turning a kind on does not bring a flood
-- about old shows.
CREATE TABLE email_prefs (
    user_id          INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    new_show_at      INTEGER,
    voting_closes_at INTEGER,
    setlist_in_at    INTEGER,
    updated_at       INTEGER NOT NULL
);

-- What was sent, so nothing is sent twice (a restart included): one row per (user, show, kind),
-- written before the message goes out. Each message carries its own one-click unsubscribe token;
-- only its SHA-256 is stored here, like sessions and reset links, so a copy of the database (a
-- backup) cannot unsubscribe anyone. The token unsubscribes its user from every kind.
CREATE TABLE emails_sent (
    user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    show_id          INTEGER NOT NULL REFERENCES shows(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('new_show', 'voting_closes', 'setlist_in')),
    sent_at          INTEGER NOT NULL,
    unsubscribe_hash BLOB NOT NULL UNIQUE,
    PRIMARY KEY (user_id, show_id, kind)
) WITHOUT ROWID;
