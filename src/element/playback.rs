//! Whether the run shown trains, and why not. The reader asks to play or pause; the run pauses
//! itself at its end and at a bad step; the element trains only while it is on screen in a
//! visible tab, so that a post with several experiments trains only those in view. The workers
//! are told only when the answer changes.

/// What the workers are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Play,
    Pause,
}

impl Order {
    /// The message kind the workers read.
    pub fn name(self) -> &'static str {
        match self {
            Order::Play => "play",
            Order::Pause => "pause",
        }
    }
}

/// The element's wish to train and what stands in its way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Playback {
    /// Play was asked for (autoplay or the button) and not taken back.
    wants: bool,
    /// The run paused itself (at its end, or at a bad step), not the reader: a new sheet, a
    /// Reset or a branch plays again.
    paused_by_run: bool,
    /// The run stopped at a bad step (a non-finite loss): it goes on only once a sheet is
    /// applied, or from a fresh start.
    halted: bool,
    in_view: bool,
    hidden: bool,
    /// What the workers were last told: training or not.
    running: bool,
    /// The last failure shown, as text.
    error: Option<String>,
}

impl Playback {
    /// Whether play was asked for: the element trains whenever it is on screen.
    pub fn wants(&self) -> bool {
        self.wants
    }

    /// Whether the workers are training.
    pub fn running(&self) -> bool {
        self.running
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The label of the play/pause button.
    pub fn toggle_label(&self) -> &'static str {
        if self.wants {
            "Pause"
        } else {
            "Play"
        }
    }

    /// The reader (or the API) asks to train. Refused where there is nothing to train: no
    /// workers yet, a run at its end, or a run halted at a bad step.
    pub fn play(&mut self, has_workers: bool, finished: bool) -> Option<Order> {
        if !has_workers || finished || self.halted {
            return None;
        }
        self.want(true, false)
    }

    /// Play is asked for before anything trains (autoplay): workers are told to run as they
    /// come up.
    pub fn autoplay(&mut self) -> Option<Order> {
        self.want(true, false)
    }

    pub fn pause(&mut self) -> Option<Order> {
        self.want(false, false)
    }

    /// Plays again a run that paused itself, now that it has something new to train.
    pub fn play_if_paused_by_run(&mut self, has_workers: bool, finished: bool) -> Option<Order> {
        if !self.paused_by_run {
            return None;
        }
        self.play(has_workers, finished)
    }

    /// The run shown reached its end: it pauses itself, to play again after a new start.
    pub fn ended(&mut self) -> Option<Order> {
        if !self.wants {
            return None;
        }
        self.want(false, true)
    }

    /// Something failed: the run pauses itself and the error is kept to show.
    pub fn fail(&mut self, message: &str) -> Option<Order> {
        self.error = Some(message.to_string());
        self.ended()
    }

    /// A frame said the run stopped at a bad step: it halts. Returns whether that is news (a
    /// failure other than the one shown), to be shown with [`Playback::fail`].
    pub fn bad_step(&mut self, message: &str) -> bool {
        if self.error.as_deref() == Some(message) {
            return false;
        }
        self.halted = true;
        true
    }

    /// A new run began, or the run took a new sheet: an old failure no longer stands.
    pub fn restarted(&mut self) {
        self.error = None;
        self.halted = false;
    }

    /// Whether the element is on screen and its tab visible changed.
    pub fn seen(&mut self, in_view: Option<bool>, hidden: bool) -> Option<Order> {
        if let Some(in_view) = in_view {
            self.in_view = in_view;
        }
        self.hidden = hidden;
        self.follow()
    }

    /// New workers train the run: they start paused, and are told whether to run.
    pub fn adopted(&mut self) -> Option<Order> {
        self.running = false;
        self.follow()
    }

    /// The workers are gone (the element left the page): none is training.
    pub fn released(&mut self) {
        self.running = false;
    }

