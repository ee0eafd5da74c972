//! A run as a link: its sheet, seed, latent dims, batch size and seed count, deflated (raw
//! deflate, as `CompressionStream("deflate-raw")` writes it) and in base64url, after `#run=`.
//!
//! A link is untrusted text: decoding checks every field and says what is wrong, and never
//! inflates more than [`MAX_SHEET_BYTES`].

use crate::run::setting::{Setting, SettingError, BATCH_SIZE, LATENT_DIMS, PAGE_RUNS, SEED};
use crate::run::RunSpec;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::dopesheet::Dopesheet;
use crate::escape::xml_text;
use crate::timeline::Timeline;

/// What a link restores. The page hands it over as one object
/// (`{sheet, spec: {seed, latent_dims, batch_size, runs}, parents, versus}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SharedRun {
    pub sheet: String,
    pub spec: RunSpec,
    /// The [`ENGINE_REVISION`] that made the link.
    #[serde(default = "current_revision")]
    pub engine: u32,
    /// Where the run branched: it trained `parents[0].sheet` from step 0 to
    /// `parents[0].step`, then each next parent's sheet to its step, then `sheet` from the
    /// last of them on. Empty for a run of `sheet` from the start.
    #[serde(default)]
    pub parents: Vec<Parent>,
    /// A comparison's second sheet (B), trained on the same seeds as `sheet` (A).
    #[serde(default)]
    pub versus: Option<String>,
}

fn current_revision() -> u32 {
    ENGINE_REVISION
}

/// A sheet a branched run trained on before it branched, and the step it branched at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Parent {
    pub sheet: String,
    pub step: u64,
}

/// The engine's revision: raised whenever the same sheet, seed and settings would train to a
/// different run on the CPU engine, which replays a run bit for bit (the step's arithmetic,
/// the sampler, the initial weights, the verdict). The GPU engine agrees with it to float
/// rounding; a change in its last bits does not raise the revision. A
/// link records the revision that made it, so that one made before such a change says so
/// when it is opened. Links made before links carried it are revision 1.
pub const ENGINE_REVISION: u32 = 1;

/// The largest sheet a link may carry once inflated.
pub const MAX_SHEET_BYTES: usize = 256 * 1024;

/// The hash's prefix.
pub const PREFIX: &str = "#run=";

/// First line of the inflated text: the format and its version.
const HEADER: &str = "color-bottleneck run v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("the link has no run in it (it should end in {PREFIX}…)")]
    NoRun,
    #[error("the link is garbled: {0:?} is not base64url")]
    NotBase64(char),
    #[error("the link is truncated or corrupt: it does not inflate")]
    Corrupt,
    #[error("the link's run is larger than {MAX_SHEET_BYTES} bytes")]
    TooLarge,
    #[error("the link is not a color-bottleneck run (or from a newer version)")]
    NotARun,
    #[error(
        "the link comes from a newer color-bottleneck (engine revision {0}; this page has \
         revision {ENGINE_REVISION})"
    )]
    Newer(u32),
    #[error("the link's branch-{index} is {value:?}, which is not {expected}")]
    Branch {
        index: usize,
        value: String,
        expected: &'static str,
    },
    #[error("the link's {0}")]
    Setting(#[from] SettingError),
    #[error("the link's {field} is {value:?}, which is not {expected}")]
    Field {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("the link's sheet is broken: {0}")]
    BrokenSheet(String),
    #[error("the sheet the link's run branched from (branch {index}) is broken: {problem}")]
    BrokenParent { index: usize, problem: String },
    #[error(
        "the link's branch {index} is at step {step}, past the end of its sheet ({len} steps)"
    )]
    BranchPastEnd { index: usize, step: u64, len: u64 },
    #[error("the link's second sheet (B) is broken: {0}")]
    BrokenVersus(String),
}

