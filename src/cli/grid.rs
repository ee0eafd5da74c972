//! `color-bottleneck grid`: a phase diagram. One or two keyframe values of a sheet vary over a
//! grid ([`crate::grid`]); every cell sweeps the same seeds, so cells differ only in their
//! sheet, and each cell is coloured by its crumple rate.
//!
//! With `--shard I/N` every cell trains the I-th part of the seeds, and the folder also holds
//! what `merge` needs to draw the whole grid again from the parts' `grid-runs.csv`: the grid's
//! definition ([`SPEC_FILE`]) and its base sheet.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use super::sweep::{gap_cell, mse_cell, note_failures, train};
use super::{io, load, print_out, progress_bar, write_figure, CliError, FigureFormat, Seeds};
use crate::escape::csv_cell;
use crate::grid::Grid;
use crate::plot;
use crate::stats::median;
use crate::sweep::Sweep;
use crate::timeline::Timeline;
use crate::verdict::{wilson_interval, Shape, Verdict};

/// The grid's definition in a shard's folder: the seeds, model, cut and backend
/// (`Seeds::spec_lines`), a `vary SPEC` line per axis, and the shard (`shard I/N`). The base
/// sheet is [`BASE_SHEET`] in `sheets/`.
pub(super) const SPEC_FILE: &str = "grid-spec.txt";
const BASE_SHEET: &str = "base.csv";

/// What one cell's sweep came to.
struct CellResult {
    verdicts: Vec<Verdict>,
    onsets: Vec<u64>,
    seeds: Vec<u64>,
}

/// What `grid.csv`, the heatmap and the report say of a cell.
pub(super) struct CellSummary {
    runs: usize,
    crumpled: usize,
    median_mse: f64,
    worst_mse: f64,
}

impl CellSummary {
    /// Of a cell's runs: whether each crumpled, and its reconstruction error.
    pub(super) fn of(runs: impl Iterator<Item = (bool, f64)>) -> CellSummary {
        let (crumpled, mut mse): (Vec<bool>, Vec<f64>) = runs.unzip();
        mse.sort_by(f64::total_cmp);
        CellSummary {
            runs: mse.len(),
            crumpled: crumpled.iter().filter(|&&c| c).count(),
            median_mse: median(&mse),
            worst_mse: mse.last().copied().unwrap_or(f64::NAN),
        }
    }
}

impl CellResult {
    fn summary(&self) -> CellSummary {
        CellSummary::of((self.verdicts.iter()).map(|v| (v.shape == Shape::Crumpled, v.recon_mse)))
    }
}

/// A grid as a shard's folder defines it: its spec file and base sheet.
pub(super) struct GridSpec {
    pub(super) grid: Grid,
    pub(super) until: Option<u64>,
    /// Which shard this is: `(I, N)`.
    pub(super) shard: (usize, usize),
    /// Everything but the shard (the spec file's other lines and the base sheet), to check
    /// that parts are of one grid.
    pub(super) text: String,
}

impl GridSpec {
    fn text(vary: &[String], seeds: &Seeds) -> String {
        let mut text = seeds.spec_lines();
        for spec in vary {
            text.push_str(&format!("vary {spec}\n"));
        }
        if let Some(shard) = seeds.shard {
            text.push_str(&format!("shard {shard}\n"));
        }
        text
    }

    /// The grid `dir` (a shard's `--out`) was trained on.
    pub(super) fn read(dir: &Path) -> Result<GridSpec, CliError> {
        let path = dir.join(SPEC_FILE);
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| CliError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        let text = read(&path)?;
        let bad = |line: usize, message: &str| CliError::Merge {
            path: path.clone(),
            message: format!("line {line}: {message}"),
        };
        let (mut until, mut vary, mut shard, mut rest) = (None, Vec::new(), None, String::new());
        for (i, line) in text.lines().enumerate() {
            match line.split_once(' ') {
                Some(("until", n)) => {
                    until = Some(n.parse().map_err(|_| bad(i + 1, "not a step count"))?)
                }
                Some(("vary", spec)) => vary.push(spec.to_string()),
                Some(("shard", s)) => {
                    let s: super::Shard = s.parse().map_err(|e: String| bad(i + 1, &e))?;
                    shard = Some((s.index, s.count));
                    continue;
                }
                Some(("runs" | "first-seed" | "latent-dims" | "batch-size" | "backend", _)) => {}
                _ => return Err(bad(i + 1, "not a line grid --shard writes")),
            }
            rest.push_str(line);
            rest.push('\n');
        }
        let shard = shard.ok_or_else(|| bad(1, "no `shard I/N` line: not a grid's shard"))?;
        let base = dir.join("sheets").join(BASE_SHEET);
        let base_text = read(&base)?;
        let sheet =
            crate::dopesheet::Dopesheet::parse(&base_text).map_err(|source| CliError::Merge {
                path: base.clone(),
                message: source.to_string(),
            })?;
        Ok(GridSpec {
            grid: Grid::new(sheet, &vary)?,
            until,
            shard,
            text: format!("{rest}{base_text}"),
        })
    }
}

