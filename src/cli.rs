//! The native command line: run any dopesheet headless and write what it learnt.

mod compare;
mod engine;
mod grid;
mod merge;
mod sweep;
mod train;
mod video;

use engine::Engine;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::ColorCube;
use crate::dopesheet::{python_repr, Dopesheet, DopesheetError, EX_1_5};
use crate::escape::csv_cell;
use crate::evolution::Recorder;
use crate::geometry::Geometry;
use crate::plot::{self, PhaseSnapshot, Raster, Rect, Surface, Svg};
use crate::run::setting::{Setting, SettingError, BATCH_SIZE, LATENT_DIMS, RUNS, SEED};
use crate::run::{RunSpec, TrainError};
use crate::step::loss::Term;
use crate::timeline::Timeline;

#[derive(Parser)]
#[command(
    name = "color-bottleneck",
    version,
    about = "Train a colour autoencoder through a keyframed curriculum"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a curriculum to the end and write latents, losses and charts.
    Train {
        /// Dopesheet CSV; the built-in ex-1.5 curriculum when omitted.
        dopesheet: Option<PathBuf>,
        /// Random seed for the initial weights and the sampler.
        #[arg(long, default_value_t = SEED.default)]
        seed: u64,
        #[command(flatten)]
        model: Model,
        #[arg(long, default_value = "out")]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = Backend::Fused)]
        backend: Backend,
        /// Also write the latent-evolution video (dims 0 and 1 every 10 steps, 30 fps) to
        /// this path: H.264 in an MP4 for `.mp4`, an animated PNG for `.png`.
        #[arg(long)]
        video: Option<PathBuf>,
        /// The figures' format: PNG, or SVG (vectors, for a paper).
        #[arg(long, value_enum, default_value_t = FigureFormat::Png)]
        format: FigureFormat,
        /// No progress bar (for logs and CI).
        #[arg(long)]
        quiet: bool,
    },
    /// Train many seeds of one curriculum at once; judge each a colour wheel or crumpled.
    /// Writes sweep.csv (a row per seed) and contact.png (every run's dims 0 and 1), and
    /// prints the crumple rate with its 95% interval.
    Sweep {
        /// Dopesheet CSV; the built-in ex-1.5 curriculum when omitted.
        dopesheet: Option<PathBuf>,
        #[command(flatten)]
        seeds: Seeds,
        #[arg(long, default_value = "sweep")]
        out: PathBuf,
        /// The figures' format: PNG, or SVG (vectors, for a paper).
        #[arg(long, value_enum, default_value_t = FigureFormat::Png)]
        format: FigureFormat,
        /// No progress bar (for logs and CI).
        #[arg(long)]
        quiet: bool,
    },
    /// Train two curricula on the same seeds (each pair shares its initial weights) and
    /// compare them seed by seed. Writes compare.csv (a row per seed, both verdicts) and
    /// compare.png (the seeds they disagree on, A above B; not written when they agree on
    /// every seed), and prints the paired table, each crumple rate with its 95% interval, the
    /// difference with Newcombe's paired interval and the exact McNemar p-value.
    Compare {
        /// Dopesheet CSV of curriculum A.
        a: PathBuf,
        /// Dopesheet CSV of curriculum B.
        b: PathBuf,
        #[command(flatten)]
        seeds: Seeds,
        #[arg(long, default_value = "compare")]
        out: PathBuf,
        /// The figures' format: PNG, or SVG (vectors, for a paper).
        #[arg(long, value_enum, default_value_t = FigureFormat::Png)]
        format: FigureFormat,
        /// No progress bar (for logs and CI).
        #[arg(long)]
        quiet: bool,
    },
    /// A phase diagram: vary one or two keyframe values of a sheet over a grid and sweep the
    /// same seeds in every cell. Writes grid.csv (a row per cell: its values, the crumple rate
    /// with its 95% interval, the median and worst reconstruction error), grid-runs.csv (a
    /// row per cell and seed), grid.png (the heatmap) and sheets/cell-N.csv (the sheet each
    /// cell trains), and prints each cell's rate.
    Grid {
        /// Dopesheet CSV; the built-in ex-1.5 curriculum when omitted.
        dopesheet: Option<PathBuf>,
        /// A value to vary: COLUMN@STEP=FROM..TO/COUNT, `:log` after COUNT for log spacing,
        /// or COLUMN@STEP=V1,V2,… STEP is a keyframe's step as `check` prints it. Once for
        /// a row of cells, twice for a grid (the first along x).
        #[arg(long, required = true, value_name = "COLUMN@STEP=RANGE")]
        vary: Vec<String>,
        #[command(flatten)]
        seeds: Seeds,
        #[arg(long, default_value = "grid")]
        out: PathBuf,
        /// The figures' format: PNG, or SVG (vectors, for a paper).
        #[arg(long, value_enum, default_value_t = FigureFormat::Png)]
        format: FigureFormat,
        /// No progress bar (for logs and CI).
        #[arg(long)]
        quiet: bool,
    },
    /// Join the tables of a sweep's, a comparison's or a grid's shards (`--shard I/N`) into
    /// what a single run over all the seeds writes, and print its summary.
    Merge {
        /// The shards' output folders, each holding a sweep.csv (or each a compare.csv, or
        /// each a grid's grid-runs.csv and grid-spec.txt).
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Where the joined tables go: by default `sweep/`, `compare/` or `grid/`, as the
        /// command that wrote the parts.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the realized schedule as CSV, one row per step (0..=len).
    Timeline { dopesheet: PathBuf },
    /// Validate a dopesheet and print its resolved keyframe table.
    Check {
        dopesheet: PathBuf,
        /// Print the table as Markdown (as the seed's notebook shows it) instead of CSV.
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Backend {
    /// The CPU engine: the whole training step in one pass over host values (fastest).
    Fused,
    /// The oracle: Burn's layers, autodiff and Adam on Burn's CPU backend, operation by
    /// operation (slower; what the engines are held to).
    Flex,
}

impl Backend {
    fn describe(self) -> &'static str {
        match self {
            Backend::Fused => "fused CPU step",
            Backend::Flex => "the plain-Burn reference on Burn's flex backend",
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Sheet {
        path: String,
        source: DopesheetError,
    },
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error("writing {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error(transparent)]
    Draw(#[from] plot::TooLarge),
    #[error("{0}")]
    Shard(String),
    #[error(
        "--first-seed {first} with --runs {runs}: the last seed would pass 18446744073709551615"
    )]
    SeedRange { first: u64, runs: usize },
    #[error("--vary: {0}")]
    Grid(#[from] crate::grid::GridError),
    #[error("{path}: {message}")]
    Merge { path: PathBuf, message: String },
    #[error(
        "--video {path}: unknown video format; name the file .mp4 (H.264, small) or .png \
         (an animated PNG, lossless and about ten times larger)"
    )]
    VideoFormat { path: PathBuf },
    #[cfg(not(feature = "wgpu"))]
    #[error(
        "this color-bottleneck was built without its GPU backend: build it with `cargo build \
         --release --features wgpu` (it needs a Vulkan, Metal or DX12 adapter; on Debian \
         `apt install mesa-vulkan-drivers` gives one on the CPU, lavapipe)"
    )]
    NoGpuBackend,
    #[cfg(feature = "wgpu")]
    #[error("--backend gpu: {0}")]
    Gpu(String),
    /// Whoever read our standard output stopped (`… | head`): not an error to report.
    #[error("standard output was closed")]
    StdoutClosed,
}

