//! What a step leaves for the page's next frame: losses, phase ends, video recordings, and a
//! sweep's thumbnails and verdicts.

use super::*;

/// A recording for the video: `end` is the run's last state, kept whatever the stride.
pub(super) fn keep_recording(recorder: &mut Recorder, step: u64, end: bool, latents: Vec<f32>) {
    if end {
        recorder.record_end(step, latents);
    } else {
        recorder.record(step, latents);
    }
}

/// One fused step of the run, its losses and any phase end kept for the next frame. `alone`:
/// a single run, not one of a sweep.
pub(super) fn cpu_step(
    sweep: &mut Sweep,
    alone: bool,
    pending: &mut HostPending,
    error: &mut Option<String>,
) {
    let step = sweep.step_index();
    sweep.step();
    // The runs are judged now and then, and at the end, for where each verdict settled.
    if (step + 1).is_multiple_of(crate::verdict::Onset::EVERY) || sweep.is_finished() {
        sweep.judge_onsets_now();
    }
    if !report_last_step(sweep, step, alone, pending, error) {
        return;
    }
    if let Some(end) = sweep.phase_end(0, step) {
        pending.snapshots.push(Snapshot {
            phase: end.phase,
            step,
            latents: to_bytes(&end.latents),
            colors: to_bytes(&end.colors),
        });
    }
}

/// Run 0's `step` for the next frame: its losses, or, for a single run (`alone`) whose loss
/// went non-finite, the error that pauses it. Whether the run went on.
pub(super) fn report_last_step(
    sweep: &Sweep,
    step: u64,
    alone: bool,
    pending: &mut HostPending,
    error: &mut Option<String>,
) -> bool {
    let run = &sweep.runs()[0];
    // In a sweep a failed run is one verdict among many; a single run stops.
    if let Some(failure) = run.failure.as_ref().filter(|_| alone) {
        *error = Some(format!(
            "{failure} — paused there; edit the sheet and Apply live to go on"
        ));
        return false;
    }
    if let Some(l) = run.last.map(|l| l.losses()) {
        pending.losses = Some(LossSample {
            step,
            total: l.total,
            terms: l.terms.0,
        });
    }
    true
}

/// Every run's thumbnail latents, and their verdicts when `judge`: runs `first_run..` of
/// `total_runs`.
pub(super) fn sweep_frame(
    sweep: &Sweep,
    judge: bool,
    judged_step: u64,
    first_run: usize,
    total_runs: usize,
) -> SweepFrame {
    let probe = probe_colors().rgb_f32();
    let hues = &probe[..THUMBNAIL_POINTS * 3];
    let mut thumbnails = Vec::new();
    for r in 0..sweep.runs().len() {
        thumbnails.extend(sweep.latents(r, hues));
    }
    let verdicts = judge.then(|| {
        let verdicts = sweep.verdicts();
        let onsets = sweep.onsets_at(&verdicts, judged_step);
        (verdicts.iter().zip(sweep.runs()).zip(onsets))
            .map(|((v, run), onset)| RunVerdict {
                onset: Some(onset),
                ..verdict(v, run.failure.is_some())
            })
            .collect()
    });
    SweepFrame {
        first_run,
        total_runs,
        seeds: sweep.runs().iter().map(|r| r.seed).collect(),
        thumbnails: to_bytes(&thumbnails),
        verdicts,
    }
}

pub(super) fn verdict(v: &Verdict, failed: bool) -> RunVerdict {
    RunVerdict {
        shape: if failed { "failed" } else { v.shape.name() }.into(),
        worst_gap_error: v.worst_gap_error,
        recon_mse: v.recon_mse,
        onset: None,
    }
}
