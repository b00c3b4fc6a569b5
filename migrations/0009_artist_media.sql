-- Uploaded pictures, stored in the database so that backups and the standby carry them like every
-- other row (README, "Design decisions"). A row is one re-encoded file, named by the SHA-256 of its
-- bytes plus its extension (`<64 hex>.jpg`): the name never changes meaning, so `/media/<name>` is
-- cached forever. Rows no artist refers to are deleted when a picture is replaced or removed.
CREATE TABLE media (
    name         TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    bytes        BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);

-- An artist's uploaded picture (480 px) and its thumbnail (160 px): media names, both or neither.
ALTER TABLE artists ADD COLUMN image TEXT;
ALTER TABLE artists ADD COLUMN thumb TEXT;
-- A short plain-text biography and external links, one "label url" per line (checked in the domain).
ALTER TABLE artists ADD COLUMN bio TEXT NOT NULL DEFAULT '';
ALTER TABLE artists ADD COLUMN links TEXT NOT NULL DEFAULT '';