/// The exit status of a program that a closed pipe ended, as a shell reports `cat`'s
/// (128 + SIGPIPE).
const CLOSED_PIPE_STATUS: u8 = 141;

/// A flag read by its [`Setting`]: the range and the message the element's attribute and a
/// link's field have.
fn flag(setting: Setting) -> impl Fn(&str) -> Result<usize, SettingError> + Clone + Send + Sync {
    move |text| setting.parse(text).map(|n| n as usize)
}

/// The bottleneck's width and the batch size, as every command that trains takes them: their
/// ranges, defaults and messages are `run::setting`'s.
#[derive(clap::Args, Debug, Clone, Copy)]
struct Model {
    /// The bottleneck's width, from 2 to 64.
    #[arg(long, default_value_t = LATENT_DIMS.default as usize, value_parser = flag(LATENT_DIMS))]
    latent_dims: usize,
    /// Colours a step trains on, from 1 to 65536.
    #[arg(long, default_value_t = BATCH_SIZE.default as usize, value_parser = flag(BATCH_SIZE))]
    batch_size: usize,
}

/// The seeds a sweep (or each side of a comparison, or each cell of a grid) trains, their
/// model and batch, and where they train.
#[derive(clap::Args, Debug)]
struct Seeds {
    /// Seeds trained, from 1 to 4096.
    #[arg(long, default_value_t = RUNS.default as usize, value_parser = flag(RUNS))]
    runs: usize,
    /// Run r trains with seed first-seed + r.
    #[arg(long, visible_alias = "seed", default_value_t = 0)]
    first_seed: u64,
    #[command(flatten)]
    model: Model,
    /// Stop every run after this many steps and judge it there: a cheap screen (ex-1.5's
    /// first phase is its first 3000 steps).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    until: Option<u64>,
    /// Where the runs train: `cpu`, the fused step split over the cores, or `gpu`, one
    /// kernel launch a step for all the runs through Burn's wgpu backend (Vulkan, Metal or
    /// DX12; in a build with `--features wgpu`).
    #[arg(long, value_enum, default_value_t = SweepBackend::Cpu)]
    backend: SweepBackend,
    /// Train only the I-th (from 0) of N equal parts of the seeds (of each cell's, for a
    /// grid), e.g. `--shard 2/4` as array task 2 of 4; `merge` joins the parts.
    #[arg(long)]
    shard: Option<Shard>,
}

