//! What one worker hands another: a run moved between engines, or the state a branch
//! starts from.

use super::*;

/// What a worker hands to another to carry a run over: the runs, a single run's video
/// recordings so far, the states kept for branching, and the phase ends so far. A branch
/// starts from one too ([`Experiment::state_at`]): then `sweep` stands before the last
/// parent's step, and the run replays its parents from there.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Handover {
    pub(super) sweep: SweepCheckpoint,
    pub(super) recorder: Option<Recorder>,
    pub(super) kept: Vec<SweepCheckpoint>,
    pub(super) phase_ends: Vec<Snapshot>,
    /// A comparison's second sheet's runs.
    pub(super) versus: Option<SweepCheckpoint>,
}

/// The states every part kept, at the steps all of them kept one (parts of a sweep keep the
/// same steps unless their sizes thinned them differently), each joined into one sweep.
pub(super) fn join_kept(parts: impl Iterator<Item = Vec<SweepCheckpoint>>) -> Vec<SweepCheckpoint> {
    let mut parts: Vec<Vec<SweepCheckpoint>> = parts.collect();
    let Some(first) = parts.first() else {
        return Vec::new();
    };
    let steps: Vec<u64> = (first.iter().map(|s| s.step))
        .filter(|step| parts.iter().all(|p| p.iter().any(|s| s.step == *step)))
        .collect();
    (steps.iter())
        .filter_map(|step| {
            let at_step = (parts.iter_mut())
                .map(|p| {
                    let i = p
                        .iter()
                        .position(|s| s.step == *step)
                        .expect("every part has it");
                    p.swap_remove(i)
                })
                .collect();
            SweepCheckpoint::join(at_step).ok()
        })
        .collect()
}
