//! A comparison session: what stays the same across many comparisons (batch, rank,
//! evaluation). Every comparison those modes make goes through [`Session::compare`], so
//! state that is expensive to build (a deep-feature backbone) is built once and shared
//! by all pairs and threads.

use crate::cancel::Cancel;
use crate::compare::{compare_cancellable, compare_with, Comparison};
use crate::deep::Backbone;
use crate::error::Result;
use crate::load::Image;
use crate::options::{Method, Options};

/// Shared, read-only state for many comparisons. `Sync`: one session serves all threads.
#[derive(Default)]
pub struct Session {
    backbone: Option<Backbone>,
}

impl Session {
    /// A session without a backbone: pixel and SSIM evidence only.
    pub fn new() -> Session {
        Session { backbone: None }
    }

    /// A session that shares `backbone` (built once) across all its comparisons.
    pub fn with_backbone(backbone: Option<Backbone>) -> Session {
        Session { backbone }
    }

    /// The backbone, when the session has one.
    pub fn backbone(&self) -> Option<&Backbone> {
        self.backbone.as_ref()
    }

    /// Compares two images with `options`, using whatever the session holds.
    pub fn compare<'a>(
        &self,
        a: &'a Image,
        b: &'a Image,
        options: &Options,
    ) -> Result<Comparison<'a>> {
        compare_with(a, b, options, self.backbone.as_ref())
    }

    /// [`Session::compare`], stopping with [`crate::Error::Cancelled`] soon after
    /// `cancel` is cancelled (see [`crate::compare_cancellable`]).
    pub fn compare_cancellable<'a>(
        &self,
        a: &'a Image,
        b: &'a Image,
        options: &Options,
        cancel: &Cancel,
    ) -> Result<Comparison<'a>> {
        compare_cancellable(a, b, options, self.backbone.as_ref(), cancel)
    }

    /// True when this session can run `method` (the deep method needs a backbone).
    pub fn supports(&self, method: Method) -> bool {
        method != Method::Deep || self.backbone.is_some()
    }

    /// The methods this session can run, in [`Method::ALL`]'s order.
    pub fn methods(&self) -> Vec<Method> {
        Method::ALL
            .iter()
            .copied()
            .filter(|m| self.supports(*m))
            .collect()
    }
}