impl Seeds {
    fn config(&self) -> Result<RunSpec, CliError> {
        if self.first_seed.checked_add(self.runs as u64 - 1).is_none() {
            return Err(CliError::SeedRange {
                first: self.first_seed,
                runs: self.runs,
            });
        }
        let (first_seed, runs) = match self.shard {
            None => (self.first_seed, self.runs),
            Some(shard) => {
                if shard.count > self.runs {
                    return Err(CliError::Shard(format!(
                        "--shard {shard}: {} parts of {} runs leave some empty; use at most {} \
                         parts",
                        shard.count, self.runs, self.runs
                    )));
                }
                let part = crate::sweep::split_runs(self.runs, shard.count)[shard.index].clone();
                (self.first_seed + part.start as u64, part.len())
            }
        };
        Ok(RunSpec {
            seed: first_seed,
            runs,
            latent_dims: self.model.latent_dims,
            batch_size: self.model.batch_size,
        })
    }

    /// What a shard's spec file says of the whole it is a part of: the seeds, the model, the
    /// cut and the backend, a line each (`runs 64`), all but the shard itself.
    fn spec_lines(&self) -> String {
        let backend = match self.backend {
            SweepBackend::Cpu => "cpu",
            SweepBackend::Gpu => "gpu",
        };
        let mut text = format!(
            "runs {}\nfirst-seed {}\nlatent-dims {}\nbatch-size {}\nbackend {backend}\n",
            self.runs, self.first_seed, self.model.latent_dims, self.model.batch_size
        );
        if let Some(until) = self.until {
            text.push_str(&format!("until {until}\n"));
        }
        text
    }