impl SharedRun {
    /// The hash, `#run=…`.
    pub fn to_hash(&self) -> String {
        let deflated = miniz_oxide::deflate::compress_to_vec(self.text().as_bytes(), 10);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(deflated))
    }

    /// Whether the link opens again: its text, inflated, within [`MAX_SHEET_BYTES`] (a
    /// branch's parents' sheets count too).
    pub fn check_size(&self) -> Result<(), ShareError> {
        if self.text().len() > MAX_SHEET_BYTES {
            return Err(ShareError::TooLarge);
        }
        Ok(())
    }

    /// The link's text before it is deflated.
    fn text(&self) -> String {
        // A parent's sheet goes before the run's, its length in bytes in its field; so does a
        // comparison's second sheet.
        let mut branches = String::new();
        let mut body = String::new();
        for (i, p) in self.parents.iter().enumerate() {
            branches.push_str(&format!("branch-{i}={}:{}\n", p.step, p.sheet.len()));
            body.push_str(&p.sheet);
        }
        if let Some(versus) = &self.versus {
            branches.push_str(&format!("versus={}\n", versus.len()));
            body.push_str(versus);
        }
        body.push_str(&self.sheet);
        format!(
            "{HEADER}\nseed={}\nlatent-dims={}\nbatch-size={}\nruns={}\nengine={}\n{branches}\n{body}",
            self.spec.seed,
            self.spec.latent_dims,
            self.spec.batch_size,
            self.spec.runs,
            self.engine
        )
    }

    /// From a hash (with or without its `#`), or a whole URL ending in one.
    pub fn from_hash(hash: &str) -> Result<SharedRun, ShareError> {
        let encoded = hash
            .rsplit_once(PREFIX)
            .map(|(_, e)| e)
            .or_else(|| hash.strip_prefix(&PREFIX[1..]))
            .ok_or(ShareError::NoRun)?
            .trim();
        if let Some(bad) = encoded
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            // Named as the reader typed it: the browser's address gives `<` as `%3C`.
            let escaped = (encoded.split_once('%'))
                .and_then(|(_, rest)| u8::from_str_radix(rest.get(..2)?, 16).ok());
            return Err(ShareError::NotBase64(match escaped {
                Some(byte) if bad == '%' && byte.is_ascii() => byte as char,
                _ => bad,
            }));
        }
        let deflated = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| ShareError::Corrupt)?;
        let text = miniz_oxide::inflate::decompress_to_vec_with_limit(&deflated, MAX_SHEET_BYTES)
            .map_err(|e| match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => ShareError::TooLarge,
            _ => ShareError::Corrupt,
        })?;
        let text = String::from_utf8(text).map_err(|_| ShareError::NotARun)?;
        let (head, sheet) = text.split_once("\n\n").ok_or(ShareError::NotARun)?;
        let mut lines = head.lines();
        if lines.next() != Some(HEADER) {
            return Err(ShareError::NotARun);
        }
        let mut fields = std::collections::BTreeMap::new();
        for line in lines {
            let (k, v) = line.split_once('=').ok_or(ShareError::NotARun)?;
            fields.insert(k, v);
        }
        let number = |field: &'static str, range: std::ops::RangeInclusive<u64>, expected| {
            let value = fields.get(field).copied().unwrap_or("");
            value
                .parse::<u64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or(ShareError::Field {
                    field,
                    value: value.to_string(),
                    expected,
                })
        };
        // A link carries every setting: a missing one is refused like a bad one.
        let setting = |s: Setting| {
            s.parse(fields.get(s.name).copied().unwrap_or(""))
                .map_err(ShareError::from)
        };
        let engine = match fields.get("engine") {
            None => 1,
            Some(_) => number(
                "engine",
                1..=u32::MAX as u64,
                "an engine revision (1 or more)",
            )? as u32,
        };
        if engine > ENGINE_REVISION {
            return Err(ShareError::Newer(engine));
        }
        let (parents, sheet) = read_parents(&fields, sheet)?;
        let (versus, sheet) = match fields.get("versus") {
            None => (None, sheet),
            Some(value) => {
                let bytes = (value.parse::<usize>().ok())
                    .filter(|&b| b <= sheet.len() && sheet.is_char_boundary(b))
                    .ok_or(ShareError::Field {
                        field: "versus",
                        value: value.to_string(),
                        expected: "a length within the link's sheets",
                    })?;
                let (versus, sheet) = sheet.split_at(bytes);
                (Some(versus.to_string()), sheet)
            }
        };
        Ok(SharedRun {
            parents,
            versus,
            engine,
            spec: RunSpec {
                seed: setting(SEED)?,
                latent_dims: setting(LATENT_DIMS)? as usize,
                batch_size: setting(BATCH_SIZE)? as usize,
                runs: setting(PAGE_RUNS)? as usize,
            },
            sheet: sheet.to_string(),
        })
    }
}