    fn want(&mut self, yes: bool, by_run: bool) -> Option<Order> {
        self.wants = yes;
        self.paused_by_run = by_run;
        self.follow()
    }

    /// The order that brings the workers in line with the wish and the view, if any.
    fn follow(&mut self) -> Option<Order> {
        let go = self.wants && self.in_view && !self.hidden;
        if go == self.running {
            return None;
        }
        self.running = go;
        Some(if go { Order::Play } else { Order::Pause })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_screen() -> Playback {
        let mut p = Playback::default();
        assert_eq!(p.seen(Some(true), false), None, "nothing was asked yet");
        p
    }

    #[test]
    fn play_trains_only_while_the_element_is_on_screen_in_a_visible_tab() {
        let mut p = Playback::default();
        assert_eq!(p.play(true, false), None, "out of view: wished, not run");
        assert!(p.wants() && !p.running());
        assert_eq!(p.seen(Some(true), false), Some(Order::Play));
        assert_eq!(p.seen(None, true), Some(Order::Pause), "the tab was hidden");
        assert_eq!(p.seen(None, true), None, "told once");
        assert_eq!(p.seen(None, false), Some(Order::Play));
        assert_eq!(p.seen(Some(false), false), Some(Order::Pause));
        assert_eq!(
            p.toggle_label(),
            "Pause",
            "the wish stands while out of view"
        );
    }

    #[test]
    fn nothing_to_train_refuses_play() {
        let mut p = on_screen();
        assert_eq!(p.play(false, false), None, "no workers yet");
        assert_eq!(p.play(true, true), None, "the run is at its end");
        assert!(!p.wants());
        assert_eq!(p.toggle_label(), "Play");
    }

    #[test]
    fn a_run_that_paused_itself_plays_again_after_a_new_start_but_a_reader_pause_holds() {
        let mut p = on_screen();
        assert_eq!(p.play(true, false), Some(Order::Play));
        assert_eq!(p.ended(), Some(Order::Pause));
        assert_eq!(p.play_if_paused_by_run(true, false), Some(Order::Play));
        assert_eq!(p.pause(), Some(Order::Pause));
        assert_eq!(
            p.play_if_paused_by_run(true, false),
            None,
            "the reader paused it"
        );
        assert_eq!(p.ended(), None, "not playing: nothing to pause");
    }

    #[test]
    fn a_bad_step_halts_the_run_until_it_restarts_and_is_said_once() {
        let mut p = on_screen();
        p.play(true, false);
        assert!(p.bad_step("loss is NaN"));
        assert_eq!(p.fail("loss is NaN"), Some(Order::Pause));
        assert_eq!(p.error(), Some("loss is NaN"));
        assert!(!p.bad_step("loss is NaN"), "the same failure each frame");
        assert_eq!(
            p.play(true, false),
            None,
            "halted: play waits for a new sheet"
        );
        assert_eq!(p.play_if_paused_by_run(true, false), None);
        p.restarted();
        assert_eq!(p.error(), None);
        assert_eq!(p.play_if_paused_by_run(true, false), Some(Order::Play));
    }

    #[test]
    fn autoplay_wishes_before_any_worker_and_the_first_ones_are_told_to_run() {
        let mut p = Playback::default();
        p.autoplay();
        assert_eq!(p.toggle_label(), "Pause");
        assert_eq!(p.adopted(), None, "out of view");
        assert_eq!(p.seen(Some(true), false), Some(Order::Play));
        assert_eq!(p.adopted(), Some(Order::Play));
    }

    #[test]
    fn new_workers_start_paused_and_are_told_to_run_where_the_wish_stands() {
        let mut p = on_screen();
        p.play(true, false);
        assert!(p.running());
        assert_eq!(p.adopted(), Some(Order::Play));
        p.released();
        assert!(!p.running());
        p.pause();
        assert_eq!(p.adopted(), None, "paused: new workers stay paused");
    }
}
