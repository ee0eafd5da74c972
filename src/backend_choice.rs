//! Which engine trains a page's run: the page starts on the CPU engine at once and times the
//! GPU's in the background; these rules decide whether the run moves, and for how long the
//! choice is remembered.

use crate::settings::{Backend, BackendAsk};

/// How many times faster than the CPU the GPU must train a run's shape for the page to move
/// the run there: a hand-over pauses the run for a moment, and a close race is within what a
/// quarter-second burst can tell apart.
pub const HANDOVER_MARGIN: f64 = 1.5;

/// How much of a run must be left, in seconds at its current speed, for the GPU to be timed
/// while it trains: timing costs a second or two of the machine (loading the WebGPU engine,
/// compiling its kernel, a burst on each engine), which a move can only win back on a long
/// run. A shorter run is timed when it ends or pauses, for the next run and the next visit.
pub const TIME_WHILE_TRAINING_IF_SECONDS_LEFT: f64 = 10.0;

/// How long a choice is remembered, in days: drivers and browsers change under it.
pub const REMEMBER_DAYS: f64 = 30.0;

const DAY_MS: f64 = 24.0 * 60.0 * 60.0 * 1000.0;

/// Whether a run training at `cpu` steps per second moves to a GPU measured at `gpu` at the
/// same shape. An unmeasured or broken figure (zero, NaN) never moves it.
pub fn moves_to_gpu(cpu: f64, gpu: f64) -> bool {
    cpu.is_finite() && gpu.is_finite() && cpu > 0.0 && gpu >= HANDOVER_MARGIN * cpu
}

/// How long the page must have watched the run train, in ms, before its speed counts: the
/// first frames after a start come from the workers' warm-up.
pub const SPEED_SETTLES_MS: f64 = 500.0;

/// Whether to time the GPU now: the run is `idle` (paused, not started or finished), or it has
/// enough left at `steps_per_second`, measured over `measured_ms`, for a move to pay
/// ([`TIME_WHILE_TRAINING_IF_SECONDS_LEFT`]). Without a settled speed yet, not.
pub fn time_gpu_now(
    remaining_steps: f64,
    steps_per_second: f64,
    measured_ms: f64,
    idle: bool,
) -> bool {
    idle || (measured_ms >= SPEED_SETTLES_MS
        && steps_per_second > 0.0
        && remaining_steps / steps_per_second > TIME_WHILE_TRAINING_IF_SECONDS_LEFT)
}

/// The race as the readout shows it: `webgpu 1,200 · cpu 4,100 steps/s → cpu`.
pub fn race_label(gpu: f64, cpu: f64, chosen: &str) -> String {
    format!(
        "webgpu {} · cpu {} steps/s → {chosen}",
        thousands(gpu),
        thousands(cpu)
    )
}

/// Whether a choice remembered at `saved_ms` (ms since the epoch) for the adapter described as
/// `saved_adapter` still holds at `now_ms` with `adapter`: the same adapter (vendor and name),
/// and at most [`REMEMBER_DAYS`] old. A clock set back counts as stale too.
pub fn choice_is_current(saved_ms: f64, now_ms: f64, saved_adapter: &str, adapter: &str) -> bool {
    let age = now_ms - saved_ms;
    saved_adapter == adapter && age.is_finite() && (0.0..=REMEMBER_DAYS * DAY_MS).contains(&age)
}

