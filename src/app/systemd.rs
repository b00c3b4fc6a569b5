//! systemd's notify protocol (READY, STOPPING, WATCHDOG, EXTEND_TIMEOUT_USEC) and the stop signals.
//! Outside systemd the notifications go nowhere.

use std::time::Duration;

/// SIGTERM (systemd, podman stop) or SIGINT (Ctrl-C): what `mysetlist serve` stops on.
pub async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// The watchdog interval systemd asks for. Like libsystemd's sd_watchdog_enabled (and unlike the
/// sd-notify crate), a missing WATCHDOG_PID means the request is for this process.
fn watchdog_usec() -> Option<u64> {
    let usec = std::env::var("WATCHDOG_USEC").ok()?.parse::<u64>().ok().filter(|u| *u > 0)?;
    match std::env::var("WATCHDOG_PID").ok().map(|p| p.parse::<u32>()) {
        None => Some(usec),
        Some(Ok(pid)) if pid == std::process::id() => Some(usec),
        _ => None,
    }
}

/// How often [`extending_start_timeout`] asks for more time, and how much it asks for each time: the
/// margin covers a stalled scheduler, and a hung start is still stopped within 30 s of its last tick.
const START_EXTEND_EVERY: Duration = Duration::from_secs(10);
const START_EXTEND_BY: Duration = Duration::from_secs(30);

/// Runs `work` (the pre-READY part of the start: restore, waiting for a first backup) while sending
/// EXTEND_TIMEOUT_USEC every 10 s, so systemd's TimeoutStartSec bounds a *stalled* start, not a long
/// restore; WATCHDOG=1 too when a watchdog is armed.
pub async fn extending_start_timeout<T>(work: impl std::future::Future<Output = T>) -> T {
    let keepalive = async {
        let usec = u32::try_from(START_EXTEND_BY.as_micros()).unwrap_or(u32::MAX);
        let every =
            watchdog_usec().map_or(START_EXTEND_EVERY, |w| START_EXTEND_EVERY.min(Duration::from_micros(w / 2)));
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::ExtendTimeoutUsec(usec)]);
            if watchdog_usec().is_some() {
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            }
        }
    };
    tokio::select! {
        out = work => out,
        _ = keepalive => unreachable!("the keep-alive loop never ends"),
    }
}

/// READY=1 once we serve; WATCHDOG=1 at half the interval systemd asks for.
pub fn notify_ready() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    if let Some(usec) = watchdog_usec() {
        let every = Duration::from_micros(usec / 2);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            }
        });
    }
}

/// STOPPING=1: the drain has begun.
pub fn notify_stopping() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
}
