//! The element's numeric attributes, read as untrusted text: each bad one gets a message
//! that names it and the value used instead, and the run goes on.

use crate::run::setting::{BATCH_SIZE, LATENT_DIMS, PAGE_RUNS, SEED, WORKERS};
use crate::run::RunSpec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The run the attributes ask for.
    pub spec: RunSpec,
    /// Page workers a CPU sweep may train in at once.
    pub workers: usize,
}

impl Settings {
    /// From the attributes' text (`None` for an absent one), each read as its
    /// [`Setting`](crate::run::setting::Setting) declares it; `cores` is what the browser
    /// reports (`navigator.hardwareConcurrency`): the number of workers, at most
    /// [`WORKERS`]' default, unless `workers` says otherwise. Returns the settings and a
    /// message per attribute that could not be used.
    pub fn read(
        seed: Option<&str>,
        latent_dims: Option<&str>,
        batch_size: Option<&str>,
        runs: Option<&str>,
        workers: Option<&str>,
        cores: usize,
    ) -> (Settings, Vec<String>) {
        let mut problems = Vec::new();
        let p = &mut problems;
        let settings = Settings {
            spec: RunSpec {
                seed: SEED.read_or(seed, SEED.default, p),
                latent_dims: LATENT_DIMS.read_or(latent_dims, LATENT_DIMS.default, p) as usize,
                batch_size: BATCH_SIZE.read_or(batch_size, BATCH_SIZE.default, p) as usize,
                runs: PAGE_RUNS.read_or(runs, PAGE_RUNS.default, p) as usize,
            },
            workers: WORKERS.read_or(workers, (cores as u64).clamp(1, WORKERS.default), p) as usize,
        };
        (settings, problems)
    }
}

/// Which of the element's controls a post shows: its `controls` attribute. The element's
/// styles hide what each leaves out; this reads the attribute and says what is wrong with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Controls {
    /// The picture only: no buttons, no editor.
    None,
    /// The picture and the Play/Pause button.
    Play,
    /// Everything (the default).
    #[default]
    Full,
}

impl Controls {
    /// From the attribute's text (`None` when absent); a value that is not one of the three
    /// gives every control and a message naming it.
    pub fn read(text: Option<&str>) -> (Controls, Option<String>) {
        use Controls::*;
        let choices = [("none", None), ("play", Play), ("full", Full)];
        one_of("controls", text, &choices, Full, "showing every control")
    }
}

/// An engine a page's workers train on: the CPU-only module (`pkg/`) or the WebGPU one
/// (`pkg-webgpu/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Cpu,
    WebGpu,
}

impl Backend {
    /// `cpu` or `webgpu`, as the attribute, the worker protocol and the label spell it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::WebGpu => "webgpu",
        }
    }

    /// The engine `name` spells; anything else is not one.
    pub fn read(name: &str) -> Option<Backend> {
        [Backend::Cpu, Backend::WebGpu]
            .into_iter()
            .find(|b| b.name() == name)
    }
}

/// Which engine a run starts on: the `backend` attribute, or the page's `?backend=` over it.
/// The element reads it before either engine module loads (so that a visitor downloads only
/// the engine that trains), the same way: a value that is not one of the three counts as
/// `auto`, and this names it once a module is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendAsk {
    /// The CPU engine at once, the GPU timed beside it and moved to where it wins.
    #[default]
    Auto,
    WebGpu,
    Cpu,
}

impl BackendAsk {
    /// From the attribute's text (`None` when absent), with a message naming a bad value.
    pub fn read(text: Option<&str>) -> (BackendAsk, Option<String>) {
        use BackendAsk::*;
        let choices = [("auto", Auto), ("webgpu", WebGpu), ("cpu", Cpu)];
        one_of("backend", text, &choices, Auto, "using auto")
    }

    /// The engine asked for; `None` for `auto`.
    pub fn engine(self) -> Option<Backend> {
        match self {
            BackendAsk::Auto => None,
            BackendAsk::WebGpu => Some(Backend::WebGpu),
            BackendAsk::Cpu => Some(Backend::Cpu),
        }
    }
}

