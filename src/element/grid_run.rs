//! Training a page's phase diagram: each cell's sheet in turn as the run the element shows, a
//! sweep of the grid's seeds, its rate filled in as the sweep finishes. Another run taking the
//! view (Apply, Reset, a link, a new grid) or the element leaving the page stops it; the cells
//! before keep their results.

use super::engines::Failure;
use crate::grid::{finished_text, progress_text, stopped_text};

/// What training a phase diagram asks of the page.
// Implemented by the page and by the tests' fake, and never boxed: no `Send` bound to spell.
#[allow(async_fn_in_trait)]
pub trait GridHost {
    /// Starts `sheet` as the run shown, from its first step (the grid's seeds, its cut).
    async fn start(&self, sheet: &str) -> Result<(), Failure>;
    /// Plays the run shown.
    fn play(&self);
    /// Resolves at the page's next frame.
    async fn next_frame(&self);
    /// Whether this grid still has the view.
    fn has_view(&self) -> bool;
    /// Whether the run shown has trained to its end.
    fn finished(&self) -> bool;
    /// The finished sweep's crumpled runs and judged runs.
    fn counts(&self) -> (u32, u32);
    /// Cell `cell` came to `crumpled` of `judged`: fill it in.
    fn fill_in(&self, cell: usize, crumpled: u32, judged: u32);
    /// Says `text` on the grid's status line.
    fn status(&self, text: &str);
    fn now_ms(&self) -> f64;
}

/// How a phase diagram's training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridEnd {
    Finished,
    /// Another run took the view while cell `cell` trained.
    Stopped {
        cell: usize,
    },
}

/// Trains `cells` (each cell's sheet) one after another, `runs` seeds each.
pub async fn train_grid<H: GridHost>(
    host: &H,
    cells: &[String],
    runs: usize,
) -> Result<GridEnd, Failure> {
    let started = host.now_ms();
    for (cell, sheet) in cells.iter().enumerate() {
        host.status(&progress_text(cell, cells.len()));
        host.start(sheet).await?;
        let mut going = host.has_view();
        if going {
            host.play();
        }
        while going && !host.finished() {
            host.next_frame().await;
            going = host.has_view();
        }
        if !going {
            host.status(&stopped_text(cell, cells.len()));
            return Ok(GridEnd::Stopped { cell });
        }
        let (crumpled, judged) = host.counts();
        host.fill_in(cell, crumpled, judged);
    }
    let seconds = (host.now_ms() - started) / 1000.0;
    host.status(&finished_text(cells.len(), runs, seconds));
    Ok(GridEnd::Finished)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// A page whose runs finish after `frames` frames, and which another run takes the view
    /// of at frame `taken_at`, if any.
    #[derive(Default)]
    struct FakePage {
        frames: u32,
        taken_at: Option<u32>,
        refuse: Option<&'static str>,
        clock: RefCell<u32>,
        shown: RefCell<Option<(String, u32)>>,
        said: RefCell<Vec<String>>,
        filled: RefCell<Vec<(usize, u32, u32)>>,
        plays: RefCell<u32>,
    }

    impl GridHost for FakePage {
        async fn start(&self, sheet: &str) -> Result<(), Failure> {
            if let Some(why) = self.refuse {
                return Err(Failure::Problem(why.to_string()));
            }
            *self.shown.borrow_mut() = Some((sheet.to_string(), 0));
            Ok(())
        }
        fn play(&self) {
            *self.plays.borrow_mut() += 1;
        }
        async fn next_frame(&self) {
            *self.clock.borrow_mut() += 1;
            if let Some((_, frames)) = self.shown.borrow_mut().as_mut() {
                *frames += 1;
            }
        }
        fn has_view(&self) -> bool {
            self.taken_at.is_none_or(|t| *self.clock.borrow() < t)
        }
        fn finished(&self) -> bool {
            self.shown
                .borrow()
                .as_ref()
                .is_some_and(|(_, f)| *f >= self.frames)
        }
        fn counts(&self) -> (u32, u32) {
            let shown = self.shown.borrow();
            let sheet = &shown.as_ref().unwrap().0;
            (sheet.len() as u32, 16)
        }
        fn fill_in(&self, cell: usize, crumpled: u32, judged: u32) {
            self.filled.borrow_mut().push((cell, crumpled, judged));
        }
        fn status(&self, text: &str) {
            self.said.borrow_mut().push(text.to_string());
        }
        fn now_ms(&self) -> f64 {
            *self.clock.borrow() as f64 * 500.0
        }
    }

    fn run_now<T>(flow: impl Future<Output = T>) -> T {
        let mut flow = std::pin::pin!(flow);
        let mut cx = Context::from_waker(Waker::noop());
        match flow.as_mut().poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("the fake page never pends"),
        }
    }

    fn cells() -> Vec<String> {
        ["a", "bb", "ccc"].map(str::to_string).to_vec()
    }

    #[test]
    fn every_cell_trains_to_its_end_and_is_filled_in_in_order() {
        let page = FakePage {
            frames: 2,
            ..FakePage::default()
        };
        let end = run_now(train_grid(&page, &cells(), 16));
        assert_eq!(end, Ok(GridEnd::Finished));
        assert_eq!(*page.filled.borrow(), [(0, 1, 16), (1, 2, 16), (2, 3, 16)]);
        assert_eq!(*page.plays.borrow(), 3);
        assert_eq!(
            *page.said.borrow(),
            [
                "cell 1 of 3…",
                "cell 2 of 3…",
                "cell 3 of 3…",
                "3 cells × 16 seeds in 3.0 s; click a cell to open its sheet",
            ]
        );
    }

    #[test]
    fn another_run_taking_the_view_stops_it_where_it_was() {
        let page = FakePage {
            frames: 2,
            taken_at: Some(3),
            ..FakePage::default()
        };
        let end = run_now(train_grid(&page, &cells(), 16));
        assert_eq!(end, Ok(GridEnd::Stopped { cell: 1 }));
        assert_eq!(*page.filled.borrow(), [(0, 1, 16)]);
        assert_eq!(
            page.said.borrow().last().unwrap(),
            "stopped at cell 2 of 3: another run took its place"
        );
    }

    #[test]
    fn a_cell_that_cannot_start_ends_the_grid_with_its_problem() {
        let page = FakePage {
            refuse: Some("no workers"),
            ..FakePage::default()
        };
        let end = run_now(train_grid(&page, &cells(), 16));
        assert_eq!(end, Err(Failure::Problem("no workers".to_string())));
        assert!(page.filled.borrow().is_empty());
    }
}
