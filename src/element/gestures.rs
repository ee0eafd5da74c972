//! What the pointer and the keys do on the element's three live canvases: the schedule
//! (drag or arrow keys look back through the run), the latent panels (hover, tap or arrow keys
//! probe a colour) and the 3-D view (drag or arrow keys turn it). The element hands each event
//! to [`Gestures::handle`] as it comes and carries out the [`Response`]; the board does what
//! is asked of it through [`Surfaces`].

use serde::Serialize;

/// The canvas an event happened on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Schedule,
    Latents,
    Dome,
}

impl Surface {
    /// The canvas's `data-canvas` name.
    pub fn from_name(name: &str) -> Option<Surface> {
        Some(match name {
            "schedule" => Surface::Schedule,
            "latents" => Surface::Latents,
            "dome" => Surface::Dome,
            _ => return None,
        })
    }
}

/// What happened, by the DOM event's type (`color`: the probe's colour input changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Down,
    Move,
    Up,
    Cancel,
    Leave,
    Key,
    Blur,
    DoubleClick,
    Color,
}

impl Input {
    pub fn from_type(kind: &str) -> Option<Input> {
        Some(match kind {
            "pointerdown" => Input::Down,
            "pointermove" => Input::Move,
            "pointerup" => Input::Up,
            "pointercancel" => Input::Cancel,
            // `pointerout`: a page that listens at the shadow root hears it (`pointerleave` goes
            // to the canvas's own listeners only); a canvas has no children to move into.
            "pointerleave" | "pointerout" => Input::Leave,
            "keydown" => Input::Key,
            "blur" => Input::Blur,
            "dblclick" => Input::DoubleClick,
            "color" => Input::Color,
            _ => return None,
        })
    }
}

/// One event: where it was (CSS pixels from the canvas's corner, and from the viewport's), the
/// key (or, for `Color`, the colour input's `#rrggbb`), and whether a finger made it.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub input: Input,
    pub x: f64,
    pub y: f64,
    /// A drag turns the 3-D view by how far the pointer moved, even if the page scrolls
    /// under it.
    pub client: (f64, f64),
    pub key: &'a str,
    pub touch: bool,
}

/// The run as the element shows it: the steps trained, and how many the sheet has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub step: u64,
    pub total: u64,
}

/// What the board does for a gesture.
pub trait Surfaces {
    /// The step under `x` on the schedule.
    fn step_at(&self, x: f64) -> u64;
    /// Shows the recorded moment at `step` (`None`: the live one).
    fn look_back(&mut self, step: Option<u64>);
    /// While looking back, the step a branch from the moment shown starts at.
    fn looked_back_step(&self) -> Option<u64>;
    /// Probes the grid point drawn nearest (`x`, `y`); whether one was within reach.
    fn probe_at(&mut self, x: f64, y: f64) -> bool;
    /// Moves the probe `delta` points through the RGB grid.
    fn probe_step(&mut self, delta: i32);
    fn probe_color(&mut self, rgb: [f64; 3]);
    fn probe_clear(&mut self);
    /// Turns the 3-D view by a drag of (`dx`, `dy`).
    fn turn(&mut self, dx: f64, dy: f64);
    /// Turns the 3-D view by an arrow key; whether `key` is one.
    fn turn_key(&mut self, key: &str) -> bool;
    fn turn_home(&mut self);
}

/// What the element does after an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Response {
    /// The event was used: the page does not also act on it (an arrow key does not scroll).
    pub taken: bool,
    /// The pointer is captured by the canvas, so a drag goes on outside it.
    pub capture: bool,
    /// Something drawn changed.
    pub redraw: bool,
    /// *Branch here* now branches from `branch_at` (`None`: the live step).
    pub branch_moved: bool,
    pub branch_at: Option<u64>,
    /// The schedule slider's value for assistive technology, when it moved.
    pub value_now: Option<u64>,
}

/// The keys that move the probe, and by how many grid points (1 steps blue, 10 green, 100
/// red).
const PROBE_KEYS: [(&str, i32); 6] = [
    ("ArrowRight", 1),
    ("ArrowLeft", -1),
    ("ArrowUp", 10),
    ("ArrowDown", -10),
    ("PageUp", 100),
    ("PageDown", -100),
];

