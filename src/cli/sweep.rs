//! `color-bottleneck sweep`: many seeds of one curriculum at once, each judged a wheel or
//! crumpled (see [`verdict`](crate::verdict)), with the crumple rate and its interval.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use super::merge::{write_shard_file, Kind};
use super::{
    io, load, print_out, progress_bar, write_figure, CliError, FigureFormat, Seeds, SweepBackend,
};
use crate::data::ColorCube;
use crate::escape::csv_cell;
use crate::plot;
use crate::stats::crumple_summary;
use crate::sweep::Sweep;
use crate::verdict::{Shape, Verdict};

pub(super) fn sweep(
    path: Option<&Path>,
    seeds: &Seeds,
    out: &Path,
    format: FigureFormat,
    quiet: bool,
) -> Result<(), CliError> {
    let config = seeds.config()?;
    let sheet = load(path)?;
    let sweep = Sweep::new(seeds.timeline(&sheet, ""), config)?;
    std::fs::create_dir_all(out).map_err(io(out))?;
    write_shard_file(out, Kind::Sweep, seeds, &[&sheet])?;
    let run_steps = sweep.timeline().len() * config.runs as u64;
    let bar = progress_bar(
        run_steps,
        quiet,
        "{bar:30} {pos}/{len} run-steps {per_sec} eta {eta}",
    );
    let started = Instant::now();
    let sweep = train(sweep, seeds.backend, &|done| bar.set_position(done))?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "trained {} runs × {} steps in {seconds:.2} s ({:.0} run-steps/s)",
        config.runs,
        sweep.timeline().len(),
        run_steps as f64 / seconds
    );

    note_failures(&sweep, "");
    let verdicts = sweep.verdicts();
    write_table(&sweep, &verdicts, &out.join("sweep.csv"))?;
    let contact = write_contact_sheet(&sweep, &verdicts, out, format)?;
    print_out(&format!("{}\n", summary(&verdicts)))?;
    eprintln!("wrote sweep.csv, {contact} to {}", out.display());
    Ok(())
}

/// Trains every run of `sweep` to its end on `backend`; `progress` is told the run-steps done.
pub(super) fn train(
    mut sweep: Sweep,
    backend: SweepBackend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Sweep, CliError> {
    match backend {
        SweepBackend::Cpu => {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            sweep.finish(threads, progress);
            Ok(sweep)
        }
        #[cfg(feature = "wgpu")]
        SweepBackend::Gpu => {
            use crate::gpu_step::GpuSweep;
            let gpu = |e: crate::gpu_step::GpuError| CliError::Gpu(e.to_string());
            let on_gpu = GpuSweep::on_device(sweep, &gpu_device()?).map_err(gpu)?;
            on_gpu.finish(progress).map_err(gpu)
        }
        #[cfg(not(feature = "wgpu"))]
        SweepBackend::Gpu => Err(CliError::NoGpuBackend),
    }
}

/// The wgpu device, started once for all the sweeps of a command.
#[cfg(feature = "wgpu")]
fn gpu_device() -> Result<burn::prelude::Device, CliError> {
    static DEVICE: std::sync::OnceLock<Result<burn::prelude::Device, String>> =
        std::sync::OnceLock::new();
    let device = DEVICE.get_or_init(|| {
        (burn::prelude::Device::wgpu_options().init()).map_err(|e| format!("no GPU adapter: {e}"))
    });
    device.clone().map_err(CliError::Gpu)
}

/// Says on stderr how many of `sweep`'s runs a non-finite loss stopped (`what`: whose runs,
/// e.g. `A: `). Such a run is judged, and counted in the rate, at the last weights whose loss
/// was finite, which a diverging sheet leaves crumpled: the reader must know the rate holds
/// them.
pub(super) fn note_failures(sweep: &Sweep, what: &str) {
    let stopped = (sweep.runs().iter())
        .filter(|r| r.failure.is_some())
        .count();
    if stopped > 0 {
        eprintln!(
            "note: {what}{stopped} of {} runs stopped at a non-finite loss; each is judged, and \
             counted, at its last weights whose loss was finite",
            sweep.runs().len()
        );
    }
}

/// `crumpled 9/64 (14%, 95% CI 8–25%)`.
pub(super) fn summary(verdicts: &[Verdict]) -> String {
    let crumpled = verdicts
        .iter()
        .filter(|v| v.shape == Shape::Crumpled)
        .count();
    crumple_summary(crumpled, verdicts.len())
}

/// `sweep.csv`'s header.
/// `onset`: the step from which the run's verdict held (judged every 250 steps and at the end).
pub(super) const TABLE_HEADER: &str = "seed,verdict,worst_gap_error_deg,recon_mse,angle_r,angle_y,angle_g,angle_c,angle_b,angle_m,final_total,onset,failure";

fn write_table(sweep: &Sweep, verdicts: &[Verdict], path: &Path) -> Result<(), CliError> {
    let err = io(path);
    let mut w = BufWriter::new(File::create(path).map_err(&err)?);
    writeln!(w, "{TABLE_HEADER}").map_err(&err)?;
    let onsets = sweep.onsets(verdicts);
    for ((run, v), onset) in sweep.runs().iter().zip(verdicts).zip(onsets) {
        let gap = gap_cell(v);
        let angles: Vec<String> = v.primary_angles.iter().map(|a| format!("{a:.2}")).collect();
        let total = run.last.map_or(String::new(), |l| l.total.to_string());
        let failure =
            (run.failure.as_ref()).map_or(String::new(), |f| csv_cell(&f.to_string()).into_owned());
        writeln!(
            w,
            "{},{},{gap},{},{},{total},{onset},{failure}",
            run.seed,
            v.shape,
            mse_cell(v),
            angles.join(",")
        )
        .map_err(&err)?;
    }
    w.flush().map_err(err)
}

/// A verdict's worst gap error as `sweep.csv` (and `compare.csv`) writes it: blank when the
/// primaries are out of order.
pub(super) fn gap_cell(v: &Verdict) -> String {
    v.worst_gap_error
        .map_or(String::new(), |g| format!("{g:.3}"))
}

/// A verdict's reconstruction error as `sweep.csv` (and `compare.csv`) writes it.
pub(super) fn mse_cell(v: &Verdict) -> String {
    format!("{:e}", v.recon_mse)
}

/// Every run's dims (0, 1) at the end, one panel each, labelled with its seed and verdict.
fn write_contact_sheet(
    sweep: &Sweep,
    verdicts: &[Verdict],
    out: &Path,
    format: FigureFormat,
) -> Result<String, CliError> {
    let grid = ColorCube::rgb_grid().rgb_f32();
    let panels: Vec<(String, Vec<f32>)> = (0..sweep.runs().len())
        .map(|r| {
            let latents = sweep.latents(r, &grid);
            (
                format!("seed {} · {}", sweep.runs()[r].seed, verdicts[r].shape),
                latents,
            )
        })
        .collect();
    let columns = (panels.len() as f64).sqrt().ceil() as usize;
    let rows = panels.len().div_ceil(columns);
    // 240-pixel panels, smaller for large sweeps so that 4,096 runs still fit one picture.
    let cell = (8192 / columns).clamp(64, 240);
    let size = ((columns * cell) as u32, (rows * cell) as u32);
    write_figure(out, "contact", format, size, |s, area| {
        plot::contact_sheet(s, area, &panels, sweep.latent_dims(), &grid, columns);
    })
}
