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

/// A frame for the page: from the host's runs, or a GPU's read-back.
impl WorkerRun {
    /// A frame from the host's runs: the fused CPU engine's, or a GPU's after its read-back.
    pub(super) fn host_frame(&mut self) -> Frame {
        let mut frame = Frame::default();
        {
            let sweep = self.engine.sweep();
            let step = sweep.step_index().checked_sub(1);
            // Another worker's part of a sweep: the page shows the whole sweep's first run.
            if self.first_run == 0 {
                frame.latents = to_bytes(&sweep.latents(0, &self.grid));
                frame.parameters = to_bytes(&sweep.parameters(0));
            }
            frame.shown = step;
            if self.first_run == 0 {
                frame.onset = (sweep.runs()[0].onset.settled()).map(|(shape, step)| ShownOnset {
                    shape: shape.name().into(),
                    step,
                });
            }
            if self.total_runs > 1 {
                let interval = VERDICT_INTERVAL_MS.max(self.judge_ms / VERDICT_SHARE);
                let judge = now() - self.judged_at >= interval || sweep.is_finished();
                let start = now();
                let judged_step = match self.engine {
                    Engine::Cpu(_) => sweep.step_index(),
                    #[cfg(feature = "webgpu")]
                    Engine::Gpu(_) => self.read_step,
                };
                frame.sweep = Some(sweep_frame(
                    sweep,
                    judge,
                    judged_step,
                    self.first_run,
                    self.total_runs,
                ));
                if judge {
                    self.judged_at = now();
                    self.judge_ms = self.judged_at - start;
                }
            }
        }
        if let Some(v) = &mut self.versus {
            // B is judged when A is (and once it is done).
            let judge =
                frame.sweep.as_ref().is_some_and(|s| s.verdicts.is_some()) || v.sweep.is_finished();
            let step = v.sweep.step_index();
            frame.versus = Some(VersusFrame {
                step,
                losses: v.losses.take(),
                sweep: (self.total_runs > 1)
                    .then(|| sweep_frame(&v.sweep, judge, step, self.first_run, self.total_runs)),
            });
        }
        let mut pending = std::mem::take(&mut self.host_pending);
        // Only the last phase ends are kept, here and on the page: the ones before them in
        // this frame go as their events alone.
        let told_only = (pending.snapshots.len()).saturating_sub(crate::web::PHASE_ENDS_KEPT);
        for snapshot in &mut pending.snapshots[..told_only] {
            snapshot.latents = Vec::new();
            snapshot.colors = Vec::new();
        }
        if self.first_run == 0 {
            for snapshot in &pending.snapshots[told_only..] {
                if self
                    .phase_ends
                    .last()
                    .is_none_or(|p| p.step < snapshot.step)
                {
                    self.phase_ends.push(snapshot.clone());
                }
            }
            let over = (self.phase_ends.len()).saturating_sub(crate::web::PHASE_ENDS_KEPT);
            self.phase_ends.drain(..over);
        }
        frame.losses = pending.losses;
        frame.snapshots = pending.snapshots;
        self.describe(&mut frame);
        frame
    }

    /// What a GPU frame needs read back: every run's state, and the phase ends' and video's
    /// latents queued since the last frame.
    #[cfg(feature = "webgpu")]
    pub(super) fn gpu_read(&mut self) -> Option<(GpuRead, GpuReadLayout)> {
        self.reading_step = self.engine.step_index();
        let Engine::Gpu(gpu) = &self.engine else {
            return None;
        };
        let mut extra = Vec::new();
        let mut layout = GpuReadLayout::default();
        for (phase, step, colors, latents) in self.pending_snapshots.drain(..) {
            extra.push(latents);
            layout.snapshots.push((phase, step, colors));
        }
        for (step, end, latents) in self.pending_recordings.drain(..) {
            extra.push(latents);
            layout.recordings.push((step, end));
        }
        Some((Box::pin(gpu.read_values(extra)), layout))
    }

    #[cfg(feature = "webgpu")]
    pub(super) fn receive(
        &mut self,
        layout: GpuReadLayout,
        result: Result<Vec<Vec<u8>>, crate::gpu_step::GpuError>,
        waited_ms: f64,
    ) -> Frame {
        let values = match result {
            Ok(values) => values,
            Err(e) => {
                web_sys::console::warn_1(
                    &format!("color-bottleneck: WebGPU read-back failed: {e}").into(),
                );
                // The error's text is a backtrace: the console has it, the page a summary.
                self.gpu_lost = Some("the device was lost or a read-back failed".into());
                // A lost device stays lost: later experiments in this worker do not ask it.
                GPU_DEVICE.set(None);
                self.pending_snapshots.clear();
                self.pending_recordings.clear();
                return self.host_frame();
            }
        };
        let Engine::Gpu(gpu) = &mut self.engine else {
            return self.host_frame();
        };
        let extra = gpu.accept(&values);
        // The runs are judged every Onset::EVERY steps (a read-back lands on each) and at
        // the end, as the CPU judges them.
        let every = crate::verdict::Onset::EVERY;
        let finished = self.reading_step >= gpu.host().timeline().len();
        let judging = self.reading_step.is_multiple_of(every) && self.reading_step > self.read_step;
        if judging || finished {
            gpu.judge_onsets_at(self.reading_step);
        }
        self.read_step = self.reading_step;
        // Keep the queue fed without letting the read-back wait dominate.
        let factor = if waited_ms < 8.0 { 1.25 } else { 0.8 };
        self.gpu_steps = (self.gpu_steps * factor).clamp(1.0, 500.0);
        let mut extra = extra.into_iter();
        for ((phase, step, colors), latents) in layout.snapshots.into_iter().zip(&mut extra) {
            self.host_pending.snapshots.push(Snapshot {
                phase,
                step,
                latents: to_bytes(&latents),
                colors: to_bytes(&colors),
            });
        }
        for ((step, end), latents) in layout.recordings.into_iter().zip(&mut extra) {
            keep_recording(&mut self.recorder, step, end, latents);
        }
        let sweep = gpu.host();
        if let Some(step) = sweep.step_index().checked_sub(1) {
            report_last_step(
                sweep,
                step,
                self.config.runs == 1,
                &mut self.host_pending,
                &mut self.last_error,
            );
        }
        self.host_frame()
    }
}
