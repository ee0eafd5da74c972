//! States a sweep passes through, kept so that a branch from an earlier step starts from the
//! nearest one at or before it rather than replaying the run from its seed.
//!
//! Which states: the one before every keyframe's step (phase starts are keyframes), the
//! finished run's, and one every [`FIRST_PERIOD`] steps between them. The store holds at
//! most [`BUDGET_BYTES`]: when a state would not fit, the periodic ones thin out (the period
//! doubles and the states off it go, as the video's recorder does); keyframe states are never
//! dropped, and once they alone fill the budget, later ones are not kept. A branch past the
//! last kept state replays from there, which is exact because runs are deterministic.

use super::{Sweep, SweepCheckpoint};
use crate::timeline::Timeline;

/// The most a worker keeps: 4 MiB. One run's state is about 3.3 KB (263 parameters and
/// Adam's two moments, as f32), so a single run keeps every keyframe of any shipped sheet and
/// a state every 500 steps of a 20,000-step sheet in about 0.3 MB; a 64-run share of a sweep
/// keeps about 19 states.
pub const BUDGET_BYTES: usize = 4 << 20;
/// Steps between periodic states before any thinning.
pub const FIRST_PERIOD: u64 = 500;

#[derive(Debug, Clone)]
pub struct KeptStates {
    budget: usize,
    period: u64,
    /// In step order.
    states: Vec<Kept>,
    bytes: usize,
}

#[derive(Debug, Clone)]
struct Kept {
    state: SweepCheckpoint,
    /// Kept for a keyframe or the run's end: never thinned.
    landmark: bool,
    bytes: usize,
}

impl Default for KeptStates {
    fn default() -> Self {
        Self::new(BUDGET_BYTES)
    }
}

impl KeptStates {
    pub fn new(budget: usize) -> Self {
        KeptStates {
            budget,
            period: FIRST_PERIOD,
            states: Vec::new(),
            bytes: 0,
        }
    }

    /// A store holding `states` (a branch's, inherited from its parent run), landmarks all.
    pub fn inherit(budget: usize, states: Vec<SweepCheckpoint>) -> Self {
        let mut kept = Self::new(budget);
        for state in states {
            kept.insert(state, true);
        }
        kept
    }

    /// Keeps `sweep`'s state as it stands (before its next step) if it is one to keep and it
    /// fits; the state is saved only then.
    pub fn offer(&mut self, sweep: &Sweep) {
        let (timeline, step) = (sweep.timeline(), sweep.step_index());
        let newer = self.states.last().is_none_or(|k| k.state.step < step);
        let landmark = is_landmark(timeline, step);
        if newer && (landmark || step.is_multiple_of(self.period)) {
            self.insert(sweep.save(), landmark);
        }
    }

    fn insert(&mut self, state: SweepCheckpoint, landmark: bool) {
        let bytes = size_of(&state);
        while self.bytes + bytes > self.budget && self.states.iter().any(|k| !k.landmark) {
            self.period *= 2;
            let period = self.period;
            self.states
                .retain(|k| k.landmark || k.state.step.is_multiple_of(period));
            self.bytes = self.states.iter().map(|k| k.bytes).sum();
        }
        let on_period = state.step.is_multiple_of(self.period);
        if self.bytes + bytes > self.budget || !(landmark || on_period) {
            return;
        }
        self.bytes += bytes;
        let at = self.states.partition_point(|k| k.state.step < state.step);
        if self
            .states
            .get(at)
            .is_some_and(|k| k.state.step == state.step)
        {
            self.bytes -= self.states.remove(at).bytes;
        }
        self.states.insert(
            at,
            Kept {
                state,
                landmark,
                bytes,
            },
        );
    }

    /// The latest state kept at or before `step`.
    pub fn at_or_before(&self, step: u64) -> Option<&SweepCheckpoint> {
        let at = self.states.partition_point(|k| k.state.step <= step);
        at.checked_sub(1).map(|i| &self.states[i].state)
    }

    /// Every state kept at or before `step`, oldest first.
    pub fn until(&self, step: u64) -> Vec<SweepCheckpoint> {
        (self.states.iter())
            .take_while(|k| k.state.step <= step)
            .map(|k| k.state.clone())
            .collect()
    }

    /// The steps of the states kept, oldest first.
    pub fn steps(&self) -> Vec<u64> {
        self.states.iter().map(|k| k.state.step).collect()
    }

    /// Bytes the kept states hold (their values).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn clear(&mut self) {
        self.states.clear();
        self.bytes = 0;
        self.period = FIRST_PERIOD;
    }
}

/// A keyframe's step, or the end of the schedule.
fn is_landmark(timeline: &Timeline, step: u64) -> bool {
    step == timeline.len() || timeline.keyframe_steps().binary_search(&step).is_ok()
}

fn size_of(state: &SweepCheckpoint) -> usize {
    let floats: usize = (state.runs.iter())
        .map(|r| r.state.len() + r.anchor.as_ref().map_or(0, Vec::len))
        .sum();
    floats * std::mem::size_of::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dopesheet::Dopesheet;
    use crate::run::RunSpec;

    fn timeline(sheet: &str) -> Timeline {
        Timeline::new(&Dopesheet::parse(sheet).unwrap())
    }

    const SHEET: &str = "STEP,PHASE,ACTION,lr,loss-recon\n0,One,,0.01,1\n300,Two,,,\n2400,,,,\n";

    fn sweep(runs: usize) -> Sweep {
        let config = RunSpec {
            seed: 1,
            runs,
            latent_dims: 4,
            batch_size: 8,
        };
        Sweep::new(timeline(SHEET), config).unwrap()
    }

    /// Trains `sweep` to its end, offering every state to `kept`.
    fn train_keeping(sweep: &mut Sweep, kept: &mut KeptStates) {
        while !sweep.is_finished() {
            kept.offer(sweep);
            sweep.step();
        }
        kept.offer(sweep);
    }

    #[test]
    fn keeps_keyframes_the_end_and_every_period() {
        let mut kept = KeptStates::default();
        train_keeping(&mut sweep(1), &mut kept);
        // The sheet's last keyframe is at 2,400 and it ends after that step (2,401).
        assert_eq!(kept.steps(), [0, 300, 500, 1000, 1500, 2000, 2400, 2401]);
        assert_eq!(kept.at_or_before(1999).unwrap().step, 1500);
        assert_eq!(kept.at_or_before(300).unwrap().step, 300);
        assert_eq!(kept.until(1000).len(), 4);
    }

    #[test]
    fn thins_the_periodic_states_to_fit_and_never_drops_a_keyframe() {
        let one = size_of(&sweep(2).save());
        // Room for five states: the four landmarks and one on a period doubled twice.
        let mut kept = KeptStates::new(5 * one);
        train_keeping(&mut sweep(2), &mut kept);
        assert_eq!(kept.steps(), [0, 300, 2000, 2400, 2401]);
        assert!(kept.bytes() <= 5 * one);
        // Room for two: the first keyframes are kept and later ones are not.
        let mut kept = KeptStates::new(2 * one);
        train_keeping(&mut sweep(2), &mut kept);
        assert_eq!(kept.steps(), [0, 300]);
    }

    #[test]
    fn a_state_kept_is_the_run_at_that_step() {
        let mut kept = KeptStates::default();
        let mut first = sweep(3);
        train_keeping(&mut first, &mut kept);
        let state = kept.at_or_before(1200).unwrap();
        let mut resumed = Sweep::restore(timeline(SHEET), state).unwrap();
        while !resumed.is_finished() {
            resumed.step();
        }
        assert_eq!(resumed.save(), first.save());
    }
}
