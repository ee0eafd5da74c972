//! What the page's element decides, apart from the DOM: which run's frames it draws
//! ([`Runs`]), what the pointer and the keys do on its canvases ([`Gestures`]), the run it
//! shows as it started and how each start, apply, branch and link changes it
//! ([`TrainedRun`]), which sheet it
//! opens with, whether an applied sheet needs new workers, where a branch comes from, which
//! kept states a branch can start from, and what the phase diagram's menus offer. The element
//! (`www/color-bottleneck.js`) asks and carries the answers out; the rules are here, where the
//! native tests see them.

pub mod controls;
pub mod engines;
pub mod gestures;
pub mod grid_run;
pub mod playback;
mod runs;
pub mod trained;

pub use gestures::Gestures;
pub use runs::Runs;
pub use trained::TrainedRun;

use serde::Serialize;

use crate::dopesheet::{Dopesheet, DopesheetError, MAX_BYTES};
use crate::share::Parent;
use crate::timeline::{EditReach, Timeline};

/// How the element opens, given the sheet its link, attribute or `src` gave, or why none
/// could be had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Opening {
    /// The sheet to train; `None`: the default sheet.
    pub train: Option<String>,
    /// What the editor shows; `None`: the default sheet.
    pub editor: Option<String>,
    /// What the notice says, if anything.
    pub notice: Option<String>,
    /// The editor's sheet's problem, located, to show under it; `None` when it is fine.
    pub problem: Option<SheetProblem>,
}

/// What the editor shows under a sheet that cannot train as asked: where in it, and what.
/// A problem with how it is applied (Apply live on a comparison) has no place in the sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SheetProblem {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub column_name: Option<String>,
    pub message: String,
}

impl From<&DopesheetError> for SheetProblem {
    fn from(e: &DopesheetError) -> Self {
        SheetProblem {
            line: Some(e.location.line),
            column: e.location.column.as_ref().map(|(i, _)| *i),
            column_name: e.location.column.as_ref().map(|(_, n)| n.clone()),
            message: e.to_string(),
        }
    }
}

/// Where the element's first sheet comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SheetSource {
    /// A `#run=` link's run.
    Link(String),
    /// The `dopesheet` attribute's text.
    Inline(String),
    /// The file at `src` (`None`: the default sheet).
    Fetch(Option<String>),
}

/// The `run` attribute's link comes first, then a linkable page's address (`address`, where
/// it is a `#run=` link), then the `dopesheet` attribute, then `src`.
pub fn sheet_source(
    run: Option<&str>,
    address: Option<&str>,
    dopesheet: Option<&str>,
    src: Option<&str>,
) -> SheetSource {
    let linked = address.filter(|a| a.starts_with("#run="));
    match (run.or(linked), dopesheet) {
        (Some(link), _) => SheetSource::Link(link.to_string()),
        (None, Some(text)) => SheetSource::Inline(text.to_string()),
        (None, None) => SheetSource::Fetch(src.map(str::to_string)),
    }
}

/// A sheet that cannot be had, or is broken, is named in the notice and the default sheet
/// trains. A broken sheet stays in the editor to be fixed, unless it is too large to edit.
pub fn open_sheet(given: Result<&str, &str>) -> Opening {
    let csv = match given {
        Ok(csv) => csv,
        Err(why) => {
            return Opening {
                train: None,
                editor: None,
                notice: Some(format!("{why}; running the default sheet instead")),
                problem: None,
            }
        }
    };
    match Dopesheet::parse(csv) {
        Ok(_) => Opening {
            train: Some(csv.to_string()),
            editor: Some(csv.to_string()),
            notice: None,
            problem: None,
        },
        Err(problem) => {
            let editable = csv.len() <= MAX_BYTES;
            Opening {
                train: None,
                editor: editable.then(|| csv.to_string()),
                notice: Some(format!(
                    "the dopesheet given is broken ({problem}); running the default sheet instead"
                )),
                problem: editable.then(|| SheetProblem::from(&problem)),
            }
        }
    }
}

