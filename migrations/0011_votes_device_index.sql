-- Signed-in votes stop writing a voter/time index entry: `votes_voter_time` served only the
-- anonymous (device) limits and a voter's own votes on a show, and a signed-in voter's votes are
-- already indexed by `votes_user`. Each vote wrote one random leaf page of every index it is in, so
-- this is one page fewer per signed-in vote in every group commit and every checkpoint (README,
-- "Where the writer spends its time"). Device votes keep the same index, now partial.
DROP INDEX votes_voter_time;
CREATE INDEX votes_device_time ON votes(voter, created_at) WHERE user_id IS NULL;
