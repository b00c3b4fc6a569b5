//! Litestream 0.5's restore plan (`CalcRestorePlan` in replica.go), ported rule for rule so
//! that we pick the same files the real `litestream restore` would:
//!
//! 1. Start from the newest L9 snapshot with `max_txid <= target` (or created before the
//!    target time).
//! 2. Walk levels 8..0 together. Among files with `min_txid <= current + 1` and
//!    `max_txid > current`, take the one reaching furthest (largest `max_txid`; ties: smaller
//!    `min_txid`, then higher level, then older file). Repeat until nothing extends the range.
//! 3. For a "latest" restore, a file anywhere that starts beyond `current + 1` means the
//!    history has a hole: fail rather than silently restore an old state.
//!
//! The shipper's retention uses the same function to prove that a deletion keeps the newest
//! state restorable.
//!
//! [`follow_plan`] is the follower's variant: from a copy at some TXID, not from a snapshot.

use chrono::{DateTime, Utc};

use super::bucket::{FileInfo, SNAPSHOT_LEVEL};
use super::error::ReplicateError;
use super::txid::Txid;

/// What to restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestoreTarget {
    /// The newest state in the bucket.
    #[default]
    Latest,
    /// The state right after this (Litestream) TXID.
    Txid(Txid),
    /// The newest state written strictly before this time.
    Timestamp(DateTime<Utc>),
}

struct Cursor<'a> {
    files: &'a [FileInfo],
    next: usize,
    candidate: Option<&'a FileInfo>,
}

fn better(curr: &FileInfo, next: &FileInfo) -> bool {
    if next.max_txid != curr.max_txid {
        return next.max_txid > curr.max_txid;
    }
    if next.min_txid != curr.min_txid {
        return next.min_txid < curr.min_txid;
    }
    if next.level != curr.level {
        return next.level > curr.level;
    }
    next.created_at < curr.created_at
}

fn eligible(f: &FileInfo, target: RestoreTarget) -> bool {
    match target {
        RestoreTarget::Latest => true,
        RestoreTarget::Txid(t) => f.max_txid <= t.get(),
        RestoreTarget::Timestamp(ts) => f.created_at < ts,
    }
}

impl<'a> Cursor<'a> {
    fn refresh(&mut self, current: u64, target: RestoreTarget) {
        if self.candidate.is_some_and(|c| c.max_txid <= current) {
            self.candidate = None;
        }
        while let Some(f) = self.files.get(self.next) {
            if f.min_txid > current + 1 {
                return;
            }
            self.next += 1;
            if f.max_txid <= current || !eligible(f, target) {
                continue;
            }
            if self.candidate.is_none_or(|c| better(c, f)) {
                self.candidate = Some(f);
            }
        }
    }
}