/// An attribute that names one of a few `choices` (spaces around it ignored): `default` when
/// absent; anything else gives `default` too, and a message naming it, the choices and what
/// happens `instead`.
fn one_of<T: Copy>(
    name: &str,
    text: Option<&str>,
    choices: &[(&str, T)],
    default: T,
    instead: &str,
) -> (T, Option<String>) {
    let Some(text) = text.map(str::trim) else {
        return (default, None);
    };
    if let Some(&(_, choice)) = choices.iter().find(|(word, _)| *word == text) {
        return (choice, None);
    }
    let words: Vec<&str> = choices.iter().map(|(word, _)| *word).collect();
    let (last, rest) = words.split_last().expect("a choice at least");
    let named = format!("{} or {last}", rest.join(", "));
    let problem = format!("{name}={text:?} is not one of {named}; {instead}");
    (default, Some(problem))
}

/// The `from` and `to` attributes: a step range an embed plays in a loop. The run trains to
/// `to` (the end of the sheet without it), then its recorded latents from `from` to there
/// play over and over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StepRange {
    pub from: u64,
    pub to: Option<u64>,
}

/// How fast a range's loop plays the recorded steps, and the shortest and longest loop: a
/// phase of 3,000 steps takes 6 s, a range of a few steps still reads as motion.
pub const LOOP_STEPS_PER_SECOND: f64 = 500.0;
pub const LOOP_MIN_MS: f64 = 2_000.0;
pub const LOOP_MAX_MS: f64 = 15_000.0;

impl StepRange {
    /// From the attributes' text (`None` when absent): no range when neither is given. A
    /// value that is not a step, or a `to` not after `from`, is named in a message and left
    /// out.
    pub fn read(from: Option<&str>, to: Option<&str>) -> (Option<StepRange>, Vec<String>) {
        let mut problems = Vec::new();
        let mut step = |name: &str, text: Option<&str>| {
            let text = text?;
            match text.trim().parse::<u64>() {
                Ok(n) if n <= MAX_STEP => Some(n),
                _ => {
                    problems.push(format!(
                        "{name}={text:?} is not a step from 0 to {MAX_STEP}; ignoring it"
                    ));
                    None
                }
            }
        };
        let (from, mut to) = (step("from", from), step("to", to));
        if let Some(t) = to {
            let f = from.unwrap_or(0);
            if t <= f {
                problems.push(format!(
                    "to={t} is not after from={f}; playing from step {f} to the end"
                ));
                to = None;
            }
        }
        let range = (from.is_some() || to.is_some()).then(|| StepRange {
            from: from.unwrap_or(0),
            to,
        });
        (range, problems)
    }

    /// The step a loop shows `elapsed_ms` after it began, for a run that ended at step `end`
    /// (a sheet shorter than `to` loops to its end; a `from` past the end shows the end).
    pub fn loop_step(&self, end: u64, elapsed_ms: f64) -> u64 {
        let to = self.to.map_or(end, |t| t.min(end));
        let from = self.from.min(to);
        let span = (to - from) as f64;
        let period = (span / LOOP_STEPS_PER_SECOND * 1000.0).clamp(LOOP_MIN_MS, LOOP_MAX_MS);
        let phase = elapsed_ms.max(0.0) % period / period;
        from + (phase * span).floor() as u64
    }
}

/// The largest step `from` and `to` take: far past any sheet's end (sheets are at most
/// a few hundred thousand steps).
pub const MAX_STEP: u64 = 100_000_000;

/// The step a phase diagram's runs are judged at, from its field: none when blank, else a
/// step from 1 to [`MAX_STEP`]; anything else is named.
pub fn read_judged_step(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u64>() {
        Ok(n) if (1..=MAX_STEP).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "judged at step {text:?}: not a step from 1 to {MAX_STEP}"
        )),
    }
}

