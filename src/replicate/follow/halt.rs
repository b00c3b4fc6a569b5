//! Stopping a follower's work on the database from outside its task.
//!
//! Applies and swaps run on blocking threads, which go on when the task that started them is
//! aborted. A process that ends takes them along; a node "killed" inside a running process (the
//! failover simulation runs three nodes in one) does not, and an abandoned apply landing after
//! the node restarted would write older pages over its newer copy. After [`Halt::halt`] returns,
//! no apply or swap of the follower is running or will start.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::replicate::ReplicateError;

#[derive(Clone, Default)]
pub struct Halt {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    halted: AtomicBool,
    /// Held while a piece of work writes the database.
    working: Mutex<()>,
}

impl Halt {
    /// Refuses new work and waits for the work in progress to finish (blocks the thread).
    pub fn halt(&self) {
        self.inner.halted.store(true, Ordering::SeqCst);
        drop(self.inner.working.lock());
    }

    /// Runs `work` unless halted; a halt waits for it.
    pub(super) fn run<T>(&self, work: impl FnOnce() -> Result<T, ReplicateError>) -> Result<T, ReplicateError> {
        let _working = self.inner.working.lock();
        if self.inner.halted.load(Ordering::SeqCst) {
            return Err(ReplicateError::Stopped);
        }
        work()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_halt_waits_for_work_in_progress_and_refuses_new_work() {
        let halt = Halt::default();
        let (started, wait_started) = mpsc::channel();
        let (finish, wait_finish) = mpsc::channel::<()>();
        let worker = {
            let halt = halt.clone();
            std::thread::spawn(move || {
                halt.run(|| {
                    started.send(()).unwrap();
                    wait_finish.recv().unwrap();
                    Ok(7)
                })
            })
        };
        wait_started.recv_timeout(Duration::from_secs(10)).expect("the work started");
        let halting = {
            let halt = halt.clone();
            std::thread::spawn(move || halt.halt())
        };
        finish.send(()).unwrap();
        halting.join().unwrap();
        assert_eq!(worker.join().unwrap().unwrap(), 7, "the work in progress finished");
        assert!(matches!(halt.run(|| Ok(1)), Err(ReplicateError::Stopped)), "no new work after a halt");
    }
}
