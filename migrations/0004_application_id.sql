-- Marks the file as a MySetlist database (`PRAGMA application_id`, bytes 68-71 of the header, ASCII
-- "MySL"): a foreign SQLite file put in the data directory is refused at open instead of migrated
-- (db/migrate.rs). The constant is `migrate::APPLICATION_ID`.
PRAGMA application_id = 1299796812;

-- Export and erasure look up the songs a user added to shows' lists.
CREATE INDEX show_songs_added_by ON show_songs(added_by) WHERE added_by IS NOT NULL;
