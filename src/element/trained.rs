//! The run the element trains and shows, as it was started: what a link to it carries (its
//! sheet, settings, lineage and comparison) and how the page runs it (the workers' shares of
//! a sweep, the `from`/`to` range, the step the workers cut it at, a phase diagram's cut).
//! The element keeps one and asks it; the editor, the seed field and the attributes may have
//! changed since the run started, and a move, a link or a branch goes on with the run, not
//! with them.

use serde::Serialize;

use super::{apply_route, Apply, ApplyAsk, SheetProblem};
use crate::dopesheet::Dopesheet;
use crate::run::RunSpec;
use crate::settings::{BackendAsk, Controls, Settings, StepRange};
use crate::share::{Parent, ShareError, SharedRun, ENGINE_REVISION};

/// The element's inputs a start reads, as text (`None` where absent): the seed field, the
/// attributes and the browser's core count.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Asked {
    pub seed: Option<String>,
    pub latent_dims: Option<String>,
    pub batch_size: Option<String>,
    pub runs: Option<String>,
    pub workers: Option<String>,
    pub cores: usize,
    pub controls: Option<String>,
    pub backend: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl Asked {
    /// The settings and the range these inputs give, and what a start says of them: a message
    /// for each setting, and `controls`, `backend`, `from` or `to`, that could not be used. A
    /// Reset says them again, so that they are said of the run shown.
    pub fn read(&self) -> (Settings, Option<StepRange>, Vec<String>) {
        let (settings, mut problems) = Settings::read(
            self.seed.as_deref(),
            self.latent_dims.as_deref(),
            self.batch_size.as_deref(),
            self.runs.as_deref(),
            self.workers.as_deref(),
            self.cores,
        );
        problems.extend(Controls::read(self.controls.as_deref()).1);
        problems.extend(BackendAsk::read(self.backend.as_deref()).1);
        let (range, range_problems) = StepRange::read(self.from.as_deref(), self.to.as_deref());
        problems.extend(range_problems);
        (settings, range, problems)
    }
}

/// What one worker is told when it starts its part of the run (besides the sheet, the engine
/// and the states it resumes from): the worker reads it as its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerPart {
    pub spec: RunSpec,
    pub first: usize,
    pub count: usize,
    /// Several workers share the cores: each rests now and then.
    pub rests: bool,
    /// The step the run is cut at: a phase diagram's, or else the element's `to`.
    pub until: Option<u64>,
    pub parents: Vec<Parent>,
    pub versus: Option<String>,
}

/// The editor's sheet's problem, or else (`versus`: a comparison's second sheet) B's, its
/// message saying so.
pub fn sheets_problem(sheet: &str, versus: Option<&str>) -> Option<SheetProblem> {
    let broken = |sheet: &str| {
        Dopesheet::parse(sheet)
            .err()
            .map(|e| SheetProblem::from(&e))
    };
    broken(sheet).or_else(|| {
        let mut problem = broken(versus?)?;
        problem.message = format!("sheet B: {}", problem.message);
        Some(problem)
    })
}

#[derive(Debug, Clone)]
pub struct TrainedRun {
    shared: SharedRun,
    /// A sweep on the CPU shared among workers: `(first run, runs)` each.
    parts: Vec<(usize, usize)>,
    rests: bool,
    range: Option<StepRange>,
    /// Counts the phase diagrams begun and ended: a diagram filling in stops once it changes.
    grid: u64,
    /// The step a phase diagram's cells train to, while one fills in.
    grid_until: Option<u64>,
    /// The step the workers' runs were cut at when they started.
    workers_until: Option<u64>,
}

impl Default for TrainedRun {
    fn default() -> Self {
        TrainedRun {
            shared: SharedRun {
                sheet: String::new(),
                spec: RunSpec::default(),
                engine: ENGINE_REVISION,
                parents: Vec::new(),
                versus: None,
            },
            parts: vec![(0, 1)],
            rests: false,
            range: None,
            grid: 0,
            grid_until: None,
            workers_until: None,
        }
    }
}

impl TrainedRun {
    /// What a link to the run carries.
    pub fn shared(&self) -> &SharedRun {
        &self.shared
    }

