//! [`Txid`]: a Litestream transaction ID, kept apart from the writer's commit sequence
//! ([`crate::db::CommitSeq`]) so that the two counters cannot be mixed up.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Litestream TXID: the position of an LTX file's last transaction in the bucket's history.
///
/// Displays as 16 lowercase hex digits, the form Litestream uses in file names and logs.
/// Serialises as the plain number, so stored JSON (the lease, the follow sidecar, the status)
/// keeps the format it had while TXIDs were bare `u64`s.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Txid(pub u64);

impl Txid {
    /// The TXID before any transaction: an empty bucket, or a copy that holds nothing yet.
    pub const ZERO: Txid = Txid(0);

    pub fn get(self) -> u64 {
        self.0
    }

    /// The TXID of the transaction after this one.
    pub fn next(self) -> Txid {
        Txid(self.0 + 1)
    }
}

impl fmt::Display for Txid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Txid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Txid({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_sixteen_hex_digits() {
        assert_eq!(Txid(0x2a).to_string(), "000000000000002a");
        assert_eq!(format!("{:?}", Txid(1)), "Txid(0000000000000001)");
        assert_eq!(Txid(u64::MAX).to_string(), "ffffffffffffffff");
    }

    #[test]
    fn serialises_as_the_plain_number() {
        assert_eq!(serde_json::to_string(&Txid(42)).unwrap(), "42");
        assert_eq!(serde_json::from_str::<Txid>("42").unwrap(), Txid(42));
    }

    #[test]
    fn next_follows() {
        assert_eq!(Txid(7).next(), Txid(8));
    }
}
