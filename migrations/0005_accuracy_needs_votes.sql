-- A show nobody voted on predicted nothing: its accuracy (computed from the seeded catalog order
-- before this release) is withdrawn. New setlists are scored over voted songs only.
UPDATE shows SET accuracy = NULL
WHERE accuracy IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM show_songs ss WHERE ss.show_id = shows.id AND ss.votes + ss.anon_votes > 0);