    /// The sheet's schedule, stopped at `--until`, with what `check` would warn of said on
    /// stderr (`what`: whose sheet, e.g. `A: `); a sheet cut short says that its verdicts
    /// are a screen.
    fn timeline(&self, sheet: &Dopesheet, what: &str) -> Timeline {
        let whole = Timeline::new(sheet);
        for warning in crate::run::warnings_of(&whole) {
            eprintln!("warning: {what}{warning}");
        }
        let steps = whole.len();
        let timeline = self.cut(whole);
        if timeline.len() < steps {
            eprintln!(
                "note: {what}judged after {} of the sheet's {steps} steps: a screen, not the \
                 final verdict. On ex-1.5 the verdict after phase 1 (3000 steps) was the final \
                 one for 247 of 256 seeds",
                timeline.len()
            );
        }
        timeline
    }

    /// `timeline` stopped at `--until` (a sheet that ends sooner is left whole).
    fn cut(&self, timeline: Timeline) -> Timeline {
        match self.until {
            Some(until) => timeline.until(until),
            None => timeline,
        }
    }
}

/// Where a sweep's runs train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SweepBackend {
    Cpu,
    Gpu,
}

/// `--shard I/N`: the I-th (from 0) of N parts of a sweep's seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shard {
    index: usize,
    count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || format!("expected I/N with 0 ≤ I < N (e.g. 0/4), got `{text}`");
        let (i, n) = text.split_once('/').ok_or_else(usage)?;
        let parse = |v: &str| v.trim().parse::<usize>().map_err(|_| usage());
        let (index, count) = (parse(i)?, parse(n)?);
        if count == 0 || index >= count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train {
            dopesheet,
            seed,
            model,
            out,
            backend,
            video,
            format,
            quiet,
        } => {
            let config = RunSpec {
                seed,
                latent_dims: model.latent_dims,
                batch_size: model.batch_size,
                runs: 1,
            };
            let video = video.as_deref();
            train::train(
                dopesheet.as_deref(),
                config,
                &out,
                backend,
                video,
                format,
                quiet,
            )
        }
        Command::Sweep {
            dopesheet,
            seeds,
            out,
            format,
            quiet,
        } => sweep::sweep(dopesheet.as_deref(), &seeds, &out, format, quiet),
        Command::Compare {
            a,
            b,
            seeds,
            out,
            format,
            quiet,
        } => compare::compare(&a, &b, &seeds, &out, format, quiet),
        Command::Grid {
            dopesheet,
            vary,
            seeds,
            out,
            format,
            quiet,
        } => grid::grid(dopesheet.as_deref(), &vary, &seeds, &out, format, quiet),
        Command::Merge { parts, out } => merge::merge(&parts, out.as_deref()),
        Command::Timeline { dopesheet } => print_timeline(&dopesheet),
        Command::Check {
            dopesheet,
            markdown,
        } => check(&dopesheet, markdown),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::StdoutClosed) => ExitCode::from(CLOSED_PIPE_STATUS),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: Option<&Path>) -> Result<Dopesheet, CliError> {
    let (name, text) = match path {
        None => ("built-in ex-1.5".to_string(), EX_1_5.to_string()),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| CliError::Read {
                path: p.into(),
                source,
            })?;
            (p.display().to_string(), text)
        }
    };
    Dopesheet::parse(&text).map_err(|source| CliError::Sheet { path: name, source })
}

