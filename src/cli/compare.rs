//! `color-bottleneck compare`: two curricula trained on the same seeds, so that each pair of
//! runs shares its initial weights and sampler, compared seed by seed: the paired table of
//! verdicts, each sheet's crumple rate, the difference with Newcombe's paired interval, and
//! the exact McNemar test (see [`stats`](crate::stats)).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use super::merge::{write_shard_file, Kind};
use super::sweep::{gap_cell, mse_cell, note_failures, train};
use super::{io, load, print_out, progress_bar, write_figure, CliError, FigureFormat, Seeds};
use crate::data::ColorCube;
use crate::plot::{self, Rect};
use crate::stats::PairedTable;
use crate::sweep::Sweep;
use crate::verdict::{Shape, Verdict};

pub(super) fn compare(
    a: &Path,
    b: &Path,
    seeds: &Seeds,
    out: &Path,
    format: FigureFormat,
    quiet: bool,
) -> Result<(), CliError> {
    // Both sheets are read, and both sweeps built (which checks the configuration), before
    // any training.
    let config = seeds.config()?;
    let (sheet_a, sheet_b) = (load(Some(a))?, load(Some(b))?);
    let sweep_a = Sweep::new(seeds.timeline(&sheet_a, "A: "), config)?;
    let sweep_b = Sweep::new(seeds.timeline(&sheet_b, "B: "), config)?;
    std::fs::create_dir_all(out).map_err(io(out))?;
    write_shard_file(out, Kind::Compare, seeds, &[&sheet_a, &sheet_b])?;
    let steps_a = sweep_a.timeline().len() * config.runs as u64;
    let steps_b = sweep_b.timeline().len() * config.runs as u64;
    let bar = progress_bar(
        steps_a + steps_b,
        quiet,
        "{bar:30} {pos}/{len} run-steps {per_sec} eta {eta}",
    );
    let started = Instant::now();
    let sweep_a = train(sweep_a, seeds.backend, &|done| bar.set_position(done))?;
    let sweep_b = train(sweep_b, seeds.backend, &|done| {
        bar.set_position(steps_a + done)
    })?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "trained {} runs of A ({} steps) and of B ({} steps) in {seconds:.2} s ({:.0} run-steps/s)",
        config.runs,
        sweep_a.timeline().len(),
        sweep_b.timeline().len(),
        (steps_a + steps_b) as f64 / seconds
    );

    note_failures(&sweep_a, "A: ");
    note_failures(&sweep_b, "B: ");
    let verdicts_a = sweep_a.verdicts();
    let verdicts_b = sweep_b.verdicts();
    let onsets = [sweep_a.onsets(&verdicts_a), sweep_b.onsets(&verdicts_b)];
    write_table(
        &sweep_a,
        [&verdicts_a, &verdicts_b],
        &onsets,
        &out.join("compare.csv"),
    )?;
    let crumpled =
        |vs: &[Verdict]| -> Vec<bool> { vs.iter().map(|v| v.shape == Shape::Crumpled).collect() };
    let table = PairedTable::from_crumpled(&crumpled(&verdicts_a), &crumpled(&verdicts_b));
    print_out(&report(&table))?;
    let sweeps = [&sweep_a, &sweep_b];
    match write_discordant(sweeps, [&verdicts_a, &verdicts_b], out, format)? {
        Some(figure) => eprintln!("wrote compare.csv, {figure} to {}", out.display()),
        None => eprintln!(
            "wrote compare.csv to {}; no {}: A and B agree on every seed",
            out.display(),
            format.file("compare")
        ),
    }
    Ok(())
}

/// What `compare` prints:
///
/// ```text
/// both wheel 25
/// both crumpled 0
/// only A crumpled 2
/// only B crumpled 13
/// A crumpled 2/40 (5%, 95% CI 1–17%)
/// B crumpled 13/40 (33%, 95% CI 20–48%)
/// difference A − B -28 points (95% CI -43 to -12, Newcombe paired)
/// McNemar exact p 0.00739
/// ```
pub(super) fn report(table: &PairedTable) -> String {
    table
        .report()
        .iter()
        .map(|line| format!("{line}\n"))
        .collect()
}

