//! The manifest: labelled pairs and ranking tasks, read from JSON and checked.

use super::metrics::MatchRule;
use crate::error::{Error, IoOp, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A box as `[x, y, w, h]`.
pub type BoxXywh = [u32; 4];

/// The expected pair-level result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Same,
    Different,
}

/// One labelled pair, paths resolved.
#[derive(Debug, Clone, Serialize)]
pub struct PairSpec {
    pub name: String,
    pub a: PathBuf,
    pub b: PathBuf,
    pub expect: Expect,
    /// Truth boxes; `None` when only the verdict is known.
    pub boxes: Option<Vec<BoxXywh>>,
    pub mask: Option<PathBuf>,
    pub tags: Vec<String>,
    /// When a predicted box finds a truth box.
    pub rule: MatchRule,
}

/// A candidate of a ranking task.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub path: PathBuf,
    /// Edit severity (0 = untouched or nuisance only); `None` for unrelated images.
    pub severity: Option<f64>,
}

/// A ranking task: candidates to order by similarity to `reference`.
#[derive(Debug, Clone, Serialize)]
pub struct RankSpec {
    pub name: String,
    pub reference: PathBuf,
    pub candidates: Vec<Candidate>,
}

/// A parsed manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub name: String,
    pub pairs: Vec<PairSpec>,
    pub rankings: Vec<RankSpec>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawManifest {
    List(Vec<RawPair>),
    Full {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        root: Option<PathBuf>,
        #[serde(default)]
        pairs: Vec<RawPair>,
        #[serde(default)]
        rankings: Vec<RawRanking>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPair {
    #[serde(default)]
    name: Option<String>,
    a: PathBuf,
    b: PathBuf,
    #[serde(default)]
    expect: Option<Expect>,
    #[serde(default)]
    boxes: Option<Vec<BoxXywh>>,
    #[serde(default)]
    mask: Option<PathBuf>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default, rename = "match")]
    rule: MatchRule,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRanking {
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "ref")]
    reference: PathBuf,
    candidates: Vec<RawCandidate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCandidate {
    path: PathBuf,
    #[serde(default)]
    severity: Option<f64>,
    #[serde(default)]
    unrelated: bool,
}

impl Manifest {
    /// Reads and checks a manifest. `root` overrides the manifest's own `root`.
    pub fn load(path: &Path, root: Option<&Path>) -> Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(IoOp::Read, path, e.to_string(), e))?;
        Manifest::parse(&text, path, root)
    }

    /// Parses manifest text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path, root: Option<&Path>) -> Result<Manifest> {
        // One line, whatever names the manifest holds (a JSON string may hold a line
        // break: found by fuzzing).
        let bad = |problem: String| Error::decode(path, escape_controls(&problem));
        let raw: RawManifest =
            serde_json::from_str(text).map_err(|e| bad(format!("not a spotdiff manifest: {e}")))?;
        let (name, own_root, pairs, rankings) = match raw {
            RawManifest::List(p) => (None, None, p, Vec::new()),
            RawManifest::Full {
                name,
                root,
                pairs,
                rankings,
            } => (name, root, pairs, rankings),
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let base = match (root, own_root) {
            (Some(r), _) => r.to_path_buf(),
            (None, Some(r)) => dir.join(r),
            (None, None) => dir.to_path_buf(),
        };
        let name = name.unwrap_or_else(|| {
            path.file_stem()
                .map_or("manifest".into(), |s| s.to_string_lossy().into_owned())
        });
        let mut out = Vec::with_capacity(pairs.len());
        for (i, p) in pairs.into_iter().enumerate() {
            // A blank name is no name (found by fuzzing): pairs are named in reports.
            let pname = p
                .name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| format!("pair{}", i + 1));
            let expect = match (p.expect, &p.boxes) {
                (Some(e), _) => e,
                (None, Some(b)) if b.is_empty() => Expect::Same,
                (None, Some(_)) => Expect::Different,
                (None, None) => {
                    return Err(bad(format!(
                        "pair `{pname}` has neither `expect` nor `boxes`"
                    )))
                }
            };
            if let Some(b) = &p.boxes {
                if expect == Expect::Same && !b.is_empty() {
                    return Err(bad(format!(
                        "pair `{pname}` expects `same` but lists boxes"
                    )));
                }
                if let Some(z) = b.iter().find(|b| b[2] == 0 || b[3] == 0) {
                    return Err(bad(format!("pair `{pname}`: box {z:?} is empty")));
                }
            }
            out.push(PairSpec {
                name: pname,
                a: base.join(p.a),
                b: base.join(p.b),
                expect,
                boxes: p.boxes,
                mask: p.mask.map(|m| base.join(m)),
                tags: p.tags,
                rule: p.rule,
            });
        }
        let rankings = rankings
            .into_iter()
            .enumerate()
            .map(|(i, r)| RankSpec {
                name: r.name.unwrap_or_else(|| format!("ranking{}", i + 1)),
                reference: base.join(r.reference),
                candidates: r
                    .candidates
                    .into_iter()
                    .map(|c| Candidate {
                        path: base.join(c.path),
                        severity: if c.unrelated {
                            None
                        } else {
                            Some(c.severity.unwrap_or(0.0))
                        },
                    })
                    .collect(),
            })
            .collect();
        Ok(Manifest {
            name,
            pairs: out,
            rankings,
        })
    }
}

/// `text` with its control characters escaped (`\n` for a line break).
fn escape_controls(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_forms_and_errors() {
        let p = Path::new("/data/set/m.json");
        let m = Manifest::parse(
            r#"[{"name":"x","a":"a.png","b":"b.png","boxes":[[1,2,3,4]]},
                {"name":" ","a":"c.png","b":"d.png","boxes":[]}]"#,
            p,
            None,
        )
        .unwrap();
        assert_eq!(m.pairs[0].expect, Expect::Different);
        assert_eq!(m.pairs[1].expect, Expect::Same);
        assert_eq!(m.pairs[1].name, "pair2");
        assert_eq!(m.pairs[0].a, Path::new("/data/set/a.png"));
        assert_eq!(m.name, "m");
        let m = Manifest::parse(
            r#"{"root":"img","pairs":[{"a":"a","b":"b","expect":"different"}],
                "rankings":[{"ref":"r","candidates":[{"path":"c","severity":2},{"path":"u","unrelated":true}]}]}"#,
            p,
            None,
        )
        .unwrap();
        assert_eq!(m.pairs[0].boxes, None);
        assert_eq!(m.pairs[0].b, Path::new("/data/set/img/b"));
        assert_eq!(m.rankings[0].candidates[0].severity, Some(2.0));
        assert_eq!(m.rankings[0].candidates[1].severity, None);
        for bad in [
            r#"[{"a":"a","b":"b"}]"#,
            r#"[{"a":"a","b":"b","expect":"same","boxes":[[0,0,1,1]]}]"#,
            r#"[{"a":"a","b":"b","boxes":[[0,0,0,1]]}]"#,
            r#"[{"a":"a","b":"b","boxes":[],"colour":1}]"#,
            r#"{"pairs":7}"#,
            "[{\"name\":\"two\\nlines\",\"a\":\"a\",\"b\":\"b\"}]",
        ] {
            let e = Manifest::parse(bad, p, None).unwrap_err().to_string();
            assert!(e.starts_with("/data/set/m.json: "), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