/// Whether a sweep's workers should now and then leave their cores to the page: when there
/// are several and they use every core the browser reports, the page's thread would
/// otherwise wait for one to draw each frame. On 2 cores, 16 seeds in 2 workers drew at
/// 53–58 fps; resting 4 ms after every other 16 ms chunk, at 56–58 (least 47–54); after
/// every chunk, at 59 (least 55–56), 5–12% slower than every other.
pub fn sweep_rests(workers: usize, cores: usize) -> bool {
    workers > 1 && workers >= cores
}

/// The bottleneck a shipped sheet is written for, from its file name: `bottleneck-3d.csv` is
/// for E = 3, `wide-12d.csv` for E = 12. `None` for a name without an `-Nd.csv` ending, or with
/// an N the engines do not train (the page then uses the default).
pub fn latent_dims_of_sheet(name: &str) -> Option<usize> {
    let stem = name.strip_suffix("d.csv")?;
    let digits = &stem[stem.rfind('-')? + 1..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 3 {
        return None;
    }
    let dims: usize = digits.parse().ok()?;
    LATENT_DIMS.range().contains(&(dims as u64)).then_some(dims)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_step_range_is_read_and_looped() {
        use super::{StepRange, LOOP_MIN_MS};
        assert_eq!(StepRange::read(None, None), (None, vec![]));
        let (range, problems) = StepRange::read(None, Some("3000"));
        assert!(problems.is_empty());
        let range = range.unwrap();
        assert_eq!(
            range,
            StepRange {
                from: 0,
                to: Some(3000)
            }
        );
        // 3,000 steps at 500 a second: a 6 s loop.
        assert_eq!(range.loop_step(5000, 0.0), 0);
        assert_eq!(range.loop_step(5000, 3000.0), 1500);
        assert_eq!(range.loop_step(5000, 5999.0), 2999);
        assert_eq!(range.loop_step(5000, 6000.0), 0);
        // A run that ended before `to` loops to its end.
        assert_eq!(range.loop_step(1000, 1000.0), 500);
        // A short range still takes the shortest loop.
        let short = StepRange {
            from: 10,
            to: Some(20),
        };
        assert_eq!(short.loop_step(100, LOOP_MIN_MS / 2.0), 15);
        // `from` alone plays to the end.
        let (tail, _) = StepRange::read(Some(" 200 "), None);
        assert_eq!(tail.unwrap().loop_step(1200, 1000.0), 700);
        // Bad values are named and left out.
        let (range, problems) = StepRange::read(Some("abc"), Some("-5"));
        assert_eq!(range, None);
        assert_eq!(problems.len(), 2);
        assert!(problems[0].contains("from=\"abc\""), "{problems:?}");
        let (range, problems) = StepRange::read(None, Some("0"));
        assert_eq!(range, None, "nothing left of the range");
        assert!(
            problems[0].contains("to=0 is not after from=0"),
            "{problems:?}"
        );
        let (range, problems) = StepRange::read(Some("300"), Some("300"));
        assert_eq!(
            range,
            Some(StepRange {
                from: 300,
                to: None
            })
        );
        assert!(problems[0].contains("not after from=300"), "{problems:?}");
    }

    use super::*;

    #[test]
    fn a_backend_is_auto_webgpu_or_cpu_and_anything_else_is_named_and_auto() {
        assert_eq!(BackendAsk::read(None), (BackendAsk::Auto, None));
        assert_eq!(BackendAsk::read(Some(" cpu")), (BackendAsk::Cpu, None));
        assert_eq!(BackendAsk::read(Some("webgpu")), (BackendAsk::WebGpu, None));
        let (ask, problem) = BackendAsk::read(Some("quantum"));
        assert_eq!(ask, BackendAsk::Auto);
        assert_eq!(
            problem.as_deref(),
            Some("backend=\"quantum\" is not one of auto, webgpu or cpu; using auto")
        );
    }

    #[test]
    fn controls_are_none_play_or_full_and_anything_else_is_named() {
        assert_eq!(Controls::read(None), (Controls::Full, None));
        assert_eq!(Controls::read(Some("none")), (Controls::None, None));
        assert_eq!(Controls::read(Some(" play ")), (Controls::Play, None));
        assert_eq!(Controls::read(Some("full")), (Controls::Full, None));
        let (controls, problem) = Controls::read(Some("<b>all</b>"));
        assert_eq!(controls, Controls::Full);
        assert_eq!(
            problem.as_deref(),
            Some("controls=\"<b>all</b>\" is not one of none, play or full; showing every control")
        );
    }

    #[test]
    fn good_attributes_are_used() {
        let (s, problems) =
            Settings::read(Some("7"), Some("3"), Some("64"), Some("16"), Some("2"), 8);
        assert_eq!(
            s,
            Settings {
                spec: RunSpec {
                    seed: 7,
                    latent_dims: 3,
                    batch_size: 64,
                    runs: 16,
                },
                workers: 2,
            }
        );
        assert!(problems.is_empty());
    }

    #[test]
    fn each_bad_attribute_is_named_and_replaced() {
        let (s, problems) = Settings::read(
            Some("-1"),
            Some("abc"),
            Some("0"),
            Some("5000"),
            Some("all"),
            64,
        );
        // A bad value falls back to the default: the cores, at most WORKERS.default.
        assert_eq!(
            s,
            Settings {
                spec: RunSpec::default(),
                workers: 8,
            }
        );
        assert_eq!(
            problems,
            [
                "seed=\"-1\" is not a whole number from 0 to 4294967295; using 1",
                "latent-dims=\"abc\" is not a whole number from 2 to 64; using 4",
                "batch-size=\"0\" is not a whole number from 1 to 65536; using 256",
                "runs=\"5000\" is not a whole number from 1 to 1024; using 1",
                "workers=\"all\" is not a whole number from 1 to 16; using 8",
            ]
        );
    }

    #[test]
    fn a_phase_diagrams_judged_step_is_blank_or_a_step_after_0() {
        assert_eq!(read_judged_step(""), Ok(None));
        assert_eq!(read_judged_step(" 3000 "), Ok(Some(3000)));
        for bad in ["0", "-5", "1.5", "abc", "100000001"] {
            let e = read_judged_step(bad).unwrap_err();
            assert_eq!(
                e,
                format!("judged at step {bad:?}: not a step from 1 to 100000000")
            );
        }
    }

    #[test]
    fn a_sweep_rests_only_when_its_workers_take_every_core() {
        assert!(sweep_rests(2, 2));
        assert!(sweep_rests(16, 8));
        assert!(
            !sweep_rests(1, 1),
            "one worker: a single run or an unshared sweep"
        );
        assert!(!sweep_rests(3, 4), "a core to spare");
    }

    #[test]
    fn absent_attributes_take_the_defaults_quietly() {
        let (s, problems) = Settings::read(None, None, None, None, None, 4);
        assert_eq!(
            (
                s.spec.seed,
                s.spec.latent_dims,
                s.spec.batch_size,
                s.spec.runs
            ),
            (1, 4, 256, 1)
        );
        assert_eq!(s.workers, 4);
        // A browser that does not say (0) gets one worker.
        assert_eq!(Settings::read(None, None, None, None, None, 0).0.workers, 1);
        assert!(problems.is_empty());
    }

    #[test]
    fn a_sheet_name_gives_its_bottleneck_with_any_number_of_digits() {
        assert_eq!(latent_dims_of_sheet("bottleneck-3d.csv"), Some(3));
        assert_eq!(latent_dims_of_sheet("wide-12d.csv"), Some(12));
        assert_eq!(latent_dims_of_sheet("x-64d.csv"), Some(64));
        for name in [
            "ex-1.5.csv",
            "x-1d.csv",
            "x-65d.csv",
            "x-d.csv",
            "x-1e3d.csv",
            "x-0003d.csv",
            "3d.csv",
            "x-3D.csv",
            "x-3d.csv.bak",
        ] {
            assert_eq!(latent_dims_of_sheet(name), None, "{name}");
        }
    }
}
