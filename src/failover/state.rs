//! What a node is doing in the cluster, as `/metrics`, `/readyz`'s reasons, the status page and the
//! logs name it. The controller's own state (`controller::State`) carries the data of each phase;
//! this is its name, published in `FailoverStatus`.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FailoverState {
    /// Booted, the controller has not published yet.
    #[serde(rename = "starting")]
    Starting,
    /// Holds the lease and accepts writes.
    #[serde(rename = "leading")]
    Leading,
    /// Holds the lease; writes wait for the takeover's barrier commit to be stored.
    #[serde(rename = "taking over")]
    TakingOver,
    /// Writes stopped for a planned switch-over; shipping the last commits before releasing.
    #[serde(rename = "handing over")]
    HandingOver,
    /// Applies the leader's LTX files to its copy.
    #[serde(rename = "following")]
    Following,
    /// Rebuilding its copy from the bucket beside the live file (the copy could not continue).
    #[serde(rename = "re-syncing")]
    ReSyncing,
    /// Neither leads nor follows yet: the lease could not be read at boot, or this node just
    /// stepped down. Serves its copy read-only until the next lease read says which to do.
    #[serde(rename = "detached")]
    Detached,
}

impl FailoverState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Leading => "leading",
            Self::TakingOver => "taking over",
            Self::HandingOver => "handing over",
            Self::Following => "following",
            Self::ReSyncing => "re-syncing",
            Self::Detached => "detached",
        }
    }
}

impl std::fmt::Display for FailoverState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::FailoverState::*;

    #[test]
    fn each_state_serializes_as_the_name_it_displays() {
        for s in [Starting, Leading, TakingOver, HandingOver, Following, ReSyncing, Detached] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
        }
    }
}