/// Computes the files to apply, in order. `files` holds every LTX file of every level (each
/// level sorted by TXID range, as [`super::bucket::Store::list_level`] returns them).
pub fn calc_restore_plan(files: &[FileInfo], target: RestoreTarget) -> Result<Vec<FileInfo>, ReplicateError> {
    let level = |l: u32| -> Vec<FileInfo> {
        let mut v: Vec<FileInfo> = files.iter().filter(|f| f.level == l).cloned().collect();
        v.sort_by_key(|f| (f.min_txid, f.max_txid));
        v
    };
    let mut plan: Vec<FileInfo> = Vec::new();
    if let Some(snap) = level(SNAPSHOT_LEVEL).into_iter().rfind(|f| eligible(f, target)) {
        plan.push(snap);
    }
    let mut current = plan.last().map_or(0, |f| f.max_txid);
    if let RestoreTarget::Txid(t) = target
        && current >= t.get()
    {
        return Ok(plan);
    }

    let levels: Vec<Vec<FileInfo>> = (0..SNAPSHOT_LEVEL).rev().map(level).collect();
    let mut cursors: Vec<Cursor<'_>> = levels.iter().map(|files| Cursor { files, next: 0, candidate: None }).collect();
    loop {
        for c in cursors.iter_mut() {
            c.refresh(current, target);
        }
        let mut best: Option<(usize, &FileInfo)> = None;
        for (i, c) in cursors.iter().enumerate() {
            if let Some(cand) = c.candidate
                && best.is_none_or(|(_, b)| better(b, cand))
            {
                best = Some((i, cand));
            }
        }
        let Some((b, _)) = best else { break };
        let cand = cursors[b].candidate.take().expect("best has a candidate");
        if cand.max_txid <= current {
            continue;
        }
        current = cand.max_txid;
        plan.push(cand.clone());
        if let RestoreTarget::Txid(t) = target
            && current >= t.get()
        {
            break;
        }
    }

    if !plan.is_empty() && target == RestoreTarget::Latest {
        for c in &cursors {
            if let Some(f) = c.files.get(c.next)
                && f.min_txid > current + 1
            {
                return Err(ReplicateError::Plan(format!(
                    "non-contiguous LTX files: have TXIDs up to {} but {} starts at {}",
                    Txid(current),
                    f.key,
                    Txid(f.min_txid)
                )));
            }
        }
    }
    if plan.is_empty() {
        return Err(ReplicateError::NoBackup(match target {
            RestoreTarget::Latest => "the bucket holds no LTX files starting at TXID 1".into(),
            RestoreTarget::Txid(t) => format!("no files reach TXID {t}"),
            RestoreTarget::Timestamp(ts) => format!("nothing was written before {ts}"),
        }));
    }
    if let RestoreTarget::Txid(t) = target
        && current < t.get()
    {
        return Err(ReplicateError::NoBackup(format!(
            "TXID {t} is not available (the backup reaches {})",
            Txid(current)
        )));
    }
    Ok(plan)
}