/// The parents a link's `branch-I=STEP:BYTES` fields name, cut from the front of its body;
/// and the rest of the body, the run's own sheet.
fn read_parents<'a>(
    fields: &std::collections::BTreeMap<&str, &str>,
    mut body: &'a str,
) -> Result<(Vec<Parent>, &'a str), ShareError> {
    let mut parents: Vec<Parent> = Vec::new();
    for i in 0.. {
        let field = format!("branch-{i}");
        let Some(value) = fields.get(field.as_str()) else {
            break;
        };
        let bad = |expected: &'static str| ShareError::Branch {
            index: i,
            value: value.to_string(),
            expected,
        };
        let (step, bytes) = value
            .split_once(':')
            .and_then(|(s, b)| Some((s.parse::<u64>().ok()?, b.parse::<usize>().ok()?)))
            .ok_or_else(|| bad("STEP:BYTES"))?;
        if parents.last().is_some_and(|p| p.step >= step) || step == 0 {
            return Err(bad("a step after the branch before it"));
        }
        if step > crate::dopesheet::MAX_STEPS {
            return Err(bad("a step a sheet can reach"));
        }
        if !body.is_char_boundary(bytes) || bytes > body.len() {
            return Err(bad("a length within the link's sheets"));
        }
        let (sheet, rest) = body.split_at(bytes);
        parents.push(Parent {
            sheet: sheet.to_string(),
            step,
        });
        body = rest;
    }
    // A branch field the count skipped (branch-0, branch-2) would drop a parent unseen.
    let named = fields.keys().filter(|k| k.starts_with("branch-")).count();
    if named != parents.len() {
        return Err(ShareError::Branch {
            index: parents.len(),
            value: String::new(),
            expected: "there: the link's branches are not numbered from 0 without a gap",
        });
    }
    Ok((parents, body))
}

impl SharedRun {
    /// The run a link opens: [`SharedRun::from_hash`], and every sheet in it parses, each
    /// branch within its parent's sheet.
    pub fn open(hash: &str) -> Result<SharedRun, ShareError> {
        let run = SharedRun::from_hash(hash)?;
        Dopesheet::parse(&run.sheet).map_err(|e| ShareError::BrokenSheet(e.to_string()))?;
        for (index, parent) in run.parents.iter().enumerate() {
            let sheet = Dopesheet::parse(&parent.sheet).map_err(|e| ShareError::BrokenParent {
                index,
                problem: e.to_string(),
            })?;
            let len = Timeline::new(&sheet).len();
            if parent.step > len {
                return Err(ShareError::BranchPastEnd {
                    index,
                    step: parent.step,
                    len,
                });
            }
        }
        if let Some(Err(e)) = run.versus.as_deref().map(Dopesheet::parse) {
            return Err(ShareError::BrokenVersus(e.to_string()));
        }
        Ok(run)
    }

    /// What to tell whoever opens a link made by an older engine (than `current`): that its
    /// run may now come out differently. `None` for a link of the current engine.
    pub fn revision_note(&self, current: u32) -> Option<String> {
        (self.engine < current).then(|| {
            format!(
                "this link was made by engine revision {}; the engine has changed since \
                 (revision {current}), so the run may not come out as it did when the link was \
                 made",
                self.engine
            )
        })
    }
}