    /// The sheet that trains (empty before the first start).
    pub fn sheet(&self) -> &str {
        &self.shared.sheet
    }

    pub fn spec(&self) -> RunSpec {
        self.shared.spec
    }

    pub fn versus(&self) -> Option<&str> {
        self.shared.versus.as_deref()
    }

    pub fn range(&self) -> Option<StepRange> {
        self.range
    }

    /// The runs the first worker trains: a sweep's speed on the CPU is one worker's at its part.
    pub fn first_part_runs(&self) -> usize {
        self.parts.first().map_or(self.shared.spec.runs, |p| p.1)
    }

    /// A start reads its settings, `controls`, `backend` and the range; returns what the
    /// notice says of the inputs that could not be used.
    pub fn start(&mut self, asked: &Asked) -> Vec<String> {
        let (settings, range, problems) = asked.read();
        let parts = crate::sweep::split_runs(settings.spec.runs, settings.workers);
        self.rests = crate::settings::sweep_rests(parts.len(), asked.cores);
        self.parts = parts.iter().map(|p| (p.start, p.len())).collect();
        self.shared.spec = settings.spec;
        self.range = range;
        problems
    }

    /// What each new worker trains on the CPU (`on_cpu`: the sweep shared among them) or on a
    /// GPU (the whole sweep in one); remembers the step their runs are cut at.
    pub fn worker_parts(&mut self, on_cpu: bool) -> Vec<WorkerPart> {
        let until = self.until();
        self.workers_until = until;
        let shares = match on_cpu {
            true => self.parts.clone(),
            false => vec![(0, self.shared.spec.runs)],
        };
        let rests = shares.len() > 1 && self.rests;
        (shares.into_iter())
            .map(|(first, count)| WorkerPart {
                spec: self.shared.spec,
                first,
                count,
                rests,
                until,
                parents: self.shared.parents.clone(),
                versus: self.shared.versus.clone(),
            })
            .collect()
    }

    /// The step runs are cut at now: a phase diagram's, or else the range's end.
    fn until(&self) -> Option<u64> {
        self.grid_until.or(self.range.and_then(|r| r.to))
    }

    /// The sheet now training.
    pub fn trains(&mut self, sheet: &str) {
        self.shared.sheet = sheet.to_string();
    }

    /// The run starts again from `seed`, with its other settings.
    pub fn reseed(&mut self, seed: u64) {
        self.shared.spec.seed = seed;
    }

    /// The run a `#run=` link carries: its lineage and comparison become the next start's; the
    /// caller puts its settings where the start reads them.
    pub fn open_link(&mut self, hash: &str) -> Result<SharedRun, ShareError> {
        let run = SharedRun::open(hash)?;
        self.fresh(run.versus.clone());
        self.shared.parents = run.parents.clone();
        Ok(run)
    }

    /// The next start is a fresh run of one sheet, or (`versus`) a comparison: no lineage, and
    /// no phase diagram goes on filling in.
    pub fn fresh(&mut self, versus: Option<String>) {
        self.end_grid();
        self.shared.parents.clear();
        self.shared.versus = versus;
    }

    /// How `sheet` (with `versus`, a comparison's B) reaches the workers, asked live or not,
    /// and whether the bottleneck asked for differs from the run's: both sheets are checked.
    pub fn apply_route(
        &self,
        sheet: &str,
        versus: Option<&str>,
        live: bool,
        dims_changed: bool,
    ) -> Result<Apply, SheetProblem> {
        if let Some(problem) = sheets_problem(sheet, versus) {
            return Err(problem);
        }
        let ask = ApplyAsk {
            live,
            comparing: self.shared.versus.is_some(),
            versus: versus.is_some(),
            dims_changed,
            // The workers keep the cut they started with; a grid's end ends its runs' cut.
            recut: self.workers_until != self.range.and_then(|r| r.to),
        };
        apply_route(ask).map_err(|e| SheetProblem {
            line: None,
            column: None,
            column_name: None,
            message: e.to_string(),
        })
    }

