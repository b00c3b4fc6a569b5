-- One-time password reset links, issued by an admin for a user who forgot their password (the link is
-- handed over by the admin, so it works without a mail server). Only the SHA-256 of the link's token is
-- stored, like session tokens: a copy of the database (a backup) cannot be used to take over accounts.
CREATE TABLE password_resets (
    token_hash BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX password_resets_user ON password_resets(user_id);
