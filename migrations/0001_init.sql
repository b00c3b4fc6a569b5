-- MySetlist schema, version 1. Times are unix seconds (UTC). Append-only: never edit after release.

CREATE TABLE app_settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL COLLATE NOCASE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'moderator', 'admin')),
    created_at    INTEGER NOT NULL,
    banned_at     INTEGER,
    deleted_at    INTEGER
);
CREATE UNIQUE INDEX users_email ON users(email);

CREATE TABLE sessions (
    token_hash   BLOB PRIMARY KEY,          -- sha256 of the cookie value; the value itself is never stored
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE artists (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    mbid       TEXT UNIQUE,
    image_url  TEXT,
    genres     TEXT NOT NULL DEFAULT '',    -- comma-separated
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE venues (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    city       TEXT NOT NULL,
    country    TEXT NOT NULL,               -- ISO 3166-1 alpha-2
    timezone   TEXT NOT NULL DEFAULT 'UTC', -- IANA name
    latitude   REAL,
    longitude  REAL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX venues_name_city ON venues(name COLLATE NOCASE, city COLLATE NOCASE);

CREATE TABLE shows (
    id             INTEGER PRIMARY KEY,
    artist_id      INTEGER NOT NULL REFERENCES artists(id) ON DELETE CASCADE,
    venue_id       INTEGER NOT NULL REFERENCES venues(id) ON DELETE RESTRICT,
    slug           TEXT NOT NULL UNIQUE,
    title          TEXT NOT NULL DEFAULT '',
    starts_at      INTEGER NOT NULL,
    status         TEXT NOT NULL DEFAULT 'upcoming'
                   CHECK (status IN ('upcoming', 'locked', 'completed', 'cancelled')),
    setlistfm_id   TEXT UNIQUE,
    setlistfm_url  TEXT,
    accuracy       REAL,                    -- percent, computed when the actual setlist is set
    vote_total     INTEGER NOT NULL DEFAULT 0,
    trend_score    REAL NOT NULL DEFAULT 0, -- exponentially decayed vote activity, see domain::trending
    trend_at       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX shows_artist ON shows(artist_id, starts_at);
CREATE INDEX shows_venue ON shows(venue_id, starts_at);
CREATE INDEX shows_starts ON shows(starts_at);

CREATE TABLE songs (
    id           INTEGER PRIMARY KEY,
    artist_id    INTEGER NOT NULL REFERENCES artists(id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    album        TEXT NOT NULL DEFAULT '',
    duration_s   INTEGER,
    is_live      INTEGER NOT NULL DEFAULT 0,
    is_remix     INTEGER NOT NULL DEFAULT 0,
    popularity   INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX songs_artist_title ON songs(artist_id, title COLLATE NOCASE);

-- The fans' prediction: songs on a show's list, with vote counters kept in the vote transaction.
CREATE TABLE show_songs (
    show_id    INTEGER NOT NULL REFERENCES shows(id) ON DELETE CASCADE,
    song_id    INTEGER NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
    added_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    added_at   INTEGER NOT NULL,
    votes      INTEGER NOT NULL DEFAULT 0,  -- signed-in votes
    anon_votes INTEGER NOT NULL DEFAULT 0,  -- anonymous votes, counted separately
    PRIMARY KEY (show_id, song_id)
) WITHOUT ROWID;
CREATE INDEX show_songs_rank ON show_songs(show_id, votes DESC);
CREATE INDEX show_songs_song ON show_songs(song_id);

-- One row per voter per song per show. voter is 'u<user id>' or 'd<device id>'.
CREATE TABLE votes (
    show_id    INTEGER NOT NULL,
    song_id    INTEGER NOT NULL,
    voter      TEXT NOT NULL,
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    ip_hash    BLOB,                       -- keyed hash of the client network, for anonymous limits; purged by retention
    created_at INTEGER NOT NULL,
    PRIMARY KEY (show_id, song_id, voter),
    FOREIGN KEY (show_id, song_id) REFERENCES show_songs(show_id, song_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX votes_user ON votes(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX votes_voter_time ON votes(voter, created_at);
CREATE INDEX votes_ip_time ON votes(ip_hash, created_at) WHERE ip_hash IS NOT NULL;
CREATE INDEX votes_time ON votes(created_at);

-- What was actually played.
CREATE TABLE setlist_entries (
    show_id      INTEGER NOT NULL REFERENCES shows(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    song_id      INTEGER REFERENCES songs(id) ON DELETE SET NULL,
    title        TEXT NOT NULL,
    encore       INTEGER NOT NULL DEFAULT 0, -- 0 main set, N = encore N
    info         TEXT NOT NULL DEFAULT '',
    cover_artist TEXT NOT NULL DEFAULT '',
    is_tape      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (show_id, position)
) WITHOUT ROWID;

CREATE TABLE follows (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    artist_id  INTEGER NOT NULL REFERENCES artists(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, artist_id)
) WITHOUT ROWID;

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor_id    INTEGER,                    -- NULL: the CLI or the system
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE reports (
    id          INTEGER PRIMARY KEY,
    reporter_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
    created_at  INTEGER NOT NULL,
    resolved_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    resolved_at INTEGER
);

CREATE TABLE tls_store (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE job_runs (
    job           TEXT PRIMARY KEY,
    last_started  INTEGER,
    last_finished INTEGER,
    last_outcome  TEXT,                     -- ok | failed
    last_error    TEXT,
    failures      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Full-text search over artists, songs and venues. rowid = id * 4 + kind (1 artist, 2 song, 3 venue)
-- so that a trigger finds its row by rowid instead of scanning.
CREATE VIRTUAL TABLE search_index USING fts5(
    kind UNINDEXED, ref_id UNINDEXED, title, detail,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER artists_fts_insert AFTER INSERT ON artists BEGIN
    INSERT INTO search_index(rowid, kind, ref_id, title, detail) VALUES (NEW.id * 4 + 1, 'artist', NEW.id, NEW.name, NEW.genres);
END;
CREATE TRIGGER artists_fts_update AFTER UPDATE OF name, genres ON artists BEGIN
    DELETE FROM search_index WHERE rowid = OLD.id * 4 + 1;
    INSERT INTO search_index(rowid, kind, ref_id, title, detail) VALUES (NEW.id * 4 + 1, 'artist', NEW.id, NEW.name, NEW.genres);
END;
CREATE TRIGGER artists_fts_delete AFTER DELETE ON artists BEGIN
    DELETE FROM search_index WHERE rowid = OLD.id * 4 + 1;
END;
CREATE TRIGGER songs_fts_insert AFTER INSERT ON songs BEGIN
    INSERT INTO search_index(rowid, kind, ref_id, title, detail) VALUES (NEW.id * 4 + 2, 'song', NEW.id, NEW.title, NEW.album);
END;
CREATE TRIGGER songs_fts_update AFTER UPDATE OF title, album ON songs BEGIN
    DELETE FROM search_index WHERE rowid = OLD.id * 4 + 2;
    INSERT INTO search_index(rowid, kind, ref_id, title, detail) VALUES (NEW.id * 4 + 2, 'song', NEW.id, NEW.title, NEW.album);
END;
CREATE TRIGGER songs_fts_delete AFTER DELETE ON songs BEGIN
    DELETE FROM search_index WHERE rowid = OLD.id * 4 + 2;
END;
CREATE TRIGGER venues_fts_insert AFTER INSERT ON venues BEGIN
    INSERT INTO search_index(rowid, kind, ref_id, title, detail) VALUES (NEW.id * 4 + 3, 'venue', NEW.id, NEW.name, NEW.city || ' ' || NEW.country);
END;
CREATE TRIGGER venues_fts_update AFTER UPDATE OF name, city, country ON venues BEGIN
    DELETE FROM search_index WHERE rowid = OLD.id * 4 + 3;
    INSERT INTO search_index(rowid, kind, ref_id, title, detail) VALUES (NEW.id * 4 + 3, 'venue', NEW.id, NEW.name, NEW.city || ' ' || NEW.country);
END;
CREATE TRIGGER venues_fts_delete AFTER DELETE ON venues BEGIN
    DELETE FROM search_index WHERE rowid = OLD.id * 4 + 3;
END;