/// `rate` rounded, with thousands separated by commas: `12,345`.
pub fn thousands(rate: f64) -> String {
    let digits = format!("{:.0}", if rate.is_finite() { rate.max(0.0) } else { 0.0 });
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What a new `backend` attribute does to a run under way on the `engine` engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendChange {
    /// What the element says, if anything.
    pub notice: Option<String>,
    /// The engine the run moves to, with its checkpoint.
    pub move_to: Option<Backend>,
    /// The GPU is timed and the run moves if it wins, as for a fresh start on `auto`.
    pub time_gpu: bool,
}

/// `cpu` or `webgpu` move the run to that engine (if it is not there); anything else means
/// `auto` (read as [`BackendAsk::read`] reads it, a bad value named), which times the GPU
/// where one is offered and the run is on the CPU. A comparison trains both its sheets on the
/// CPU side by side, so it stays; the attribute holds for the next single sheet.
pub fn backend_change(
    asked: Option<&str>,
    engine: Backend,
    comparing: bool,
    gpu_offered: bool,
) -> BackendChange {
    let (ask, problem) = BackendAsk::read(asked);
    let mut change = BackendChange {
        notice: problem,
        move_to: None,
        time_gpu: false,
    };
    if comparing {
        change.notice = Some(
            "a comparison trains on the CPU; the backend applies to the next single sheet".into(),
        );
    } else if let Some(kind) = ask.engine() {
        change.move_to = (kind != engine).then_some(kind);
    } else {
        change.time_gpu = engine == Backend::Cpu && gpu_offered;
    }
    change
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_backend_attribute_moves_the_run_times_the_gpu_or_waits_for_a_single_sheet() {
        let moves = |asked, engine| backend_change(asked, engine, false, true).move_to;
        let (cpu, gpu) = (Backend::Cpu, Backend::WebGpu);
        assert_eq!(moves(Some("webgpu"), cpu), Some(gpu));
        assert_eq!(moves(Some("cpu"), gpu), Some(cpu));
        assert_eq!(moves(Some("cpu"), cpu), None, "already there");
        assert_eq!(moves(Some("webgpu"), gpu), None);
        assert_eq!(moves(Some(" cpu "), gpu), Some(cpu), "read as at start");
        let bad = backend_change(Some("GPU"), cpu, false, true);
        assert_eq!(
            bad.notice.as_deref(),
            Some("backend=\"GPU\" is not one of auto, webgpu or cpu; using auto")
        );
        for asked in [Some("auto"), Some("GPU"), None] {
            let on_cpu = backend_change(asked, cpu, false, true);
            assert!(on_cpu.time_gpu && on_cpu.move_to.is_none(), "{asked:?}");
            assert!(
                !backend_change(asked, gpu, false, true).time_gpu,
                "on the GPU already"
            );
            assert!(
                !backend_change(asked, cpu, false, false).time_gpu,
                "no GPU offered"
            );
        }
        let comparison = backend_change(Some("webgpu"), cpu, true, true);
        assert!(comparison.move_to.is_none() && !comparison.time_gpu);
        assert!(comparison.notice.unwrap().contains("next single sheet"));
    }

    #[test]
    fn the_gpu_takes_over_only_when_clearly_faster() {
        assert!(moves_to_gpu(1000.0, 1500.0), "1.5x moves");
        assert!(moves_to_gpu(1000.0, 40_000.0));
        assert!(!moves_to_gpu(1000.0, 1499.0), "just under 1.5x stays");
        assert!(
            !moves_to_gpu(1644.0, 207.0),
            "SwiftShader against the CPU stays"
        );
        assert!(!moves_to_gpu(0.0, 100.0), "no CPU figure: no move");
        assert!(!moves_to_gpu(f64::NAN, 100.0));
        assert!(!moves_to_gpu(100.0, f64::NAN));
        assert!(!moves_to_gpu(100.0, f64::INFINITY), "a broken burst");
    }

    #[test]
    fn the_gpu_is_timed_mid_run_only_when_a_move_could_pay() {
        // ex-1.5, one run, a second in: about three seconds left on the CPU.
        assert!(!time_gpu_now(15_000.0, 5_000.0, 1000.0, false));
        // A 64-seed sweep: a minute left.
        assert!(time_gpu_now(19_000.0, 300.0, 1000.0, false));
        assert!(
            !time_gpu_now(19_000.0, 300.0, 499.0, false),
            "a speed not yet settled"
        );
        assert!(
            !time_gpu_now(19_000.0, 0.0, 1000.0, false),
            "no speed measured yet"
        );
        assert!(
            time_gpu_now(0.0, 0.0, 0.0, true),
            "finished or paused: at once"
        );
        assert!(time_gpu_now(15_000.0, 5_000.0, 0.0, true));
    }

    #[test]
    fn the_readout_names_both_figures_and_the_winner() {
        assert_eq!(
            race_label(207.4, 1644.0, "cpu"),
            "webgpu 207 · cpu 1,644 steps/s → cpu"
        );
        assert_eq!(
            race_label(1_234_567.0, 0.0, "webgpu"),
            "webgpu 1,234,567 · cpu 0 steps/s → webgpu"
        );
        assert_eq!(
            race_label(f64::NAN, -3.0, "cpu"),
            "webgpu 0 · cpu 0 steps/s → cpu"
        );
    }

    #[test]
    fn a_remembered_choice_expires_with_its_adapter_or_after_thirty_days() {
        let saved = 1_700_000_000_000.0;
        let a = "google|swiftshader";
        assert!(choice_is_current(saved, saved, a, a));
        assert!(choice_is_current(saved, saved + 29.9 * DAY_MS, a, a));
        assert!(!choice_is_current(saved, saved + 30.1 * DAY_MS, a, a));
        assert!(!choice_is_current(saved, saved + 1.0, a, "nvidia|h200"));
        assert!(
            !choice_is_current(saved, saved - DAY_MS, a, a),
            "from the future"
        );
        assert!(!choice_is_current(f64::NAN, saved, a, a), "a garbled date");
    }
}