fn check(path: &Path, markdown: bool) -> Result<(), CliError> {
    let sheet = load(Some(path))?;
    let timeline = Timeline::new(&sheet);
    if markdown {
        print_out(&sheet.to_markdown())?;
    } else {
        print_out(&guard_csv(&sheet.resolved_csv()))?;
    }
    let phases: Vec<String> = timeline
        .phases()
        .iter()
        .map(|p| format!("{} ({}..={})", p.name, p.start, p.end))
        .collect();
    eprintln!(
        "ok: {} steps, {} keyframes; phases: {}",
        timeline.len(),
        sheet.keyframes().len(),
        phases.join(", ")
    );
    for w in crate::run::warnings_of(&timeline) {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// `csv` (RFC 4180, a record a line) with every field written again through [`csv_cell`], so
/// that no name in it starts a formula in a spreadsheet. Fields that need no care, as all of
/// the seed's do, come out as they went in.
fn guard_csv(csv: &str) -> String {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.as_bytes());
    let mut out = String::with_capacity(csv.len());
    for record in reader.records() {
        let record = record.expect("a CSV this program wrote reads back");
        let fields: Vec<_> = record.iter().map(csv_cell).collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

fn print_timeline(path: &Path) -> Result<(), CliError> {
    let timeline = Timeline::new(&load(Some(path))?);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let write_err = stdout_error;
    write!(out, "step,phase,actions,is_phase_start,is_phase_end").map_err(&write_err)?;
    for p in timeline.properties() {
        write!(out, ",{}", csv_cell(p)).map_err(&write_err)?;
    }
    writeln!(out).map_err(&write_err)?;
    for step in 0..=timeline.len() {
        let s = timeline.state(step);
        let phase = csv_cell(s.phase);
        let actions = s.actions.join(";");
        let actions = csv_cell(&actions);
        write!(
            out,
            "{step},{phase},{actions},{},{}",
            s.is_phase_start as u8, s.is_phase_end as u8
        )
        .map_err(&write_err)?;
        for v in &s.values {
            write!(out, ",{}", python_repr(*v)).map_err(&write_err)?;
        }
        writeln!(out).map_err(&write_err)?;
    }
    out.flush().map_err(&write_err)
}

/// A progress bar on stderr (hidden with `--quiet`); `template` is a static indicatif one.
fn progress_bar(len: u64, quiet: bool, template: &str) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len)
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("static template")
            .progress_chars("=> "),
    );
    bar
}

/// The error for a failed write to `path`, from any error that says what went wrong.
/// Writes `text` to standard output, all of it.
fn print_out(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// A failed write to standard output: a reader that went away ends the program quietly, as
/// `cat` and `grep` end; anything else is reported.
fn stdout_error(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        CliError::StdoutClosed
    } else {
        CliError::Write {
            path: "stdout".into(),
            message: e.to_string(),
        }
    }
}

fn io<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> CliError + '_ {
    move |e| CliError::Write {
        path: path.into(),
        message: e.to_string(),
    }
}

/// How the CLI writes its figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FigureFormat {
    Png,
    Svg,
}

impl FigureFormat {
    fn file(self, stem: &str) -> String {
        match self {
            FigureFormat::Png => format!("{stem}.png"),
            FigureFormat::Svg => format!("{stem}.svg"),
        }
    }
}

/// Draws a `width`×`height` figure with `draw` and writes it to `out/stem.png` or `.svg`;
/// returns the file's name.
fn write_figure(
    out: &Path,
    stem: &str,
    format: FigureFormat,
    (width, height): (u32, u32),
    draw: impl FnOnce(&mut dyn Surface, Rect),
) -> Result<String, CliError> {
    let name = format.file(stem);
    let path = out.join(&name);
    let area = Rect::new(0.0, 0.0, width as f32, height as f32);
    match format {
        FigureFormat::Png => {
            let mut raster = Raster::new(width, height)?;
            draw(&mut raster, area);
            write_png(&raster, &path)?;
        }
        FigureFormat::Svg => {
            let mut svg = Svg::new(width as f32, height as f32);
            draw(&mut svg, area);
            std::fs::write(&path, svg.finish()).map_err(io(&path))?;
        }
    }
    Ok(name)
}

fn write_png(raster: &Raster, path: &Path) -> Result<(), CliError> {
    let file = File::create(path).map_err(io(path))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), raster.width, raster.height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    // Flat charts: fdeflate's fast mode packs them nearly as small, in a fraction of the time
    // (it was 6% of a whole `train` run).
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(io(path))?;
    writer.write_image_data(&raster.pixels).map_err(io(path))?;
    writer.finish().map_err(io(path))
}
