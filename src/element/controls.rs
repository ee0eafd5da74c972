//! What each of the element's controls does with an event. The page hands over every event in
//! its shadow root, named by the part it reached (a button's `data-action`, a field's
//! `data-field`, a canvas's `data-canvas`, a fold's class); the answer is a [`Command`].

use super::gestures::{Input, Surface};

/// The part of the element an event reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part<'a> {
    Action(&'a str),
    Field(&'a str),
    Canvas(&'a str),
    /// A fold (`<details>`) by its class.
    Fold(&'a str),
}

/// What the element does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Play or pause, whichever the button says.
    Toggle,
    /// One step, paused.
    Step,
    Reset,
    Apply {
        live: bool,
    },
    Branch,
    Undo {
        back: bool,
    },
    RunGrid,
    /// Opens the phase diagram's cell under the pointer.
    OpenCell,
    /// Names the phase diagram's cell under the pointer in its title.
    DescribeCell,
    /// Opens the sweep's seed under the pointer as a run of its own.
    OpenSeed,
    /// Trains the seeds the runs menu names.
    OpenRuns,
    /// *Compare with B* was ticked or unticked.
    Compare,
    /// Typing in A's editor (one edit until a pause) or in B's.
    Typed {
        sheet_a: bool,
    },
    Speed,
    /// A shipped sheet picked, for the editor.
    PickSheet,
    DecoderMap,
    DomeAxes,
    /// The pointer, keys or probe colour on a canvas the board handles.
    Gesture(Surface, Input),
    /// A fold opened or closed: the 3-D view draws again, the grid's menus fill in.
    Redraw,
    GridMenus,
    /// Records the run as a video.
    Video,
    /// Shows the link to the run (and, `embed`, the snippets that embed it) and copies it.
    Share {
        embed: bool,
    },
    Download(Download),
}

/// What the element hands out as a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Download {
    /// The figure, as PNG.
    Png,
    /// The figure, as SVG.
    Svg,
    /// The latent code of every colour, as CSV.
    Latents,
    /// The trained sheet as the seed's Markdown table.
    Markdown,
    /// The sweep's or the comparison's table, as CSV.
    SweepCsv,
}

/// What an event of DOM type `kind` on `part` does; `key` and `repeat`: a key's, for
/// `keydown`. `None`: nothing.
pub fn command(kind: &str, part: Part<'_>, key: &str, repeat: bool) -> Option<Command> {
    use Command as C;
    Some(match (kind, part) {
        ("click", Part::Action(action)) => match action {
            "toggle" => C::Toggle,
            "step" => C::Step,
            "reset" => C::Reset,
            "apply" => C::Apply { live: false },
            "apply-live" => C::Apply { live: true },
            "branch" => C::Branch,
            "undo" => C::Undo { back: true },
            "redo" => C::Undo { back: false },
            "grid-run" => C::RunGrid,
            "export-video" => C::Video,
            "share" => C::Share { embed: false },
            "embed" => C::Share { embed: true },
            "export-png" => C::Download(Download::Png),
            "export-svg" => C::Download(Download::Svg),
            "export-csv" => C::Download(Download::Latents),
            "export-md" => C::Download(Download::Markdown),
            "sweep-csv" => C::Download(Download::SweepCsv),
            _ => return None,
        },
        ("click", Part::Canvas("grid")) => C::OpenCell,
        ("mousemove", Part::Canvas("grid")) => C::DescribeCell,
        ("click", Part::Canvas("sweep")) => C::OpenSeed,
        ("keydown", Part::Field("seed")) if key == "Enter" && !repeat => C::Reset,
        ("change", Part::Field(field)) => match field {
            "runs" => C::OpenRuns,
            "compare" => C::Compare,
            "speed" => C::Speed,
            "picker" => C::PickSheet,
            "decoder-map" => C::DecoderMap,
            "dome-axes" => C::DomeAxes,
            _ => return None,
        },
        ("input", Part::Field("sheet")) => C::Typed { sheet_a: true },
        ("input", Part::Field("sheet-b")) => C::Typed { sheet_a: false },
        ("input", Part::Field("probe-color")) => C::Gesture(Surface::Latents, Input::Color),
        ("toggle", Part::Fold("inside-box")) => C::Redraw,
        ("toggle", Part::Fold("grid-box")) => C::GridMenus,
        (kind, Part::Canvas(canvas)) => {
            C::Gesture(Surface::from_name(canvas)?, Input::from_type(kind)?)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_do_what_they_say() {
        let click = |action| command("click", Part::Action(action), "", false);
        assert_eq!(click("apply-live"), Some(Command::Apply { live: true }));
        assert_eq!(click("redo"), Some(Command::Undo { back: false }));
        assert_eq!(
            click("export-md"),
            Some(Command::Download(Download::Markdown))
        );
        assert_eq!(click("embed"), Some(Command::Share { embed: true }));
        assert_eq!(click("no-such-button"), None);
        assert_eq!(command("focus", Part::Action("reset"), "", false), None);
    }

    #[test]
    fn enter_in_the_seed_field_resets_once_per_press() {
        let key = |k, repeat| command("keydown", Part::Field("seed"), k, repeat);
        assert_eq!(key("Enter", false), Some(Command::Reset));
        assert_eq!(key("Enter", true), None, "a held key resets once");
        assert_eq!(key("1", false), None);
    }

    #[test]
    fn the_canvases_pointer_and_keys_are_gestures_and_the_grid_and_sweep_open_runs() {
        let on = |kind, canvas| command(kind, Part::Canvas(canvas), "", false);
        assert_eq!(
            on("pointerdown", "schedule"),
            Some(Command::Gesture(
                Surface::Schedule,
                Input::from_type("pointerdown").unwrap()
            ))
        );
        assert_eq!(
            on("pointerout", "latents"),
            Some(Command::Gesture(Surface::Latents, Input::Leave)),
            "leaving a canvas lets go of a hover"
        );
        assert_eq!(on("click", "grid"), Some(Command::OpenCell));
        assert_eq!(on("click", "sweep"), Some(Command::OpenSeed));
        assert_eq!(
            on("pointerdown", "losses"),
            None,
            "the loss chart takes no gestures"
        );
        assert_eq!(
            command("input", Part::Field("probe-color"), "", false),
            Some(Command::Gesture(Surface::Latents, Input::Color))
        );
    }

    #[test]
    fn fields_and_folds() {
        assert_eq!(
            command("change", Part::Field("runs"), "", false),
            Some(Command::OpenRuns)
        );
        assert_eq!(
            command("input", Part::Field("sheet-b"), "", false),
            Some(Command::Typed { sheet_a: false })
        );
        assert_eq!(
            command("change", Part::Field("sheet"), "", false),
            None,
            "typing is `input`"
        );
        assert_eq!(
            command("toggle", Part::Fold("grid-box"), "", false),
            Some(Command::GridMenus)
        );
        assert_eq!(command("toggle", Part::Fold("other"), "", false), None);
    }
}
