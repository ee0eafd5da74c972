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