pub(super) fn grid(
    path: Option<&Path>,
    vary: &[String],
    seeds: &Seeds,
    out: &Path,
    format: FigureFormat,
    quiet: bool,
) -> Result<(), CliError> {
    let config = seeds.config()?;
    let grid = Grid::new(load(path)?, vary)?;
    // The base sheet's cut says once whether the verdicts are a screen; a cell's values
    // never change its length.
    let steps = seeds.timeline(grid.base(), "").len();
    // A cell's sheet may train otherwise than written where the base sheet does not (a value
    // varied out of range): said once per cell, beside the base's own warnings.
    let base_warnings: Vec<String> = (crate::run::warnings_of(&Timeline::new(grid.base())).iter())
        .map(ToString::to_string)
        .collect();
    let sheets = out.join("sheets");
    std::fs::create_dir_all(&sheets).map_err(io(&sheets))?;
    if seeds.shard.is_some() {
        let spec = out.join(SPEC_FILE);
        std::fs::write(&spec, GridSpec::text(vary, seeds)).map_err(io(&spec))?;
        let base = sheets.join(BASE_SHEET);
        std::fs::write(&base, grid.base().resolved_csv()).map_err(io(&base))?;
    }
    let run_steps = steps * (config.runs * grid.len()) as u64;
    let bar = progress_bar(
        run_steps,
        quiet,
        "{bar:30} {pos}/{len} run-steps {per_sec} eta {eta}",
    );
    let started = Instant::now();
    let mut results = Vec::with_capacity(grid.len());
    for cell in grid.cells() {
        let whole = Timeline::new(&cell.sheet);
        for warning in crate::run::warnings_of(&whole) {
            let warning = warning.to_string();
            if !base_warnings.contains(&warning) {
                eprintln!("warning: cell {}: {warning}", cell.index);
            }
        }
        let timeline = seeds.cut(whole);
        let before = steps * (config.runs * cell.index) as u64;
        let sweep = Sweep::new(timeline, config)?;
        let sweep = train(sweep, seeds.backend, &|done| {
            bar.set_position(before + done)
        })?;
        note_failures(&sweep, &format!("cell {}: ", cell.index));
        let verdicts = sweep.verdicts();
        results.push(CellResult {
            onsets: sweep.onsets(&verdicts),
            seeds: sweep.runs().iter().map(|r| r.seed).collect(),
            verdicts,
        });
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "trained {} cells × {} runs × {steps} steps in {seconds:.2} s ({:.0} run-steps/s)",
        grid.len(),
        config.runs,
        run_steps as f64 / seconds
    );
    write_runs(&results, &out.join("grid-runs.csv"))?;
    let summaries: Vec<CellSummary> = results.iter().map(CellResult::summary).collect();
    let heatmap = write_grid(&grid, &summaries, seeds.until, out, format)?;
    eprintln!(
        "wrote grid.csv, grid-runs.csv, {heatmap} and sheets/ to {}",
        out.display()
    );
    Ok(())
}

/// Writes each cell's sheet, `grid.csv` and the heatmap to `out` and prints the report: what
/// a grid and the merge of its shards both write. Returns the heatmap's file name.
pub(super) fn write_grid(
    grid: &Grid,
    summaries: &[CellSummary],
    until: Option<u64>,
    out: &Path,
    format: FigureFormat,
) -> Result<String, CliError> {
    let sheets = out.join("sheets");
    std::fs::create_dir_all(&sheets).map_err(io(&sheets))?;
    for cell in grid.cells() {
        let path = sheets.join(cell_sheet_name(cell.index));
        std::fs::write(&path, cell.sheet.resolved_csv()).map_err(io(&path))?;
    }
    // A larger grid written here before left sheets of cells this one has not: gone, so that
    // `sheets/` holds this grid's cells alone.
    for stale in grid.len().. {
        let path = sheets.join(cell_sheet_name(stale));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(io(&path)(e)),
        }
    }
    write_cells(grid, summaries, &out.join("grid.csv"))?;
    let heatmap = write_heatmap(grid, summaries, until, out, format)?;
    print_out(&report(grid, summaries))?;
    Ok(heatmap)
}

