//! `color-bottleneck grid`: a phase diagram. One or two keyframe values of a sheet vary over a
//! grid ([`crate::grid`]); every cell sweeps the same seeds, so cells differ only in their
//! sheet, and each cell is coloured by its crumple rate.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use super::sweep::{gap_cell, mse_cell, summary_of, train};
use super::{io, load, print_out, progress_bar, write_figure, CliError, FigureFormat, Seeds};
use crate::escape::csv_cell;
use crate::grid::{Axis, Grid};
use crate::plot::{self, Heatmap};
use crate::stats::median;
use crate::sweep::Sweep;
use crate::timeline::Timeline;
use crate::verdict::{wilson_interval, Shape, Verdict};

/// What one cell's sweep came to.
struct CellResult {
    verdicts: Vec<Verdict>,
    onsets: Vec<u64>,
    seeds: Vec<u64>,
}

impl CellResult {
    fn crumpled(&self) -> usize {
        let crumpled = |v: &&Verdict| v.shape == Shape::Crumpled;
        self.verdicts.iter().filter(crumpled).count()
    }

    /// The median and the worst reconstruction error over the cell's runs.
    fn mse_median_and_worst(&self) -> (f64, f64) {
        let mut mse: Vec<f64> = self.verdicts.iter().map(|v| v.recon_mse).collect();
        mse.sort_by(f64::total_cmp);
        (median(&mse), mse[mse.len() - 1])
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
    if let Some(shard) = seeds.shard {
        return Err(CliError::Shard(format!(
            "--shard {shard}: grid does not take --shard; give each machine its own part of \
             a --vary range (e.g. 0.1..0.2/2 and 0.3..0.5/3) and its own --out"
        )));
    }
    let config = seeds.config()?;
    let grid = Grid::new(load(path)?, vary)?;
    // The base sheet's cut says once whether the verdicts are a screen; a cell's values
    // never change its length.
    let steps = seeds.timeline(grid.base()).len();
    let sheets = out.join("sheets");
    std::fs::create_dir_all(&sheets).map_err(io(&sheets))?;
    let run_steps = steps * (config.runs * grid.len()) as u64;
    let bar = progress_bar(
        run_steps,
        quiet,
        "{bar:30} {pos}/{len} run-steps {per_sec} eta {eta}",
    );
    let started = Instant::now();
    let mut results = Vec::with_capacity(grid.len());
    for cell in grid.cells() {
        let path = sheets.join(cell_sheet_name(cell.index));
        std::fs::write(&path, cell.sheet.resolved_csv()).map_err(io(&path))?;
        let timeline = seeds.cut(Timeline::new(&cell.sheet));
        let before = steps * (config.runs * cell.index) as u64;
        let sweep = Sweep::new(timeline, config.clone())?;
        let sweep = train(sweep, seeds.backend, &|done| {
            bar.set_position(before + done)
        })?;
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
    write_cells(&grid, &results, &out.join("grid.csv"))?;
    write_runs(&results, &out.join("grid-runs.csv"))?;
    let heatmap = write_heatmap(&grid, &results, seeds, out, format)?;
    print_out(&report(&grid, &results))?;
    eprintln!(
        "wrote grid.csv, grid-runs.csv, {heatmap} and sheets/ to {}",
        out.display()
    );
    Ok(())
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
fn write_cells(grid: &Grid, results: &[CellResult], path: &Path) -> Result<(), CliError> {
    let err = io(path);
    let mut w = BufWriter::new(File::create(path).map_err(&err)?);
    let axes: Vec<String> = (grid.axes().iter())
        .map(|a| csv_cell(&a.address()).into_owned())
        .collect();
    writeln!(w, "cell,{},{CELL_COLUMNS}", axes.join(",")).map_err(&err)?;
    for (cell, result) in grid.cells().zip(results) {
        let values: Vec<String> = cell.values.iter().map(|&v| value_text(v)).collect();
        let (k, n) = (result.crumpled(), result.verdicts.len());
        let (low, high) = wilson_interval(k, n);
        let (median, worst) = result.mse_median_and_worst();
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

/// A row per cell and seed, as `sweep.csv` writes its verdicts.
fn write_runs(results: &[CellResult], path: &Path) -> Result<(), CliError> {
    let err = io(path);
    let mut w = BufWriter::new(File::create(path).map_err(&err)?);
    writeln!(w, "cell,seed,verdict,worst_gap_error_deg,recon_mse,onset").map_err(&err)?;
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

/// An axis's values to three significant digits, for its ticks (grid.csv has them whole).
fn ticks(axis: Option<&Axis>) -> Vec<String> {
    let short = |v: f64| {
        format!("{v:.2e}")
            .parse::<f64>()
            .map_or(v.to_string(), |s| s.to_string())
    };
    axis.map_or(Vec::new(), |a| a.values.iter().map(|&v| short(v)).collect())
}

fn write_heatmap(
    grid: &Grid,
    results: &[CellResult],
    seeds: &Seeds,
    out: &Path,
    format: FigureFormat,
) -> Result<String, CliError> {
    let (x, y) = (grid.axes().first(), grid.axes().get(1));
    let (x_ticks, y_ticks) = (ticks(x), ticks(y));
    let cells: Vec<(usize, usize)> = (results.iter())
        .map(|r| (r.crumpled(), r.verdicts.len()))
        .collect();
    let label = |a: Option<&Axis>| {
        a.map_or(String::new(), |a| {
            format!("{}{}", a.address(), if a.log { " (log)" } else { "" })
        })
    };
    let judged = match seeds.until {
        Some(until) => format!(" at step {until}"),
        None => String::new(),
    };
    let title = format!("crumple rate{judged}, {} seeds a cell", seeds.runs);
    let (x_label, y_label) = (label(x), label(y));
    let map = Heatmap {
        title: &title,
        x_label: &x_label,
        x_ticks: &x_ticks,
        y_label: &y_label,
        y_ticks: &y_ticks,
        cells: &cells,
    };
    let width = (x_ticks.len() * 120).clamp(480, 4096) as u32 + 120;
    let height = (y_ticks.len().max(1) * 80).clamp(80, 4096) as u32 + 120;
    write_figure(out, "grid", format, (width, height), |s, area| {
        plot::heatmap(s, area, &map);
    })
}

/// What `grid` prints: a line per cell with its values and its crumple rate.
fn report(grid: &Grid, results: &[CellResult]) -> String {
    let mut text = String::new();
    for (cell, result) in grid.cells().zip(results) {
        let values: Vec<String> = (grid.axes().iter().zip(&cell.values))
            .map(|(a, &v)| format!("{}={}", a.address(), value_text(v)))
            .collect();
        let summary = summary_of(result.crumpled(), result.verdicts.len());
        text.push_str(&format!("{}  {summary}\n", values.join(" ")));
    }
    text
}