/// Why the answer to a request for a `src` sheet is not a sheet, if it is not: a status other
/// than OK, or a web page where a CSV belongs (a server's error page, or a redirect to a
/// login page, which come back as 200).
pub fn sheet_response_problem(src: &str, status: u16, content_type: &str) -> Option<String> {
    let why = if !(200..300).contains(&status) {
        format!("HTTP {status}")
    } else if content_type.to_ascii_lowercase().contains("html") {
        format!("the server sent a web page ({content_type}), not a CSV")
    } else {
        return None;
    };
    Some(format!("could not load dopesheet {}: {why}", src_name(src)))
}

/// What the element says when a request for a `src` sheet got no answer: none within
/// `timeout_s` seconds (`Some`), or the browser's `reason` for a request that failed (the
/// server unreachable, or one that does not let other sites read it).
pub fn sheet_request_failed(src: &str, timeout_s: Option<f64>, reason: &str) -> String {
    let why = match timeout_s {
        Some(seconds) => format!("no answer in {seconds} s"),
        None => format!(
            "the request failed ({reason}): the server is unreachable, or it does not let \
             other sites read the file"
        ),
    };
    format!("could not load dopesheet {}: {why}", src_name(src))
}

/// A `src` as messages name it: as written, or `""` when there is nothing to show.
fn src_name(src: &str) -> &str {
    match src.trim().is_empty() {
        true => "\"\"",
        false => src,
    }
}

/// How an applied sheet reaches the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Apply {
    /// New workers train it from step 0: a comparison (begun, ended or trained again: its
    /// two sheets train side by side), a new bottleneck, or a new step the runs are cut at.
    NewWorkers,
    /// The workers train it from step 0.
    Restart,
    /// The workers swap it in under the running model, at its step (*Apply live*).
    Live,
}

/// Why a sheet cannot be applied the way it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// *Apply live* swaps one sheet under one run; a comparison trains two.
    #[error("Apply live acts on one sheet: Apply & restart trains a comparison")]
    LiveComparison,
}

/// What the run is when a sheet is applied, and what is asked of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApplyAsk {
    /// *Apply live* rather than *Apply & restart*.
    pub live: bool,
    /// The run now is a comparison (A against B).
    pub comparing: bool,
    /// The sheet comes with a B, for a comparison.
    pub versus: bool,
    /// The bottleneck asked for differs from the run's.
    pub dims_changed: bool,
    /// The step the workers cut their runs at differs from the one the element wants now.
    pub recut: bool,
}

/// How an applied sheet reaches the workers: live keeps the model whatever else changed, and
/// cannot act on a comparison; otherwise new workers where the run's shape changes.
pub fn apply_route(ask: ApplyAsk) -> Result<Apply, ApplyError> {
    let comparison = ask.comparing || ask.versus;
    if ask.live {
        return if comparison {
            Err(ApplyError::LiveComparison)
        } else {
            Ok(Apply::Live)
        };
    }
    Ok(if comparison || ask.dims_changed || ask.recut {
        Apply::NewWorkers
    } else {
        Apply::Restart
    })
}

/// A run's lineage after *Apply live* swapped `sheet` out at step `at`: the run trained
/// `sheet` up to there, which its link must replay. The workers of a sweep apply at about the
/// same step; a step at or before the last branch point adds nothing.
pub fn applied_live(parents: &[Parent], sheet: &str, at: u64) -> Vec<Parent> {
    let mut out = parents.to_vec();
    if at > parents.last().map_or(0, |p| p.step) {
        out.push(Parent {
            sheet: sheet.to_string(),
            step: at,
        });
    }
    out
}

/// The lineage of a branch at step `at` of a run of `sheet` (with `parents`): the parents
/// before `at`, then the sheet the run was training just before `at`. A branch at step 0 is a
/// fresh run.
pub fn branched(parents: &[Parent], sheet: &str, at: u64) -> Vec<Parent> {
    if at == 0 {
        return Vec::new();
    }
    let during = parents
        .iter()
        .find(|p| p.step >= at)
        .map_or(sheet, |p| p.sheet.as_str());
    let mut out: Vec<Parent> = parents.iter().filter(|p| p.step < at).cloned().collect();
    out.push(Parent {
        sheet: during.to_string(),
        step: at,
    });
    out
}

