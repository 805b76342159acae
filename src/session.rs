//! A comparison session: what stays the same across many comparisons (batch, rank,
//! evaluation). Every comparison those modes make goes through [`Session::compare`], so
//! state that is expensive to build (a deep-feature backbone) is built once and shared
//! by all pairs and threads.

use crate::compare::{compare, Comparison};
use crate::error::Result;
use crate::load::Image;
use crate::options::{Method, Options};

/// Shared, read-only state for many comparisons. `Sync`: one session serves all threads.
#[derive(Default)]
pub struct Session {}

impl Session {
    /// A session without optional models.
    pub fn new() -> Session {
        Session {}
    }

    /// Compares two images with `options`, using whatever the session holds.
    pub fn compare<'a>(
        &self,
        a: &'a Image,
        b: &'a Image,
        options: &Options,
    ) -> Result<Comparison<'a>> {
        compare(a, b, options)
    }

    /// True when this session can run `method` (a method may need a model).
    pub fn supports(&self, method: Method) -> bool {
        Method::ALL.contains(&method)
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