/// The two ways to put `run` in a post, for a copy of the site at `base` (a URL ending in
/// `/`): the module and the element (with the sheet inline), and an iframe for hosts that
/// strip scripts.
///
/// `base` comes from the page's address and the sheet from whoever wrote it: every value
/// goes into its attribute through [`xml_text`], so none can close the attribute or open a
/// tag in the post.
pub fn embed_snippets(base: &str, run: &SharedRun) -> [String; 2] {
    let base = xml_text(base);
    let runs = if run.spec.runs > 1 {
        format!(" runs=\"{}\"", run.spec.runs)
    } else {
        String::new()
    };
    let script = format!("<script type=\"module\" src=\"{base}color-bottleneck.js\"></script>");
    // A branched run needs its parents' sheets too, and a comparison its second sheet: the
    // element opens its link.
    let module = if run.parents.is_empty() && run.versus.is_none() {
        format!(
            "{script}\n<color-bottleneck autoplay compact seed=\"{}\" latent-dims=\"{}\" \
             batch-size=\"{}\"{runs}\n  dopesheet=\"{}\"></color-bottleneck>",
            run.spec.seed,
            run.spec.latent_dims,
            run.spec.batch_size,
            xml_text(&run.sheet)
        )
    } else {
        format!(
            "{script}\n<color-bottleneck autoplay compact\n  run=\"{}\"></color-bottleneck>",
            xml_text(&run.to_hash())
        )
    };
    let iframe = format!(
        "<iframe src=\"{base}embed.html{}\" width=\"100%\" height=\"720\" loading=\"lazy\"\n  \
         title=\"color-bottleneck: a colour wheel forming in a {}-D bottleneck\"></iframe>",
        xml_text(&run.to_hash()),
        run.spec.latent_dims
    );
    [module, iframe]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dopesheet::EX_1_5;

    fn ex_1_5() -> SharedRun {
        SharedRun {
            sheet: EX_1_5.to_string(),
            spec: RunSpec {
                seed: 7,
                latent_dims: 4,
                batch_size: 256,
                runs: 1,
            },
            engine: ENGINE_REVISION,
            parents: Vec::new(),
            versus: None,
        }
    }

    /// A link as it was made before links carried the engine's revision.
    fn link_without_revision(run: &SharedRun) -> String {
        let text = format!(
            "{HEADER}\nseed={}\nlatent-dims={}\nbatch-size={}\nruns={}\n\n{}",
            run.spec.seed, run.spec.latent_dims, run.spec.batch_size, run.spec.runs, run.sheet
        );
        let deflated = miniz_oxide::deflate::compress_to_vec(text.as_bytes(), 10);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(deflated))
    }

    #[test]
    fn a_link_opens_only_when_every_sheet_in_it_parses_and_each_branch_fits() {
        let good = ex_1_5();
        assert_eq!(SharedRun::open(&good.to_hash()), Ok(good.clone()));
        let broken = "STEP,PHASE,ACTION,lr,loss-recon\n0,One,,fast,1\n300,,,,\n";
        let with = |f: &dyn Fn(&mut SharedRun)| {
            let mut run = good.clone();
            f(&mut run);
            SharedRun::open(&run.to_hash()).unwrap_err()
        };
        let e = with(&|r| r.sheet = broken.into());
        assert!(matches!(e, ShareError::BrokenSheet(_)), "{e}");
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = with(&|r| r.versus = Some(broken.into()));
        assert!(matches!(e, ShareError::BrokenVersus(_)), "{e}");
        let e = with(&|r| {
            r.parents = vec![Parent {
                sheet: broken.into(),
                step: 10,
            }]
        });
        assert!(
            matches!(e, ShareError::BrokenParent { index: 0, .. }),
            "{e}"
        );
        let e = with(&|r| {
            r.parents = vec![Parent {
                sheet: EX_1_5.into(),
                step: 1_000_000,
            }]
        });
        assert!(
            e.to_string()
                .starts_with("the link's branch 0 is at step 1000000, past the end"),
            "{e}"
        );
    }

    #[test]
    fn a_gap_in_the_branch_numbering_is_refused() {
        let text = format!(
            "{HEADER}\nseed=1\nlatent-dims=4\nbatch-size=256\nruns=1\nengine=1\n\
             branch-0=5:3\nbranch-2=9:3\n\nabcdefSTEP"
        );
        let deflated = miniz_oxide::deflate::compress_to_vec(text.as_bytes(), 10);
        let link = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(deflated));
        let e = SharedRun::from_hash(&link).unwrap_err();
        assert!(
            e.to_string().contains("not numbered from 0 without a gap"),
            "{e}"
        );
    }

    #[test]
    fn links_carry_the_engine_revision_and_older_ones_say_so() {
        let run = ex_1_5();
        assert_eq!(
            SharedRun::from_hash(&run.to_hash()).unwrap().engine,
            ENGINE_REVISION
        );
        // Made before links carried it: revision 1, and it still opens.
        let old = SharedRun::from_hash(&link_without_revision(&run)).unwrap();
        assert_eq!(
            old,
            SharedRun {
                engine: 1,
                ..run.clone()
            }
        );
        assert_eq!(old.revision_note(1), None);
        assert_eq!(
            old.revision_note(2).as_deref(),
            Some(
                "this link was made by engine revision 1; the engine has changed since \
                 (revision 2), so the run may not come out as it did when the link was made"
            )
        );
        let newer = SharedRun {
            engine: ENGINE_REVISION + 1,
            ..run.clone()
        };
        assert_eq!(
            SharedRun::from_hash(&newer.to_hash()),
            Err(ShareError::Newer(ENGINE_REVISION + 1))
        );
        let zero = SharedRun { engine: 0, ..run };
        assert!(matches!(
            SharedRun::from_hash(&zero.to_hash()),
            Err(ShareError::Field {
                field: "engine",
                ..
            })
        ));
    }

    #[test]
    fn a_run_survives_the_round_trip() {
        let run = ex_1_5();
        let hash = run.to_hash();
        assert_eq!(SharedRun::from_hash(&hash), Ok(run.clone()));
        let url = format!("https://example.org/color-bottleneck/index.html{hash}");
        assert_eq!(SharedRun::from_hash(&url), Ok(run));
    }

    #[test]
    fn a_comparisons_link_carries_both_sheets() {
        let run = SharedRun {
            versus: Some(EX_1_5.replace("0.20", "0.25")),
            spec: RunSpec {
                runs: 16,
                ..ex_1_5().spec
            },
            ..ex_1_5()
        };
        let back = SharedRun::from_hash(&run.to_hash()).unwrap();
        assert_eq!(back, run);
        assert_eq!(back.sheet, EX_1_5);
        // A length past the sheets is named.
        let text =
            format!("{HEADER}\nseed=1\nlatent-dims=4\nbatch-size=256\nruns=1\nversus=99\n\nSTEP");
        let deflated = miniz_oxide::deflate::compress_to_vec(text.as_bytes(), 10);
        let link = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(deflated));
        assert!(matches!(
            SharedRun::from_hash(&link),
            Err(ShareError::Field {
                field: "versus",
                ..
            })
        ));
    }

    #[test]
    fn the_ex_1_5_link_is_short() {
        let hash = ex_1_5().to_hash();
        assert!(hash.len() < 600, "{} characters", hash.len());
    }

    #[test]
    fn a_broken_link_says_what_is_wrong() {
        let hash = ex_1_5().to_hash();
        let half = &hash[..hash.len() / 2];
        assert_eq!(SharedRun::from_hash(half), Err(ShareError::Corrupt));
        assert_eq!(SharedRun::from_hash("#seed=3"), Err(ShareError::NoRun));
        assert_eq!(
            SharedRun::from_hash("#run=abc<img>"),
            Err(ShareError::NotBase64('<'))
        );
        // As the address bar gives it back: the character the reader pasted is named.
        assert_eq!(
            SharedRun::from_hash("#run=abc%3Cimg%3E"),
            Err(ShareError::NotBase64('<'))
        );
        assert_eq!(
            SharedRun::from_hash("#run=%20abc"),
            Err(ShareError::NotBase64(' '))
        );
        assert_eq!(
            SharedRun::from_hash("#run=abc%"),
            Err(ShareError::NotBase64('%'))
        );
        let other = URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(b"hello", 6));
        assert_eq!(
            SharedRun::from_hash(&format!("#run={other}")),
            Err(ShareError::NotARun)
        );
        let bad_dims = SharedRun {
            spec: RunSpec {
                latent_dims: 99,
                ..ex_1_5().spec
            },
            ..ex_1_5()
        };
        let e = SharedRun::from_hash(&bad_dims.to_hash()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the link's latent-dims=\"99\" is not a whole number from 2 to 64"
        );
    }

    #[test]
    fn snippets_carry_the_run_and_escape_the_sheet() {
        let run = SharedRun {
            sheet: "STEP,PHASE,ACTION,lr\n0,\"<b>\" & co,,0.1\n9,,,\n".into(),
            spec: RunSpec {
                runs: 4,
                ..ex_1_5().spec
            },
            ..ex_1_5()
        };
        let [module, iframe] = embed_snippets("https://example.org/cb/", &run);
        assert!(module.starts_with(
            "<script type=\"module\" src=\"https://example.org/cb/color-bottleneck.js\"></script>"
        ));
        assert!(module.contains(" seed=\"7\" latent-dims=\"4\" batch-size=\"256\" runs=\"4\""));
        assert!(
            module.contains("0,&quot;&lt;b&gt;&quot; &amp; co,,0.1"),
            "{module}"
        );
        assert!(!module.contains("<b>"));
        let src = iframe.split('"').nth(1).unwrap();
        assert_eq!(SharedRun::from_hash(src), Ok(run));
    }

    #[test]
    fn a_deflate_bomb_is_refused() {
        let huge = format!("{HEADER}\nseed=1\n\n{}", "x".repeat(MAX_SHEET_BYTES * 4));
        let bomb =
            URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(huge.as_bytes(), 10));
        assert!(bomb.len() < 20_000);
        assert_eq!(
            SharedRun::from_hash(&format!("#run={bomb}")),
            Err(ShareError::TooLarge)
        );
    }
}