/// The workers of a sweep may each keep a different step near the one asked for. Where all
/// kept one and they differ, the earliest is asked for again (each may have kept that one too).
pub fn ask_states_again(steps: &[Option<u64>]) -> Option<u64> {
    let kept: Option<Vec<u64>> = steps.iter().copied().collect();
    let kept = kept?;
    let first = *kept.first()?;
    kept.iter()
        .any(|&s| s != first)
        .then(|| *kept.iter().min().unwrap_or(&first))
}

/// Whether every worker kept a state at one and the same step: a branch starts from them;
/// otherwise it replays the run from its seed.
pub fn states_agree(steps: &[Option<u64>]) -> bool {
    match steps.first() {
        Some(Some(first)) => steps.iter().all(|s| *s == Some(*first)),
        _ => false,
    }
}

/// The axes the phase diagram's menus describe, as the command line's `grid` takes them
/// (`COLUMN@STEP=VALUES`): each chosen cell with its values' text; a menu left at none adds
/// no axis.
pub fn grid_axes(menus: &[(&str, &str)]) -> Vec<String> {
    (menus.iter())
        .filter(|(cell, _)| !cell.is_empty())
        .map(|(cell, values)| format!("{cell}={}", values.trim()))
        .collect()
}

/// What a phase-diagram menu shows after the sheet's keyframed cells (`addresses`) change: the
/// choice it had while the sheet still has it; otherwise nothing for the optional (y) menu, and
/// for x a `reg-separate` keyframe, the term a curriculum tunes most, or else the first cell.
pub fn grid_axis_choice(addresses: &[String], before: &str, optional: bool) -> String {
    if addresses.iter().any(|a| a == before) {
        return before.to_string();
    }
    if optional {
        return String::new();
    }
    addresses
        .iter()
        .find(|a| a.starts_with("reg-separate@"))
        .or(addresses.first())
        .cloned()
        .unwrap_or_default()
}

/// Characters from which the editor checks its sheets at a pause in typing rather than on
/// every key: a megabyte takes about 0.2 s to check.
pub const LONG_SHEETS: usize = 100_000;

