//! Cancellation: a token a caller keeps and a comparison checks between its steps
//! (decoding, each change map, regions) and inside the long per-tile loops, so that
//! work nobody waits for any more (a timed-out or abandoned web request) ends within a
//! fraction of a second instead of running to completion.
//!
//! Between steps a check returns [`Error::Cancelled`]. Inside the loops of stages
//! that read through a closure or a trait (SSIM's planes, the region search), a
//! cancelled token unwinds instead ([`Cancel::bail`]: `resume_unwind` with a private
//! marker, which runs no panic hook and prints nothing) up to the comparison's entry
//! point, where [`catching`] turns it into the same error; the stages themselves need
//! no knowledge of the token, and their buffers are freed on the way. Built with
//! `panic = "abort"`, only the checks between steps remain.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A cancellation token: cheap to clone (all clones share one flag), `Send + Sync`.
/// Once [`Cancel::cancel`] is called, every check on it fails with
/// [`Error::Cancelled`]; it cannot be reset.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A fresh token, not cancelled.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks every comparison holding this token (or a clone) to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once [`Cancel::cancel`] was called on this token or a clone.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Error::Cancelled)` naming `step` when cancelled, `Ok` otherwise.
    #[inline]
    pub fn check(&self, step: &'static str) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled { step })
        } else {
            Ok(())
        }
    }

    /// A guard that cancels this token when dropped (unless [`CancelOnDrop::disarm`]
    /// is called first): tie it to whatever waits for the result, and the work stops
    /// when that is abandoned.
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(Some(self.clone()))
    }
}

impl Cancel {
    /// Inside a stage's loop: unwinds to the enclosing [`catching`] when cancelled.
    #[inline]
    pub(crate) fn bail(&self, step: &'static str) {
        #[cfg(panic = "unwind")]
        if self.is_cancelled() {
            std::panic::resume_unwind(Box::new(Unwound(step)));
        }
        #[cfg(not(panic = "unwind"))]
        let _ = step;
    }
}

/// The payload of a [`Cancel::bail`] unwind.
struct Unwound(&'static str);

/// Runs `f`; an unwind from [`Cancel::bail`] inside it becomes [`Error::Cancelled`]
/// (any other panic goes on unwinding).
pub(crate) fn catching<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => match payload.downcast::<Unwound>() {
            Ok(u) => Err(Error::Cancelled { step: u.0 }),
            Err(other) => std::panic::resume_unwind(other),
        },
    }
}

/// Cancels its token when dropped; see [`Cancel::on_drop`].
#[derive(Debug)]
pub struct CancelOnDrop(Option<Cancel>);

impl CancelOnDrop {
    /// Lets the work go on after the guard is dropped.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            c.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn clones_share_the_flag_and_guards_cancel_on_drop() {
        let c = Cancel::new();
        assert!(c.check("decode").is_ok());
        let guard = c.on_drop();
        let other = c.clone();
        drop(guard);
        assert!(other.is_cancelled());
        let e = other.check("pixel map").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Cancelled);
        assert_eq!(e.to_string(), "cancelled (during pixel map)");
        let d = Cancel::new();
        d.on_drop().disarm();
        assert!(!d.is_cancelled());
    }

    #[test]
    fn a_bail_inside_a_stage_becomes_a_typed_error() {
        let c = Cancel::new();
        let r: Result<u32> = catching(|| {
            c.bail("regions");
            Ok(1)
        });
        assert_eq!(r.unwrap(), 1);
        c.cancel();
        let r: Result<u32> = catching(|| {
            // As a stage's parallel loop would: the unwind crosses rayon's threads.
            use rayon::prelude::*;
            let v: Vec<u32> = (0..1000u32)
                .into_par_iter()
                .map(|i| {
                    c.bail("regions");
                    i
                })
                .collect();
            Ok(v.len() as u32)
        });
        assert_eq!(r.unwrap_err().to_string(), "cancelled (during regions)");
        let other = std::panic::catch_unwind(|| catching::<()>(|| panic!("a real bug")));
        assert!(other.is_err(), "other panics go on unwinding");
    }
}
