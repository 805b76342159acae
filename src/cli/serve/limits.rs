//! The server's limits: its settings, admission (at most `jobs` comparisons at once,
//! at most `queue` more waiting for a slot) and the memory budget of uploads in flight.

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
    /// A request's head must arrive within this time of its first byte.
    pub header_timeout: Duration,
    /// Longest silence: before a request (an idle connection is closed), inside an
    /// upload (408), while an answer is sent (the connection is closed).
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// All upload bodies in memory at once, together.
    pub upload_budget_bytes: usize,
}

impl Config {
    pub fn from_args(args: &ServeArgs) -> Config {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mib = |m: u64| usize::try_from(m << 20).unwrap_or(usize::MAX);
        Config {
            max_upload_bytes: mib(args.max_upload_mb),
            max_pixels: args.max_pixels,
            jobs: if args.jobs == 0 { cores } else { args.jobs },
            queue: args.queue,
            timeout: Duration::from_secs(args.timeout),
            header_timeout: Duration::from_secs(args.header_timeout),
            idle_timeout: Duration::from_secs(args.idle_timeout),
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
            // The budget holds at least one upload of the largest size.
            upload_budget_bytes: mib(args.upload_budget_mb.max(args.max_upload_mb)),
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

/// The memory budget of upload bodies in flight, in KiB: a body reserves its announced
/// length (or, without one, what has arrived) before storing it, and gives it back
/// when its request has decoded the images (or failed). A reservation the budget cannot cover is refused at once (503
/// with Retry-After), never waited for.
pub struct Budget {
    kib: Arc<Semaphore>,
    total_kib: usize,
}

/// A share of the [`Budget`]; returned when dropped.
pub struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
}

impl Budget {
    pub fn new(bytes: usize) -> Budget {
        let total_kib = bytes.div_ceil(1024).clamp(1, Semaphore::MAX_PERMITS);
        Budget {
            kib: Arc::new(Semaphore::new(total_kib)),
            total_kib,
        }
    }

    /// An empty reservation, to grow.
    pub fn empty(&self) -> Reservation {
        Reservation { permit: None }
    }

    /// Grows `r` to cover `bytes` in all.
    pub fn grow(&self, r: &mut Reservation, bytes: usize) -> Result<(), ApiError> {
        let want = bytes.div_ceil(1024);
        let have = r.permit.as_ref().map_or(0, |p| p.num_permits());
        if want <= have {
            return Ok(());
        }
        let more = u32::try_from(want - have).unwrap_or(u32::MAX);
        match Arc::clone(&self.kib).try_acquire_many_owned(more) {
            Ok(p) => {
                match &mut r.permit {
                    Some(mine) => mine.merge(p),
                    None => r.permit = Some(p),
                }
                Ok(())
            }
            Err(_) => Err(ApiError::busy(format!(
                "the server is busy: its memory for uploads ({} MiB) is taken by uploads in flight; retry shortly",
                self.total_kib >> 10
            ))),
        }
    }

    /// KiB reserved now.
    #[cfg(test)]
    pub fn used_kib(&self) -> usize {
        self.total_kib - self.kib.available_permits()
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

    #[test]
    fn the_upload_budget_refuses_what_it_cannot_cover_and_takes_back_what_is_dropped() {
        let budget = Budget::new(10 << 10);
        let mut a = budget.empty();
        budget.grow(&mut a, 6000).unwrap();
        budget.grow(&mut a, 4000).unwrap(); // already covered
        assert_eq!(budget.used_kib(), 6);
        let mut b = budget.empty();
        let e = budget.grow(&mut b, 5 << 10).expect_err("over the budget");
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.retry_after, Some(2));
        budget.grow(&mut b, 4 << 10).unwrap();
        assert_eq!(budget.used_kib(), 10);
        drop(a);
        assert_eq!(budget.used_kib(), 4);
        drop(b);
        assert_eq!(budget.used_kib(), 0);
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