/// What the editor notes under an edit of the running sheet, for a run at `step` that stops
/// at `until` (the element's `to`, if any): that every step the edit changes is behind the run,
/// or past where it stops, so that *Apply live* would change nothing it still trains. `None`
/// where the edit reaches the run, or either sheet does not parse (the editor names that
/// problem instead).
pub fn edit_note(running: &str, edited: &str, step: u64, until: Option<u64>) -> Option<String> {
    let timeline = |sheet: &str| Dopesheet::parse(sheet).ok().map(|s| Timeline::new(&s));
    let (running, edited) = (timeline(running)?, timeline(edited)?);
    Some(match running.edit_reach(&edited, step, until)? {
        EditReach::Behind(step) => {
            format!("this change is before step {step} and will not affect a live run")
        }
        EditReach::PastStop(stop) => {
            format!(
                "this change is after step {stop}, where this run stops, and will not affect it"
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHEET: &str = "STEP,PHASE,ACTION,lr,loss-recon\n0,One,,0.01,1\n300,,,,\n";

    fn parent(sheet: &str, step: u64) -> Parent {
        Parent {
            sheet: sheet.into(),
            step,
        }
    }

    #[test]
    fn a_good_sheet_opens_in_the_editor_and_trains() {
        let o = open_sheet(Ok(SHEET));
        assert_eq!(o.train.as_deref(), Some(SHEET));
        assert_eq!(o.editor.as_deref(), Some(SHEET));
        assert_eq!((o.notice, o.problem), (None, None));
    }

    #[test]
    fn a_sheet_that_could_not_be_had_is_named_and_the_default_trains() {
        let o = open_sheet(Err("could not load dopesheet x.csv: HTTP 404"));
        assert_eq!((o.train, o.editor, o.problem), (None, None, None));
        assert_eq!(
            o.notice.as_deref(),
            Some("could not load dopesheet x.csv: HTTP 404; running the default sheet instead")
        );
    }

    #[test]
    fn a_broken_sheet_stays_in_the_editor_unless_too_large_and_the_default_trains() {
        let broken = "STEP,PHASE,ACTION,lr,loss-recon\n0,One,,fast,1\n300,,,,\n";
        let o = open_sheet(Ok(broken));
        assert_eq!(o.train, None);
        assert_eq!(o.editor.as_deref(), Some(broken));
        let problem = o.problem.expect("located under the editor");
        assert_eq!(
            (problem.line, problem.column_name.as_deref()),
            (Some(2), Some("lr"))
        );
        let notice = o.notice.unwrap();
        assert!(
            notice.starts_with("the dopesheet given is broken (") && notice.contains("line 2"),
            "{notice}"
        );
        let huge = format!("{broken}{}", "#\n".repeat(MAX_BYTES / 2));
        let o = open_sheet(Ok(&huge));
        assert_eq!((o.train, o.editor, o.problem), (None, None, None));
        assert!(o.notice.is_some());
    }

    #[test]
    fn a_src_answer_that_is_not_a_sheet_is_named_with_its_address() {
        assert_eq!(sheet_response_problem("a.csv", 200, "text/csv"), None);
        assert_eq!(sheet_response_problem("a.csv", 204, ""), None);
        assert_eq!(
            sheet_response_problem("gone.csv", 404, "text/html").as_deref(),
            Some("could not load dopesheet gone.csv: HTTP 404")
        );
        assert_eq!(
            sheet_response_problem("login", 200, "Text/HTML; charset=utf-8").as_deref(),
            Some(
                "could not load dopesheet login: the server sent a web page \
                 (Text/HTML; charset=utf-8), not a CSV"
            )
        );
        assert_eq!(
            sheet_request_failed("slow.csv", Some(10.0), "signal timed out"),
            "could not load dopesheet slow.csv: no answer in 10 s"
        );
        assert_eq!(
            sheet_request_failed("https://elsewhere.example/a.csv", None, "Failed to fetch"),
            "could not load dopesheet https://elsewhere.example/a.csv: the request failed \
             (Failed to fetch): the server is unreachable, or it does not let other sites read \
             the file"
        );
        assert_eq!(
            sheet_response_problem("", 200, "text/html").as_deref(),
            Some(
                "could not load dopesheet \"\": the server sent a web page (text/html), not a CSV"
            )
        );
    }

    #[test]
    fn a_comparison_or_a_changed_shape_needs_new_workers_and_live_refuses_a_comparison() {
        let ask = ApplyAsk::default();
        assert_eq!(apply_route(ask), Ok(Apply::Restart));
        assert_eq!(apply_route(ApplyAsk { live: true, ..ask }), Ok(Apply::Live));
        for changed in [
            ApplyAsk {
                dims_changed: true,
                ..ask
            },
            ApplyAsk {
                versus: true,
                ..ask
            },
            ApplyAsk {
                comparing: true,
                ..ask
            },
            ApplyAsk { recut: true, ..ask },
        ] {
            assert_eq!(apply_route(changed), Ok(Apply::NewWorkers), "{changed:?}");
        }
        assert_eq!(
            apply_route(ApplyAsk {
                live: true,
                dims_changed: true,
                ..ask
            }),
            Ok(Apply::Live),
            "live keeps the model, whatever the fields say"
        );
        for comparison in [
            ApplyAsk {
                live: true,
                versus: true,
                ..ask
            },
            ApplyAsk {
                live: true,
                comparing: true,
                ..ask
            },
        ] {
            assert_eq!(apply_route(comparison), Err(ApplyError::LiveComparison));
        }
    }

    #[test]
    fn apply_live_records_the_sheet_it_left_once_per_step() {
        assert_eq!(applied_live(&[], "a", 300), vec![parent("a", 300)]);
        let once = vec![parent("a", 300)];
        assert_eq!(applied_live(&once, "b", 300), once, "the same step again");
        assert_eq!(applied_live(&once, "b", 200), once, "before the last one");
        assert_eq!(
            applied_live(&once, "b", 900),
            vec![parent("a", 300), parent("b", 900)]
        );
        assert_eq!(
            applied_live(&[], "a", 0),
            vec![],
            "at step 0 nothing trained"
        );
    }

    #[test]
    fn a_branch_keeps_the_parents_before_it_and_the_sheet_it_was_training() {
        assert_eq!(branched(&[], "now", 0), vec![], "step 0: a fresh run");
        assert_eq!(branched(&[], "now", 500), vec![parent("now", 500)]);
        let parents = vec![parent("a", 300), parent("b", 900)];
        // Looked back to step 600: the run was training b there.
        assert_eq!(
            branched(&parents, "now", 600),
            vec![parent("a", 300), parent("b", 600)]
        );
        // At a branch point exactly: the sheet that trained up to it.
        assert_eq!(branched(&parents, "now", 300), vec![parent("a", 300)]);
        assert_eq!(
            branched(&parents, "now", 1200),
            vec![parent("a", 300), parent("b", 900), parent("now", 1200)]
        );
    }

    #[test]
    fn workers_that_kept_different_steps_are_asked_again_at_the_earliest() {
        assert_eq!(ask_states_again(&[Some(500), Some(500)]), None);
        assert_eq!(
            ask_states_again(&[Some(500), Some(400), Some(450)]),
            Some(400)
        );
        assert_eq!(ask_states_again(&[Some(500), None]), None, "one kept none");
        assert_eq!(ask_states_again(&[]), None);
        assert!(states_agree(&[Some(400), Some(400)]));
        assert!(!states_agree(&[Some(400), Some(500)]));
        assert!(!states_agree(&[Some(400), None]));
        assert!(!states_agree(&[None, None]));
        assert!(!states_agree(&[]));
    }

    #[test]
    fn the_grid_menus_keep_their_choice_or_start_on_reg_separate() {
        let cells: Vec<String> = ["lr@0", "reg-separate@300", "reg-separate@600"]
            .map(String::from)
            .to_vec();
        assert_eq!(grid_axis_choice(&cells, "lr@0", false), "lr@0");
        assert_eq!(
            grid_axis_choice(&cells, "gone@5", false),
            "reg-separate@300"
        );
        assert_eq!(grid_axis_choice(&cells, "", true), "");
        assert_eq!(grid_axis_choice(&cells, "lr@0", true), "lr@0");
        let plain = vec!["lr@0".to_string()];
        assert_eq!(grid_axis_choice(&plain, "", false), "lr@0");
        assert_eq!(grid_axis_choice(&[], "", false), "");
        let link = |s: &str| SheetSource::Link(s.into());
        assert_eq!(
            sheet_source(Some("#run=a"), Some("#run=b"), Some(SHEET), None),
            link("#run=a")
        );
        assert_eq!(
            sheet_source(None, Some("#run=b"), Some(SHEET), Some("x.csv")),
            link("#run=b")
        );
        let inline = SheetSource::Inline(SHEET.into());
        assert_eq!(
            sheet_source(None, Some("#intro"), Some(SHEET), Some("x.csv")),
            inline
        );
        let fetch = SheetSource::Fetch(Some("x.csv".into()));
        assert_eq!(sheet_source(None, None, None, Some("x.csv")), fetch);
        assert_eq!(
            sheet_source(None, Some(""), None, None),
            SheetSource::Fetch(None)
        );
        assert_eq!(
            grid_axes(&[("reg-separate@0", " 0.1..0.5/3 "), ("", "1,2")]),
            ["reg-separate@0=0.1..0.5/3"]
        );
        assert_eq!(
            grid_axes(&[("lr@0", "0.01,0.02"), ("reg-norm@3000", "0,1")]),
            ["lr@0=0.01,0.02", "reg-norm@3000=0,1"]
        );
    }

    #[test]
    fn an_edit_behind_the_run_or_past_its_stop_is_noted() {
        let running =
            "STEP,PHASE,ACTION,lr,loss-recon\n0,One,,0.01,1\n1000,Two,,0.01,0.5\n2000,,,0.01,0.5\n";
        let early = running.replace("0,One,,0.01,1", "0,One,,0.01,0.9");
        let late = running.replace("2000,,,0.01,0.5", "2000,,,0.01,0.4");
        assert_eq!(
            edit_note(running, &early, 1500, None).as_deref(),
            Some("this change is before step 1500 and will not affect a live run")
        );
        assert_eq!(edit_note(running, &early, 500, None), None);
        assert_eq!(edit_note(running, &late, 500, None), None);
        assert_eq!(
            edit_note(running, &late, 500, Some(800)).as_deref(),
            Some("this change is after step 800, where this run stops, and will not affect it")
        );
        assert_eq!(edit_note(running, "STEP,oops", 1500, None), None);
    }
}
