//! A branch: its parents' sheets replayed in the training loop, and the states a worker keeps
//! so that a branch starts near its step.

use super::*;

impl WorkerRun {
    /// Queues a branch's replay: each parent's sheet trains to its step, then the next
    /// sheet, and `own` (the run's sheet) from the last branch point. [`train`](Self::train)
    /// makes the switches as it goes, so a long replay sends frames like any training.
    /// Nothing for a run that did not branch; a run restored from a kept state has the
    /// parents behind it trained already.
    pub(super) fn replay(&mut self, own: Timeline) -> Result<(), JsValue> {
        let behind = (self.parents).partition_point(|p| p.step <= self.engine.step_index());
        let mut switches = VecDeque::new();
        for (i, parent) in self.parents.iter().enumerate().skip(behind) {
            let next = match self.parents.get(i + 1) {
                Some(p) => parse(&p.sheet)?,
                None => own.clone(),
            };
            switches.push_back((parent.step, next));
        }
        self.switches = switches;
        Ok(())
    }

    /// Whether a branch's replay is under way.
    pub(super) fn replaying(&self) -> bool {
        !self.switches.is_empty()
    }

    /// Moves the replay on to its next sheet where the run reached that sheet's step, or
    /// where the sheet before ended or its loss went non-finite first (a parent that ended
    /// non-finite goes on, as Apply live does). Whether it made the last switch.
    pub(super) fn switch_sheets(&mut self) -> bool {
        let mut switched = false;
        while let Some((at, _)) = self.switches.front() {
            let stuck = self.engine.is_finished() || self.last_error.is_some();
            if self.engine.step_index() < *at && !stuck {
                break;
            }
            let (_, next) = self.switches.pop_front().expect("a switch is queued");
            self.set_timeline(next);
            self.last_error = None;
            switched = true;
        }
        switched && self.switches.is_empty()
    }

    /// Trains a queued replay to its end at once (before the run's sheet changes under it).
    pub(super) fn finish_replay(&mut self) {
        while self.replaying() && self.gpu_lost.is_none() {
            if self.train(f64::INFINITY, u32::MAX) == 0 && self.replaying() {
                // Stuck (a lost GPU): the hand-over to the CPU replays the rest.
                break;
            }
        }
    }

    /// The kept states before `step` that go with a hand-over: a worker's whole store when it
    /// trains the whole sweep, none from a part of one (every new worker would decode every
    /// part's store to keep its own slice); a branch of a branch then replays from the state
    /// it started from or the seed.
    pub(super) fn kept_to_hand_over(&self, step: u64) -> Vec<SweepCheckpoint> {
        match self.config.runs == self.total_runs {
            true => self.kept.until(step),
            false => Vec::new(),
        }
    }

    /// Keeps the state before the next step for branching, if it is one to keep.
    pub(super) fn keep_state(&mut self) {
        if self.backend != Backend::Cpu {
            return;
        }
        self.kept.offer(self.engine.sweep());
    }
}
