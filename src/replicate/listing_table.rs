//! `mysetlist backup list` as people read it: what a restore reaches first, then one table of
//! levels and one of snapshots (TXIDs in hex, as in the bucket's file names).

use std::fmt;

use super::listing::BackupListing;
use super::txid::Txid;

/// Bytes with a binary unit (`12.3 KiB`), for the size columns.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

impl fmt::Display for BackupListing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Backup {}", self.url)?;
        match &self.restorable_txid {
            Ok(txid) => writeln!(f, "A restore reaches TXID {}", Txid(*txid))?,
            Err(why) => writeln!(f, "Not restorable from LTX files: {why}")?,
        }
        if let (Some(min), Some(max)) = (self.min_txid, self.max_txid) {
            writeln!(f, "TXIDs present: {} to {}", Txid(min), Txid(max))?;
        }
        if !self.levels.is_empty() {
            writeln!(f, "\n{:<6} {:>6} {:>11}  {:<16}   {:<16}", "LEVEL", "FILES", "SIZE", "FROM TXID", "TO TXID")?;
            for l in &self.levels {
                writeln!(
                    f,
                    "{:<6} {:>6} {:>11}  {}   {}",
                    l.level,
                    l.files,
                    size(l.bytes),
                    Txid(l.min_txid),
                    Txid(l.max_txid)
                )?;
            }
        }
        if !self.snapshots.is_empty() {
            writeln!(f, "\n{:<16}   {:<20} {:>11}", "SNAPSHOT TXID", "CREATED (UTC)", "SIZE")?;
            for s in &self.snapshots {
                writeln!(
                    f,
                    "{}   {:<20} {:>11}",
                    Txid(s.txid),
                    s.created_at.format("%Y-%m-%d %H:%M:%S"),
                    size(s.size)
                )?;
            }
        }
        if !self.v3_generations.is_empty() {
            writeln!(
                f,
                "\n{:<16}   {:>9} {:>12}   {:<20}",
                "V0.3 GENERATION", "SNAPSHOTS", "WAL SEGMENTS", "UPDATED (UTC)"
            )?;
            for g in &self.v3_generations {
                let updated = g.updated_at.map_or("-".to_string(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
                writeln!(f, "{:<16}   {:>9} {:>12}   {updated}", g.generation, g.snapshots, g.wal_segments)?;
            }
        }
        if self.levels.is_empty() && self.v3_generations.is_empty() {
            writeln!(f, "\nThe bucket holds no backup.")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replicate::listing::{LevelSummary, NotRestorable, SnapshotInfo};
    use chrono::TimeZone;

    #[test]
    fn a_listing_reads_as_tables_with_hex_txids_and_sizes() {
        let created_at = chrono::Utc.with_ymd_and_hms(2026, 12, 5, 18, 0, 0).unwrap();
        let listing = BackupListing {
            url: "s3://bucket/db".into(),
            levels: vec![
                LevelSummary { level: 0, files: 3, bytes: 900, min_txid: 40, max_txid: 42 },
                LevelSummary { level: 9, files: 1, bytes: 12_800, min_txid: 1, max_txid: 39 },
            ],
            snapshots: vec![SnapshotInfo { txid: 39, created_at, size: 12_800, key: "db/0009/x.ltx".into() }],
            min_txid: Some(1),
            max_txid: Some(42),
            restorable_txid: Ok(42),
            v3_generations: vec![],
        };
        let shown = listing.to_string();
        assert!(shown.contains("A restore reaches TXID 000000000000002a"), "{shown}");
        assert!(shown.contains("TXIDs present: 0000000000000001 to 000000000000002a"), "{shown}");
        assert!(shown.contains("0           3       900 B  0000000000000028   000000000000002a"), "{shown}");
        assert!(shown.contains("0000000000000027   2026-12-05 18:00:00     12.5 KiB"), "{shown}");
        assert!(!shown.contains("LevelSummary"), "no Rust debug output: {shown}");
        let empty = BackupListing {
            levels: vec![],
            snapshots: vec![],
            restorable_txid: Err(NotRestorable("no backup".into())),
            ..listing
        };
        assert!(empty.to_string().contains("The bucket holds no backup."));
    }
}