    /// The workers swapped `sheet` in, live at step `at` (its lineage then records the sheet
    /// it trained up to there) or from the start with `seed`.
    pub fn applied(&mut self, sheet: &str, live_at: Option<u64>, seed: u64) {
        match live_at {
            Some(at) => {
                let parents = super::applied_live(&self.shared.parents, &self.shared.sheet, at);
                self.shared.parents = parents;
            }
            None => {
                self.shared.parents.clear();
                self.reseed(seed);
            }
        }
        self.trains(sheet);
    }

    /// A branch at step `at` of the run shown: its lineage.
    pub fn branch(&mut self, at: u64) {
        self.shared.parents = super::branched(&self.shared.parents, &self.shared.sheet, at);
    }

    /// The lineage and comparison `saved` had: a start that failed leaves the run as it was.
    /// What else changed meanwhile stays (a phase diagram begun, the workers' cut).
    pub fn restore_lineage(&mut self, saved: &TrainedRun) {
        self.shared.parents = saved.shared.parents.clone();
        self.shared.versus = saved.shared.versus.clone();
    }

    /// A later start or edit takes the view over from a phase diagram filling in.
    pub fn end_grid(&mut self) {
        self.grid += 1;
        self.grid_until = None;
    }

    /// A phase diagram begins, its cells' runs cut at `until`: returns its number.
    pub fn begin_grid(&mut self, until: Option<u64>) -> u64 {
        self.fresh(None);
        self.grid_until = until;
        self.grid
    }

    /// Whether phase diagram `grid` is still the one filling in.
    pub fn grid_is(&self, grid: u64) -> bool {
        self.grid == grid
    }