/// The file, in `sheets/`, of the sheet cell `index` trains.
fn cell_sheet_name(index: usize) -> String {
    format!("cell-{index}.csv")
}

/// A value as a table or a tick shows it: as short as reads back to the same number.
fn value_text(v: f64) -> String {
    format!("{v}")
}

/// `grid.csv`'s header after the axes' columns.
pub(super) const CELL_COLUMNS: &str =
    "runs,crumpled,crumple_rate,rate_low,rate_high,median_recon_mse,worst_recon_mse,sheet";

/// A row per cell: its values, the crumple rate with its 95% Wilson interval, and the
/// reconstruction errors.
fn write_cells(grid: &Grid, summaries: &[CellSummary], path: &Path) -> Result<(), CliError> {
    let err = io(path);
    let mut w = BufWriter::new(File::create(path).map_err(&err)?);
    let axes: Vec<String> = (grid.axes().iter())
        .map(|a| csv_cell(&a.address()).into_owned())
        .collect();
    writeln!(w, "cell,{},{CELL_COLUMNS}", axes.join(",")).map_err(&err)?;
    for (cell, summary) in grid.cells().zip(summaries) {
        let values: Vec<String> = cell.values.iter().map(|&v| value_text(v)).collect();
        let (k, n) = (summary.crumpled, summary.runs);
        let (low, high) = wilson_interval(k, n);
        let (median, worst) = (summary.median_mse, summary.worst_mse);
        writeln!(
            w,
            "{},{},{n},{k},{},{low:.4},{high:.4},{median:e},{worst:e},sheets/{}",
            cell.index,
            values.join(","),
            k as f64 / n as f64,
            cell_sheet_name(cell.index)
        )
        .map_err(&err)?;
    }
    w.flush().map_err(err)
}

/// `grid-runs.csv`'s header.
pub(super) const RUNS_HEADER: &str = "cell,seed,verdict,worst_gap_error_deg,recon_mse,onset";

/// A row per cell and seed, as `sweep.csv` writes its verdicts.
fn write_runs(results: &[CellResult], path: &Path) -> Result<(), CliError> {
    let err = io(path);
    let mut w = BufWriter::new(File::create(path).map_err(&err)?);
    writeln!(w, "{RUNS_HEADER}").map_err(&err)?;
    for (cell, result) in results.iter().enumerate() {
        for ((seed, v), onset) in result
            .seeds
            .iter()
            .zip(&result.verdicts)
            .zip(&result.onsets)
        {
            let (gap, mse) = (gap_cell(v), mse_cell(v));
            writeln!(w, "{cell},{seed},{},{gap},{mse},{onset}", v.shape).map_err(&err)?;
        }
    }
    w.flush().map_err(err)
}

fn write_heatmap(
    grid: &Grid,
    summaries: &[CellSummary],
    until: Option<u64>,
    out: &Path,
    format: FigureFormat,
) -> Result<String, CliError> {
    let cells: Vec<(usize, usize)> = summaries.iter().map(|c| (c.crumpled, c.runs)).collect();
    let runs = summaries.first().map_or(0, |c| c.runs);
    let columns = grid.axes().first().map_or(1, |a| a.values.len());
    let rows = grid.axes().get(1).map_or(1, |a| a.values.len());
    let width = (columns * 120).clamp(480, 4096) as u32 + 120;
    let height = (rows * 80).clamp(80, 4096) as u32 + 120;
    write_figure(out, "grid", format, (width, height), |s, area| {
        plot::grid_heatmap(s, area, grid, &cells, runs, until);
    })
}

/// What `grid` prints: a line per cell with its values and its crumple rate.
fn report(grid: &Grid, summaries: &[CellSummary]) -> String {
    let mut text = String::new();
    for (cell, summary) in grid.cells().zip(summaries) {
        let values: Vec<String> = (grid.axes().iter().zip(&cell.values))
            .map(|(a, &v)| format!("{}={}", a.address(), value_text(v)))
            .collect();
        let summary = crate::stats::crumple_summary(summary.crumpled, summary.runs);
        text.push_str(&format!("{}  {summary}\n", values.join(" ")));
    }
    text
}