/// The files that carry a copy at TXID `applied` to the newest TXID: the next L0 file while
/// there is one (small), else the file reaching furthest (an L1+ compaction or an L9 snapshot,
/// both of which hold every page changed in their range, so applying one on top of an older
/// state within that range is exact). Fails when the bucket has newer files that no chain from
/// `applied` reaches (a gap): the copy must then start over from a snapshot.
pub fn follow_plan(files: &[FileInfo], applied: u64) -> Result<Vec<FileInfo>, ReplicateError> {
    let mut plan: Vec<FileInfo> = Vec::new();
    let mut cur = applied;
    loop {
        if let Some(next) = files.iter().find(|f| f.level == 0 && f.min_txid == cur + 1) {
            cur = next.max_txid;
            plan.push(next.clone());
            continue;
        }
        let best = files
            .iter()
            .filter(|f| f.min_txid <= cur + 1 && f.max_txid > cur)
            .max_by_key(|f| (f.max_txid, f.min_txid, std::cmp::Reverse(f.level)));
        match best {
            Some(f) => {
                cur = f.max_txid;
                plan.push(f.clone());
            }
            None => break,
        }
    }
    if let Some(beyond) = files.iter().filter(|f| f.min_txid > cur + 1).min_by_key(|f| f.min_txid) {
        return Err(ReplicateError::Plan(format!(
            "the bucket continues at TXID {} ({}) but the local copy ends at {}",
            Txid(beyond.min_txid),
            beyond.key,
            Txid(cur)
        )));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn f(level: u32, min: u64, max: u64, t: i64) -> FileInfo {
        FileInfo {
            level,
            min_txid: min,
            max_txid: max,
            size: 1000,
            created_at: Utc.timestamp_opt(1_700_000_000 + t, 0).unwrap(),
            key: format!("db/{level:04x}/{min:016x}-{max:016x}.ltx"),
        }
    }

    fn ranges(plan: &[FileInfo]) -> Vec<(u32, u64, u64)> {
        plan.iter().map(|f| (f.level, f.min_txid, f.max_txid)).collect()
    }

    #[test]
    fn same_plan_as_litestream_dry_run() {
        // The `-dry-run` plan of a real run: L9 1-1, L1 1-5, L0 6, L0 7.
        let mut files = vec![f(9, 1, 1, 1), f(1, 1, 5, 30)];
        files.extend((1..=7).map(|t| f(0, t, t, t as i64)));
        let plan = calc_restore_plan(&files, RestoreTarget::Latest).unwrap();
        assert_eq!(ranges(&plan), vec![(9, 1, 1), (1, 1, 5), (0, 6, 6), (0, 7, 7)]);
    }

    #[test]
    fn gap_fails_latest_restore() {
        let files = vec![f(0, 1, 1, 1), f(0, 3, 3, 3)];
        let err = calc_restore_plan(&files, RestoreTarget::Latest).unwrap_err();
        assert!(err.to_string().contains("non-contiguous"), "{err}");
        // A restore to TXID 1 does not need the later files.
        let plan = calc_restore_plan(&files, RestoreTarget::Txid(Txid(1))).unwrap();
        assert_eq!(ranges(&plan), vec![(0, 1, 1)]);
        assert!(calc_restore_plan(&files, RestoreTarget::Txid(Txid(3))).is_err());
    }

    #[test]
    fn txid_and_timestamp_targets() {
        let mut files = vec![f(9, 1, 4, 40), f(1, 1, 4, 40), f(1, 5, 8, 80)];
        files.extend((1..=10).map(|t| f(0, t, t, t as i64 * 10)));
        let plan = calc_restore_plan(&files, RestoreTarget::Txid(Txid(6))).unwrap();
        assert_eq!(ranges(&plan), vec![(9, 1, 4), (0, 5, 5), (0, 6, 6)]);
        let plan = calc_restore_plan(&files, RestoreTarget::Txid(Txid(9))).unwrap();
        assert_eq!(ranges(&plan), vec![(9, 1, 4), (1, 5, 8), (0, 9, 9)]);
        let ts = Utc.timestamp_opt(1_700_000_000 + 65, 0).unwrap();
        let plan = calc_restore_plan(&files, RestoreTarget::Timestamp(ts)).unwrap();
        assert_eq!(plan.last().unwrap().max_txid, 6);
        let plan = calc_restore_plan(&files, RestoreTarget::Latest).unwrap();
        assert_eq!(ranges(&plan), vec![(9, 1, 4), (1, 5, 8), (0, 9, 9), (0, 10, 10)]);
    }

    #[test]
    fn empty_or_headless_bucket_has_no_backup() {
        assert!(matches!(calc_restore_plan(&[], RestoreTarget::Latest), Err(ReplicateError::NoBackup(_))));
        let files = vec![f(0, 4, 4, 1), f(0, 5, 5, 2)];
        assert!(calc_restore_plan(&files, RestoreTarget::Latest).is_err());
    }

    // ---- follow_plan

    fn lf(level: u32, min: u64, max: u64) -> FileInfo {
        FileInfo {
            level,
            min_txid: min,
            max_txid: max,
            size: 100,
            created_at: Utc::now(),
            key: format!("db/{level:04x}/{}", crate::replicate::ltx::file_name(min, max)),
        }
    }

    #[test]
    fn follows_l0_files_one_by_one() {
        let files = vec![lf(9, 1, 3), lf(1, 1, 3), lf(0, 1, 1), lf(0, 2, 2), lf(0, 3, 3), lf(0, 4, 4), lf(0, 5, 5)];
        assert_eq!(ranges(&follow_plan(&files, 3).unwrap()), vec![(0, 4, 4), (0, 5, 5)]);
        assert!(follow_plan(&files, 5).unwrap().is_empty());
    }

    #[test]
    fn uses_a_compaction_when_the_l0_files_are_gone() {
        // L0 1..6 were compacted into L1 1-6 and deleted; the copy is at 2.
        let files = vec![lf(9, 1, 1), lf(1, 1, 6), lf(0, 7, 7)];
        assert_eq!(ranges(&follow_plan(&files, 2).unwrap()), vec![(1, 1, 6), (0, 7, 7)]);
        // Only a newer snapshot reaches: it replaces everything, which is exact too.
        let files = vec![lf(9, 1, 9), lf(0, 10, 10)];
        assert_eq!(ranges(&follow_plan(&files, 4).unwrap()), vec![(9, 1, 9), (0, 10, 10)]);
    }

    #[test]
    fn a_gap_means_start_over() {
        let files = vec![lf(0, 1, 1), lf(0, 2, 2), lf(0, 5, 5)];
        let err = follow_plan(&files, 2).unwrap_err();
        assert!(err.to_string().contains("0000000000000005"), "{err}");
    }
}