pub(super) use crate::stats::COMPARE_TABLE_HEADER as TABLE_HEADER;

fn write_table(
    sweep: &Sweep,
    [verdicts_a, verdicts_b]: [&[Verdict]; 2],
    [onsets_a, onsets_b]: &[Vec<u64>; 2],
    path: &Path,
) -> Result<(), CliError> {
    let err = io(path);
    let mut w = BufWriter::new(File::create(path).map_err(&err)?);
    writeln!(w, "{TABLE_HEADER}").map_err(&err)?;
    for (r, run) in sweep.runs().iter().enumerate() {
        let (a, b) = (&verdicts_a[r], &verdicts_b[r]);
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{}",
            run.seed,
            a.shape,
            b.shape,
            gap_cell(a),
            gap_cell(b),
            mse_cell(a),
            mse_cell(b),
            onsets_a[r],
            onsets_b[r]
        )
        .map_err(&err)?;
    }
    w.flush().map_err(err)
}

/// The seeds on which A and B disagree, dims (0, 1) at the end: A's panel above B's, in
/// column pairs wrapped into a roughly square picture. With no such seed no picture is
/// written (and one left by an earlier compare in the same folder is removed, so that it
/// cannot be mistaken for this one's); returns the file written, if any.
fn write_discordant(
    [sweep_a, sweep_b]: [&Sweep; 2],
    [verdicts_a, verdicts_b]: [&[Verdict]; 2],
    out: &Path,
    format: FigureFormat,
) -> Result<Option<String>, CliError> {
    let discordant: Vec<usize> = (0..verdicts_a.len())
        .filter(|&r| verdicts_a[r].shape != verdicts_b[r].shape)
        .collect();
    if discordant.is_empty() {
        let path = out.join(format.file("compare"));
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path)(e)),
            _ => Ok(None),
        };
    }
    let grid = ColorCube::rgb_grid().rgb_f32();
    let panel = |sweep: &Sweep, verdicts: &[Verdict], r: usize, label: &str| {
        (
            format!(
                "{label}: seed {}, {}",
                sweep.runs()[r].seed,
                verdicts[r].shape
            ),
            sweep.latents(r, &grid),
        )
    };
    // Seeds per row of pairs: twice as many panel rows as rows of pairs, so about
    // √(2 × seeds) columns make the picture roughly square.
    let columns = ((2.0 * discordant.len() as f64).sqrt().ceil() as usize).min(discordant.len());
    let pair_rows = discordant.len().div_ceil(columns);
    let cell = (8192 / columns).clamp(64, 240);
    let size = ((columns * cell) as u32, (2 * pair_rows * cell) as u32);
    let dims = sweep_a.latent_dims();
    let figure = write_figure(out, "compare", format, size, |s, whole| {
        // The background, under any unfilled cells of the last row.
        plot::contact_sheet(s, whole, &[], dims, &grid, 1);
        for (row, seeds) in discordant.chunks(columns).enumerate() {
            // A's panels, then B's: a row of each, `seeds.len()` wide.
            let panels: Vec<(String, Vec<f32>)> = (seeds.iter())
                .map(|&r| panel(sweep_a, verdicts_a, r, "A"))
                .chain(seeds.iter().map(|&r| panel(sweep_b, verdicts_b, r, "B")))
                .collect();
            let area = Rect::new(
                0.0,
                (2 * row * cell) as f32,
                (seeds.len() * cell) as f32,
                (2 * cell) as f32,
            );
            plot::contact_sheet(s, area, &panels, dims, &grid, seeds.len());
        }
    })?;
    Ok(Some(figure))
}