/// An arrow key on the schedule moves by this fraction of the run.
const SCRUB_KEY_FRACTION: u64 = 50;

/// What a gesture in progress remembers between events.
#[derive(Debug, Default, Clone)]
pub struct Gestures {
    /// The schedule is being dragged.
    scrubbing: bool,
    /// The step the arrow keys have looked back to on the schedule.
    scrub_key_at: Option<u64>,
    /// The probe was set by a tap, a key or the colour input: hovering leaves it alone.
    probe_pinned: bool,
    /// Where the last drag event on the 3-D view was.
    turning_from: Option<(f64, f64)>,
}

impl Gestures {
    /// A new run: the keys' look back belonged to the old one.
    pub fn back_to_live(&mut self) {
        self.scrub_key_at = None;
    }

    /// Whether the schedule is being dragged (a looping range holds still meanwhile).
    pub fn scrubbing(&self) -> bool {
        self.scrubbing
    }

    pub fn handle(
        &mut self,
        surface: Surface,
        event: Event,
        run: Progress,
        board: &mut impl Surfaces,
    ) -> Response {
        match surface {
            Surface::Schedule => self.on_schedule(event, run, board),
            Surface::Latents => self.on_latents(event, board),
            Surface::Dome => self.on_dome(event, board),
        }
    }

    fn on_schedule(&mut self, event: Event, run: Progress, board: &mut impl Surfaces) -> Response {
        match event.input {
            Input::Down | Input::Move if event.input == Input::Down || self.scrubbing => {
                self.scrubbing = true;
                let step = board.step_at(event.x);
                board.look_back(Some(step));
                Response {
                    capture: event.input == Input::Down,
                    branch_moved: true,
                    branch_at: board.looked_back_step(),
                    value_now: Some(step.min(run.step)),
                    ..redrawn()
                }
            }
            // The branch point stays where the drag let go.
            Input::Up | Input::Cancel if self.scrubbing => {
                self.scrubbing = false;
                board.look_back(None);
                Response {
                    value_now: Some(run.step),
                    ..redrawn()
                }
            }
            Input::Key => {
                let stride = (run.total as f64 / SCRUB_KEY_FRACTION as f64)
                    .round()
                    .max(1.0) as u64;
                let from = self.scrub_key_at.unwrap_or(run.step);
                self.scrub_key_at = match event.key {
                    "ArrowLeft" => Some(from.saturating_sub(stride).min(run.step)),
                    "ArrowRight" => Some(from.saturating_add(stride).min(run.step)),
                    "Escape" | "End" => None,
                    _ => return Response::default(),
                };
                board.look_back(self.scrub_key_at);
                let moved = self.scrub_key_at.is_some();
                Response {
                    taken: true,
                    branch_moved: moved,
                    branch_at: if moved {
                        board.looked_back_step()
                    } else {
                        None
                    },
                    value_now: Some(self.scrub_key_at.unwrap_or(run.step)),
                    ..redrawn()
                }
            }
            Input::Blur => {
                self.scrub_key_at = None;
                board.look_back(None);
                redrawn()
            }
            _ => Response::default(),
        }
    }

    fn on_latents(&mut self, event: Event, board: &mut impl Surfaces) -> Response {
        match event.input {
            // A finger's move is a scroll, not a hover.
            Input::Move if !self.probe_pinned && !event.touch => {
                if board.probe_at(event.x, event.y) {
                    redrawn()
                } else {
                    Response::default()
                }
            }
            Input::Down => {
                self.probe_pinned = board.probe_at(event.x, event.y);
                redrawn()
            }
            Input::Leave if !self.probe_pinned => {
                board.probe_clear();
                redrawn()
            }
            Input::Key => {
                if let Some(&(_, delta)) = PROBE_KEYS.iter().find(|(k, _)| *k == event.key) {
                    board.probe_step(delta);
                    self.probe_pinned = true;
                } else if event.key == "Escape" {
                    board.probe_clear();
                    self.probe_pinned = false;
                } else {
                    return Response::default();
                }
                Response {
                    taken: true,
                    ..redrawn()
                }
            }
            Input::Color => match parse_hex_color(event.key) {
                Some(rgb) => {
                    board.probe_color(rgb);
                    self.probe_pinned = true;
                    redrawn()
                }
                None => Response::default(),
            },
            _ => Response::default(),
        }
    }

