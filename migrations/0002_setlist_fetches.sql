-- Scheduled fetches of actual setlists from setlist.fm: one row per show that was looked up, so a show
-- whose setlist is not online yet is retried every few hours instead of on every run.
CREATE TABLE setlist_fetches (
    show_id         INTEGER PRIMARY KEY REFERENCES shows(id) ON DELETE CASCADE,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER NOT NULL,
    last_outcome    TEXT NOT NULL           -- found | not_found | failed
) WITHOUT ROWID;