    /// Phase diagram `grid` filled in (or stopped): its cut ends with it, unless a newer
    /// diagram took over.
    pub fn grid_done(&mut self, grid: u64) {
        if self.grid == grid {
            self.grid_until = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHEET: &str = "STEP,PHASE,ACTION,lr,loss-recon\n0,One,,0.01,1\n300,,,,\n";
    const OTHER: &str = "STEP,PHASE,ACTION,lr,loss-recon\n0,Two,,0.02,1\n300,,,,\n";

    fn started(asked: Asked) -> (TrainedRun, Vec<String>) {
        let mut run = TrainedRun::default();
        let notices = run.start(&asked);
        run.trains(SHEET);
        (run, notices)
    }

    #[test]
    fn a_reset_names_what_a_start_names() {
        let asked = Asked {
            seed: Some("-1".into()),
            backend: Some("quantum".into()),
            from: Some("soon".into()),
            ..Asked::default()
        };
        let notices = TrainedRun::default().start(&asked);
        assert_eq!(notices.len(), 3, "{notices:?}");
        assert_eq!(asked.read().2, notices);
    }

    #[test]
    fn a_start_reads_every_input_and_names_each_it_cannot_use() {
        let (run, notices) = started(Asked {
            seed: Some("7".into()),
            runs: Some("64".into()),
            cores: 4,
            controls: Some("most".into()),
            backend: Some("quantum".into()),
            to: Some("soon".into()),
            ..Asked::default()
        });
        assert_eq!(run.spec().seed, 7);
        assert_eq!(run.spec().runs, 64);
        assert_eq!(notices.len(), 3, "{notices:?}");
        assert!(notices[0].contains("most") && notices[1].contains("quantum"));
        assert!(notices[2].contains("soon"));
        assert_eq!(run.range(), None);
    }

    #[test]
    fn a_sweep_is_shared_among_cpu_workers_and_trained_whole_on_a_gpu() {
        let (mut run, _) = started(Asked {
            runs: Some("64".into()),
            workers: Some("4".into()),
            cores: 4,
            to: Some("200".into()),
            ..Asked::default()
        });
        let cpu = run.worker_parts(true);
        assert_eq!(cpu.len(), 4);
        assert_eq!(cpu.iter().map(|p| p.count).sum::<usize>(), 64);
        assert_eq!(cpu[1].first, cpu[0].count);
        assert!(cpu.iter().all(|p| p.rests && p.until == Some(200)));
        assert_eq!(run.first_part_runs(), cpu[0].count);
        let gpu = run.worker_parts(false);
        assert_eq!(
            (gpu.len(), gpu[0].first, gpu[0].count, gpu[0].rests),
            (1, 0, 64, false)
        );
    }

    #[test]
    fn a_phase_diagram_cuts_its_runs_until_it_ends_and_then_an_apply_needs_new_workers() {
        let (mut run, _) = started(Asked::default());
        let grid = run.begin_grid(Some(120));
        assert_eq!(run.worker_parts(true)[0].until, Some(120));
        run.grid_done(grid);
        assert!(run.grid_is(grid));
        // The workers still cut at 120; the element no longer does.
        assert_eq!(
            run.apply_route(SHEET, None, false, false),
            Ok(Apply::NewWorkers)
        );
        assert_eq!(run.worker_parts(true)[0].until, None);
        assert_eq!(
            run.apply_route(SHEET, None, false, false),
            Ok(Apply::Restart)
        );
        // A later grid, or an edit, ends an earlier one; its end leaves the later one's cut.
        let later = run.begin_grid(Some(50));
        run.grid_done(grid);
        assert!(!run.grid_is(grid) && run.grid_is(later));
        assert_eq!(run.worker_parts(true)[0].until, Some(50));
    }

    #[test]
    fn applying_checks_both_sheets_and_names_b() {
        let (run, _) = started(Asked::default());
        let broken = "STEP,PHASE,ACTION,lr\n0,One,,fast\n";
        let a = run.apply_route(broken, None, false, false).unwrap_err();
        assert_eq!((a.line, a.column.is_some()), (Some(2), true), "{a:?}");
        let b = run
            .apply_route(SHEET, Some(broken), false, false)
            .unwrap_err();
        assert!(
            b.message.starts_with("sheet B: dopesheet line 2"),
            "{}",
            b.message
        );
        assert_eq!(sheets_problem(SHEET, Some(broken)), Some(b));
        assert_eq!(sheets_problem(SHEET, Some(SHEET)), None);
        let live = run
            .apply_route(SHEET, Some(OTHER), true, false)
            .unwrap_err();
        assert_eq!(live.line, None);
        assert_eq!(
            run.apply_route(SHEET, Some(OTHER), false, false),
            Ok(Apply::NewWorkers)
        );
    }

    #[test]
    fn lineage_grows_live_is_reset_by_a_restart_and_a_branch_keeps_what_came_before() {
        let (mut run, _) = started(Asked::default());
        run.applied(OTHER, Some(100), 1);
        assert_eq!(run.sheet(), OTHER);
        assert_eq!(
            run.shared().parents,
            [Parent {
                sheet: SHEET.into(),
                step: 100
            }]
        );
        run.branch(50);
        assert_eq!(
            run.shared().parents,
            [Parent {
                sheet: SHEET.into(),
                step: 50
            }]
        );
        run.applied(SHEET, None, 9);
        assert!(run.shared().parents.is_empty());
        assert_eq!(run.spec().seed, 9);
    }

    #[test]
    fn a_failed_start_puts_back_the_lineage_and_comparison_but_not_a_grid_begun_meanwhile() {
        let (mut run, _) = started(Asked::default());
        run.branch(40);
        let saved = run.clone();
        run.fresh(Some(OTHER.into()));
        let grid = run.begin_grid(Some(80));
        run.restore_lineage(&saved);
        assert_eq!(run.shared().parents, saved.shared().parents);
        assert_eq!(run.versus(), None);
        assert!(run.grid_is(grid));
        assert_eq!(run.worker_parts(true)[0].until, Some(80));
    }

    #[test]
    fn a_link_brings_its_lineage_and_comparison_and_a_fresh_start_drops_them() {
        let mut linked = TrainedRun::default();
        linked.trains(OTHER);
        linked.branch(40);
        linked.shared.versus = Some(SHEET.into());
        linked.trains(SHEET);
        let hash = linked.shared().to_hash();
        let mut run = TrainedRun::default();
        let opened = run.open_link(&hash).unwrap();
        assert_eq!(opened.sheet, SHEET);
        assert_eq!(run.shared().parents, linked.shared().parents);
        assert_eq!(run.versus(), Some(SHEET));
        assert!(run.open_link("#run=@@").is_err());
        run.fresh(None);
        assert!(run.shared().parents.is_empty() && run.versus().is_none());
    }
}
