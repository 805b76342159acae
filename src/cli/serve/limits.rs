//! The server's limits: its settings, and admission (at most `jobs` comparisons at
//! once, at most `queue` more waiting for a slot).

use super::errors::ApiError;
use super::ServeArgs;
use spotdiff::Limits;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The server's settings, as [`router`] uses them.
#[derive(Debug, Clone)]
pub struct Config {
    pub max_upload_bytes: usize,
    pub max_pixels: u64,
    pub jobs: usize,
    pub queue: usize,
    pub timeout: Duration,
}

impl Config {
    pub fn from_args(args: &ServeArgs) -> Config {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Config {
            max_upload_bytes: usize::try_from(args.max_upload_mb << 20).unwrap_or(usize::MAX),
            max_pixels: args.max_pixels,
            jobs: if args.jobs == 0 { cores } else { args.jobs },
            queue: args.queue,
            timeout: Duration::from_secs(args.timeout),
        }
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_pixels: self.max_pixels,
            max_file_bytes: self.max_upload_bytes as u64,
            ..Limits::default()
        }
    }
}

/// At most `jobs` comparisons at once; at most `queue` requests waiting for a slot.
pub struct Gate {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
}

impl Gate {
    pub fn new(jobs: usize, queue: usize) -> Gate {
        Gate {
            slots: Arc::new(Semaphore::new(jobs.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
        }
    }

    /// A slot, waiting for one until `deadline` if the queue has room; otherwise a 503.
    pub async fn enter(&self, deadline: Instant) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(p) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(p);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::busy(
                "the server is busy (all comparison slots and the queue are full); retry shortly",
            ));
        }
        let got =
            tokio::time::timeout_at(deadline.into(), Arc::clone(&self.slots).acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match got {
            Ok(Ok(p)) => Ok(p),
            _ => Err(ApiError::busy(
                "the server is busy: no comparison slot became free in time; retry shortly",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn later(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[tokio::test]
    async fn gate_refuses_when_slots_and_queue_are_full() {
        let gate = Arc::new(Gate::new(1, 1));
        let held = gate.enter(later(1000)).await.expect("free slot");
        // One may wait; it gets the slot once the holder is done.
        let g = Arc::clone(&gate);
        let waiter = tokio::spawn(async move { g.enter(later(5000)).await.map(|_| ()) });
        while gate.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // The queue is full: the next one is refused at once, with Retry-After.
        let refused = gate.enter(later(5000)).await.expect_err("queue full");
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.retry_after, Some(2));
        drop(held);
        waiter.await.unwrap().expect("waiter gets the slot");
        assert_eq!(gate.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn gate_gives_up_at_the_deadline() {
        let gate = Gate::new(1, 4);
        let _held = gate.enter(later(1000)).await.expect("free slot");
        let t0 = Instant::now();
        let e = gate.enter(later(50)).await.expect_err("no slot in time");
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(t0.elapsed() >= Duration::from_millis(40));
        assert_eq!(gate.waiting.load(Ordering::SeqCst), 0);
    }
}
