//! The runs a page has started, by number. Every fresh start, reset, restart and move between
//! engines gives the run a new number, which its workers stamp on each frame. Workers of an
//! older run may still be sending frames for a moment: those are stale and never drawn. A
//! newer run's frames can arrive before the page has switched to it: those wait.

/// The page's runs and the frames that arrived for them; `F` is a frame.
#[derive(Debug)]
pub struct Runs<F> {
    /// The newest run's number.
    latest: u64,
    /// The run the page shows.
    shown: u64,
    /// Frames that arrived and were not taken yet, with their runs, in arrival order.
    waiting: Vec<(u64, F)>,
}

impl<F> Default for Runs<F> {
    fn default() -> Self {
        Runs {
            latest: 0,
            shown: 0,
            waiting: Vec::new(),
        }
    }
}

impl<F> Runs<F> {
    /// A new run (a start, a reset, a restart, a move): the number its workers stamp.
    pub fn begin(&mut self) -> u64 {
        self.latest += 1;
        self.latest
    }

    /// The newest run's number: work begun for an older one (a start, a move, a GPU timing)
    /// gives way when it sees a newer one.
    pub fn latest(&self) -> u64 {
        self.latest
    }

    /// The page shows run `run` from now on: frames of older runs are dropped. A run older
    /// than the one shown is never shown again: a reset or an applied sheet can end after a
    /// move to another engine that began later.
    pub fn show(&mut self, run: u64) {
        self.shown = self.shown.max(run);
        let shown = self.shown;
        self.waiting.retain(|(r, _)| *r >= shown);
    }

    pub fn shown(&self) -> u64 {
        self.shown
    }

    /// A frame of run `run` arrived from a worker.
    pub fn arrive(&mut self, run: u64, frame: F) {
        if run >= self.shown {
            self.waiting.push((run, frame));
        }
    }

    /// The frames of the run shown, in the order they arrived; a newer run's keep waiting.
    pub fn take_shown(&mut self) -> Vec<F> {
        let (shown, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(r, _)| *r == self.shown);
        self.waiting = later;
        shown.into_iter().map(|(_, f)| f).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_shown_takes_its_own_frames_and_a_newer_ones_wait() {
        let mut runs = Runs::default();
        let first = runs.begin();
        runs.show(first);
        runs.arrive(first, "a1");
        runs.arrive(first, "a2");
        assert_eq!(runs.take_shown(), vec!["a1", "a2"]);
        assert_eq!(runs.take_shown(), Vec::<&str>::new(), "taken once");

        // A reset: its workers answer before the page has switched to it.
        let second = runs.begin();
        assert_eq!((runs.latest(), runs.shown()), (second, first));
        runs.arrive(second, "b1");
        runs.arrive(first, "a3");
        assert_eq!(runs.take_shown(), vec!["a3"], "b1 waits for its run");
        runs.show(second);
        runs.arrive(first, "a4");
        assert_eq!(runs.take_shown(), vec!["b1"], "a4 is stale");
    }

    #[test]
    fn showing_a_run_drops_what_older_runs_left_waiting() {
        let mut runs = Runs::default();
        let first = runs.begin();
        runs.show(first);
        runs.arrive(first, "a1");
        let second = runs.begin();
        let third = runs.begin();
        runs.arrive(second, "b1");
        runs.arrive(third, "c1");
        runs.show(third);
        assert_eq!(runs.take_shown(), vec!["c1"]);
        runs.show(second);
        assert_eq!(runs.shown(), third, "an older run is never shown again");
        runs.arrive(third, "c2");
        assert_eq!(runs.take_shown(), vec!["c2"], "b1 went with run 3");
    }
}