    fn on_dome(&mut self, event: Event, board: &mut impl Surfaces) -> Response {
        match event.input {
            Input::Down => {
                self.turning_from = Some(event.client);
                Response {
                    capture: true,
                    ..Response::default()
                }
            }
            Input::Move => match self.turning_from {
                Some((x, y)) => {
                    self.turning_from = Some(event.client);
                    board.turn(event.client.0 - x, event.client.1 - y);
                    redrawn()
                }
                None => Response::default(),
            },
            Input::Up | Input::Cancel => {
                self.turning_from = None;
                Response::default()
            }
            Input::DoubleClick => {
                board.turn_home();
                redrawn()
            }
            Input::Key => {
                if matches!(event.key, "Home" | "Escape") {
                    board.turn_home();
                } else if !board.turn_key(event.key) {
                    return Response::default();
                }
                Response {
                    taken: true,
                    ..redrawn()
                }
            }
            _ => Response::default(),
        }
    }
}

fn redrawn() -> Response {
    Response {
        redraw: true,
        ..Response::default()
    }
}

/// A colour input's `#rrggbb`, as channels in [0, 1].
fn parse_hex_color(text: &str) -> Option<[f64; 3]> {
    let hex = text.strip_prefix('#').filter(|h| h.len() == 6)?;
    let channel = |i: usize| {
        let byte = u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()?;
        Some(byte as f64 / 255.0)
    };
    Some([channel(0)?, channel(2)?, channel(4)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A board that records what it was asked: the schedule maps x to step x × 10, and a
    /// probe reaches a point only left of x = 100.
    #[derive(Default)]
    struct Fake {
        scrub: Option<u64>,
        probe: Option<String>,
        turned: (f64, f64),
        homes: usize,
    }

    impl Surfaces for Fake {
        fn step_at(&self, x: f64) -> u64 {
            (x * 10.0) as u64
        }
        fn look_back(&mut self, step: Option<u64>) {
            self.scrub = step;
        }
        fn looked_back_step(&self) -> Option<u64> {
            self.scrub.map(|s| s + 1)
        }
        fn probe_at(&mut self, x: f64, _: f64) -> bool {
            let hit = x < 100.0;
            if hit {
                self.probe = Some(format!("point {x}"));
            }
            hit
        }
        fn probe_step(&mut self, delta: i32) {
            self.probe = Some(format!("step {delta}"));
        }
        fn probe_color(&mut self, rgb: [f64; 3]) {
            self.probe = Some(format!("colour {rgb:?}"));
        }
        fn probe_clear(&mut self) {
            self.probe = None;
        }
        fn turn(&mut self, dx: f64, dy: f64) {
            self.turned.0 += dx;
            self.turned.1 += dy;
        }
        fn turn_key(&mut self, key: &str) -> bool {
            key == "ArrowUp"
        }
        fn turn_home(&mut self) {
            self.homes += 1;
        }
    }

    const RUN: Progress = Progress {
        step: 1000,
        total: 5000,
    };

    fn at(input: Input, x: f64, y: f64) -> Event<'static> {
        // The canvas sits at (1000, 2000) in the viewport.
        Event {
            input,
            x,
            y,
            client: (x + 1000.0, y + 2000.0),
            key: "",
            touch: false,
        }
    }

    fn key(input: Input, key: &str) -> Event<'_> {
        Event {
            key,
            ..at(input, 0.0, 0.0)
        }
    }

    #[test]
    fn a_drag_on_the_schedule_looks_back_and_leaves_the_branch_point_where_it_let_go() {
        let (mut g, mut b) = (Gestures::default(), Fake::default());
        let schedule = Surface::Schedule;
        // A move with no button down does nothing.
        assert_eq!(
            g.handle(schedule, at(Input::Move, 5.0, 0.0), RUN, &mut b),
            Response::default()
        );
        let down = g.handle(schedule, at(Input::Down, 5.0, 0.0), RUN, &mut b);
        assert!(down.capture && down.redraw && down.branch_moved && g.scrubbing());
        assert_eq!((b.scrub, down.branch_at), (Some(50), Some(51)));
        let moved = g.handle(schedule, at(Input::Move, 7.0, 0.0), RUN, &mut b);
        assert!(!moved.capture);
        assert_eq!((b.scrub, moved.branch_at), (Some(70), Some(71)));
        assert_eq!(moved.value_now, Some(70), "the slider says the step shown");
        let up = g.handle(schedule, at(Input::Up, 7.0, 0.0), RUN, &mut b);
        assert!(up.redraw && !up.branch_moved && !g.scrubbing());
        assert_eq!(b.scrub, None, "back to live");
        assert_eq!(up.value_now, Some(1000));
        assert_eq!(
            g.handle(schedule, at(Input::Move, 9.0, 0.0), RUN, &mut b),
            Response::default()
        );
    }

    #[test]
    fn arrow_keys_on_the_schedule_step_a_fiftieth_of_the_run_within_what_has_trained() {
        let (mut g, mut b) = (Gestures::default(), Fake::default());
        let schedule = Surface::Schedule;
        let left = g.handle(schedule, key(Input::Key, "ArrowLeft"), RUN, &mut b);
        assert!(left.taken && left.branch_moved);
        assert_eq!(
            (b.scrub, left.branch_at, left.value_now),
            (Some(900), Some(901), Some(900))
        );
        g.handle(schedule, key(Input::Key, "ArrowRight"), RUN, &mut b);
        let right = g.handle(schedule, key(Input::Key, "ArrowRight"), RUN, &mut b);
        assert_eq!(right.value_now, Some(1000), "not past the live step");
        for _ in 0..30 {
            g.handle(schedule, key(Input::Key, "ArrowLeft"), RUN, &mut b);
        }
        assert_eq!(b.scrub, Some(0), "not before step 0");
        let end = g.handle(schedule, key(Input::Key, "End"), RUN, &mut b);
        assert!(end.taken && !end.branch_moved);
        assert_eq!((b.scrub, end.value_now), (None, Some(1000)));
        assert!(!g.handle(schedule, key(Input::Key, "a"), RUN, &mut b).taken);
        // A short run still moves a step at a time; leaving the slider returns to live.
        let short = Progress {
            step: 10,
            total: 10,
        };
        let one = g.handle(schedule, key(Input::Key, "ArrowLeft"), short, &mut b);
        assert_eq!(one.value_now, Some(9));
        g.handle(schedule, key(Input::Blur, ""), short, &mut b);
        assert_eq!(b.scrub, None);
        let again = g.handle(schedule, key(Input::Key, "ArrowLeft"), short, &mut b);
        assert_eq!(again.value_now, Some(9), "the keys start again from live");
        // A new run looks at live again: the keys start from its live step.
        g.handle(schedule, key(Input::Key, "ArrowLeft"), RUN, &mut b);
        g.back_to_live();
        let fresh = g.handle(schedule, key(Input::Key, "ArrowLeft"), RUN, &mut b);
        assert_eq!(fresh.value_now, Some(900));
    }

    #[test]
    fn a_tap_pins_the_probe_and_hovering_then_leaves_it_alone() {
        let (mut g, mut b) = (Gestures::default(), Fake::default());
        let latents = Surface::Latents;
        assert!(
            g.handle(latents, at(Input::Move, 10.0, 0.0), RUN, &mut b)
                .redraw
        );
        assert_eq!(b.probe.as_deref(), Some("point 10"));
        // Hovering where no point is in reach changes nothing; leaving clears an unpinned probe.
        assert!(
            !g.handle(latents, at(Input::Move, 500.0, 0.0), RUN, &mut b)
                .redraw
        );
        g.handle(latents, at(Input::Leave, 0.0, 0.0), RUN, &mut b);
        assert_eq!(b.probe, None);
        // A finger's move is a scroll.
        let touch = Event {
            touch: true,
            ..at(Input::Move, 20.0, 0.0)
        };
        g.handle(latents, touch, RUN, &mut b);
        assert_eq!(b.probe, None);
        g.handle(latents, at(Input::Down, 30.0, 0.0), RUN, &mut b);
        g.handle(latents, at(Input::Move, 40.0, 0.0), RUN, &mut b);
        g.handle(latents, at(Input::Leave, 0.0, 0.0), RUN, &mut b);
        assert_eq!(b.probe.as_deref(), Some("point 30"), "pinned by the tap");
        // A tap where no point is unpins.
        g.handle(latents, at(Input::Down, 500.0, 0.0), RUN, &mut b);
        g.handle(latents, at(Input::Move, 50.0, 0.0), RUN, &mut b);
        assert_eq!(b.probe.as_deref(), Some("point 50"));
    }

    #[test]
    fn keys_and_the_colour_input_move_and_pin_the_probe_and_escape_lets_it_go() {
        let (mut g, mut b) = (Gestures::default(), Fake::default());
        let latents = Surface::Latents;
        for (k, delta) in PROBE_KEYS {
            assert!(g.handle(latents, key(Input::Key, k), RUN, &mut b).taken);
            assert_eq!(b.probe, Some(format!("step {delta}")));
        }
        g.handle(latents, at(Input::Move, 10.0, 0.0), RUN, &mut b);
        assert_eq!(b.probe.as_deref(), Some("step -100"), "pinned by the keys");
        assert!(
            g.handle(latents, key(Input::Key, "Escape"), RUN, &mut b)
                .taken
        );
        assert_eq!(b.probe, None);
        assert!(!g.handle(latents, key(Input::Key, "x"), RUN, &mut b).taken);
        assert!(
            g.handle(latents, key(Input::Color, "#ff8000"), RUN, &mut b)
                .redraw
        );
        assert_eq!(
            b.probe,
            Some(format!("colour {:?}", [1.0, 128.0 / 255.0, 0.0]))
        );
        g.handle(latents, at(Input::Leave, 0.0, 0.0), RUN, &mut b);
        assert!(b.probe.is_some(), "pinned by the colour input");
        for bad in ["", "ff8000", "#ff80", "#gg8000", "#ff8000ff"] {
            assert_eq!(
                g.handle(latents, key(Input::Color, bad), RUN, &mut b),
                Response::default(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_drag_turns_the_dome_by_its_moves_and_home_turns_it_back() {
        let (mut g, mut b) = (Gestures::default(), Fake::default());
        let dome = Surface::Dome;
        assert!(
            !g.handle(dome, at(Input::Move, 5.0, 5.0), RUN, &mut b)
                .redraw
        );
        assert!(
            g.handle(dome, at(Input::Down, 10.0, 10.0), RUN, &mut b)
                .capture
        );
        g.handle(dome, at(Input::Move, 15.0, 8.0), RUN, &mut b);
        g.handle(dome, at(Input::Move, 25.0, 9.0), RUN, &mut b);
        assert_eq!(b.turned, (15.0, -1.0));
        // The page scrolls under a still pointer: the canvas moves, the view does not turn.
        let scrolled = Event {
            y: 59.0,
            client: (1025.0, 2009.0),
            ..at(Input::Move, 25.0, 0.0)
        };
        g.handle(dome, scrolled, RUN, &mut b);
        assert_eq!(b.turned, (15.0, -1.0));
        g.handle(dome, at(Input::Up, 25.0, 9.0), RUN, &mut b);
        g.handle(dome, at(Input::Move, 99.0, 99.0), RUN, &mut b);
        assert_eq!(b.turned, (15.0, -1.0), "no turning after the pointer is up");
        assert!(
            g.handle(dome, at(Input::DoubleClick, 0.0, 0.0), RUN, &mut b)
                .redraw
        );
        assert!(g.handle(dome, key(Input::Key, "Home"), RUN, &mut b).taken);
        assert!(g.handle(dome, key(Input::Key, "Escape"), RUN, &mut b).taken);
        assert_eq!(b.homes, 3);
        assert!(
            g.handle(dome, key(Input::Key, "ArrowUp"), RUN, &mut b)
                .taken
        );
        assert!(!g.handle(dome, key(Input::Key, "q"), RUN, &mut b).taken);
    }

    #[test]
    fn names_the_page_uses_are_read_and_others_are_not() {
        for name in ["schedule", "latents", "dome"] {
            assert!(Surface::from_name(name).is_some(), "{name}");
        }
        assert_eq!(Surface::from_name("losses"), None);
        for kind in [
            "pointerdown",
            "pointermove",
            "pointerup",
            "pointercancel",
            "pointerleave",
            "keydown",
            "blur",
            "dblclick",
            "color",
        ] {
            assert!(Input::from_type(kind).is_some(), "{kind}");
        }
        assert_eq!(Input::from_type("click"), None);
    }
}
