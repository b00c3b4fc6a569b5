//! Caps on live-ranking streams: per client address (`http.max_live_streams_per_address`) and in
//! all (`http.max_live_streams`). One address opening hundreds of streams starved everyone else's
//! updates; past a cap a new stream is answered 429 with `Retry-After`. The address is the client's
//! as seen through `http.trusted_proxies` (so a reverse proxy does not count as one client).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;

#[derive(Debug)]
pub struct LiveStreamLimits {
    per_address: u32,
    total: u32,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: u32,
    by_address: HashMap<IpAddr, u32>,
}

/// One open stream; gives its place back when the stream ends (the body is dropped).
#[derive(Debug)]
pub struct LiveStreamSlot {
    limits: Arc<LiveStreamLimits>,
    ip: IpAddr,
}

impl LiveStreamLimits {
    /// 0 means no cap.
    pub fn new(per_address: u32, total: u32) -> Arc<Self> {
        let cap = |n: u32| if n == 0 { u32::MAX } else { n };
        Arc::new(Self { per_address: cap(per_address), total: cap(total), open: Mutex::default() })
    }

    /// A place for a new stream from `ip`, or None at either cap.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<LiveStreamSlot> {
        let mut open = self.open.lock();
        if open.total >= self.total {
            return None;
        }
        let n = open.by_address.entry(ip).or_default();
        if *n >= self.per_address {
            return None;
        }
        *n += 1;
        open.total += 1;
        Some(LiveStreamSlot { limits: Arc::clone(self), ip })
    }
}

impl Drop for LiveStreamSlot {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock();
        open.total -= 1;
        if let Some(n) = open.by_address.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_and_in_all() {
        let limits = LiveStreamLimits::new(2, 3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = limits.admit(a).unwrap();
        let _a2 = limits.admit(a).unwrap();
        assert!(limits.admit(a).is_none(), "third stream from one address");
        let _b1 = limits.admit(b).unwrap();
        assert!(limits.admit(b).is_none(), "the total cap");
        drop(a1);
        let b2 = limits.admit(b);
        assert!(b2.is_some(), "a closed stream frees its place");
        assert!(limits.admit("192.0.2.3".parse().unwrap()).is_none(), "three open again: the total cap");
    }
}
