-- Votes lose their time index. Its entries sort by time and then by the vote's key (show, song,
-- voter), so under load the votes of the current second went into random leaves of it: at 25,000
-- votes a second, one page more written per vote in every group commit and every checkpoint (README,
-- "Where the writer spends its time"). It served only the admin status page's time windows, which
-- now read the votes of the shows that can hold them through the primary key (db::insights).
DROP INDEX votes_time;
