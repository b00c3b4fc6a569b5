-- An optional link to buy tickets for a show (http or https only, checked in the domain).
ALTER TABLE shows ADD COLUMN ticket_url TEXT;

-- Calendar feeds: calendar apps cannot send cookies, so a user's followed artists' shows are served
-- at a secret address (`/calendar/<token>.ics`). Only the SHA-256 of the token is stored, like
-- sessions and reset links: a copy of the database (a backup) does not reveal anyone's feed. One feed
-- per user; a new link replaces the old one. Erasure deletes it.
CREATE TABLE calendar_feeds (
    token_hash BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
