//! Evaluation against labelled pairs: manifest parsing, box matching by IoU, detection
//! metrics, pixel AUROC and Spearman's rank correlation.
//!
//! A manifest is JSON, either an array of pairs or an object:
//!
//! ```json
//! {
//!   "name": "my-set",
//!   "root": "images",
//!   "pairs": [
//!     {"name": "p1", "a": "p1-a.png", "b": "p1-b.png",
//!      "boxes": [[10, 20, 30, 40]], "mask": "p1-mask.png", "tags": ["edit:text"]},
//!     {"name": "p2", "a": "p2-a.png", "b": "p2-b.png", "expect": "same", "boxes": []},
//!     {"name": "p3", "a": "p3-a.png", "b": "p3-b.png", "expect": "different"}
//!   ],
//!   "rankings": [
//!     {"name": "r1", "ref": "ref.png", "candidates": [
//!       {"path": "light-edit.png", "severity": 1},
//!       {"path": "heavy-edit.png", "severity": 3},
//!       {"path": "other-photo.png", "unrelated": true}]}
//!   ]
//! }
//! ```
//!
//! Paths are relative to the manifest's folder joined with `root` (default: the folder
//! itself). Boxes are `[x, y, w, h]` in pixels of A. `expect` is `same` or `different`;
//! when absent it follows from `boxes` (empty: same). A pair without `boxes` has only a
//! verdict as truth and counts in the pair-level numbers, not the box numbers. `mask`
//! (optional) is an image whose non-black pixels are the changed ones; it feeds the pixel
//! AUROC, where a `same` pair without a mask counts as all unchanged.

mod manifest;
mod metrics;
mod runner;

pub use manifest::{BoxXywh, Candidate, Expect, Manifest, PairSpec, RankSpec};
pub use metrics::{
    iou, match_boxes, match_boxes_by, spearman, Auroc, MatchRule, Prediction, Tally, IOU_MATCH,
};
pub use runner::{
    external_auroc, load_mask, load_predictions, run_pair, scaled_options, External, PairRun,
    SweepPoint, SWEEP,
};
