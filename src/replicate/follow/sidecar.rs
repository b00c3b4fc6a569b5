//! `<db>-standby.json`: how far the local copy got, and from which bucket.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::replicate::restored::fsync_parent;
use crate::replicate::{ReplicateError, Txid};

/// `<db>-standby.json`: the TXID the local database holds *exactly* (no local writes on top),
/// and the bucket it came from. It exists only while that is true: a node deletes it before its
/// first write as the leader, and writes it after each apply (after the commit is on disk) and
/// after a clean hand-over. A node without it must restore before it can follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sidecar {
    pub txid: Txid,
    pub url: String,
}

pub fn sidecar_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-standby.json");
    PathBuf::from(s)
}

impl Sidecar {
    /// The TXID of a valid sidecar for `url`, if there is one.
    pub fn read(db: &Path, url: &str) -> Option<Txid> {
        let bytes = std::fs::read(sidecar_path(db)).ok()?;
        let s: Sidecar = serde_json::from_slice(&bytes).ok()?;
        (s.url == url && db.exists()).then_some(s.txid)
    }

    /// Writes it durably: temp file, fsync, rename, fsync of the directory.
    pub fn write(db: &Path, url: &str, txid: Txid) -> Result<(), ReplicateError> {
        use std::io::Write;
        let path = sidecar_path(db);
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_vec(&Sidecar { txid, url: url.to_string() }).expect("serialises");
        let io = |what: &str| {
            let what = format!("{what} {}", path.display());
            move |e| ReplicateError::io(what, e)
        };
        let mut f = std::fs::File::create(&tmp).map_err(io("create"))?;
        f.write_all(&body).and_then(|()| f.sync_all()).map_err(io("write"))?;
        std::fs::rename(&tmp, &path).map_err(io("rename into"))?;
        fsync_parent(&path)
    }

    /// Deletes it durably (before the node's first write as leader).
    pub fn remove(db: &Path) -> Result<(), ReplicateError> {
        let path = sidecar_path(db);
        match std::fs::remove_file(&path) {
            Ok(()) => fsync_parent(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ReplicateError::io(format!("delete {}", path.display()), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_is_tied_to_the_bucket_and_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        Sidecar::write(&db, "s3://b/p", Txid(7)).unwrap();
        // The TXID stays a plain number on disk, as sidecars written by older versions have it.
        assert_eq!(std::fs::read_to_string(sidecar_path(&db)).unwrap(), r#"{"txid":7,"url":"s3://b/p"}"#);
        assert_eq!(Sidecar::read(&db, "s3://b/p"), None, "no database: nothing to follow from");
        std::fs::write(&db, b"").unwrap();
        assert_eq!(Sidecar::read(&db, "s3://b/p"), Some(Txid(7)));
        assert_eq!(Sidecar::read(&db, "s3://b/other"), None);
        Sidecar::remove(&db).unwrap();
        assert_eq!(Sidecar::read(&db, "s3://b/p"), None);
        Sidecar::remove(&db).unwrap();
    }
}
