//! `train`: one run to the end, writing its losses as it goes, then its latents, geometry and
//! figures.

use super::*;

/// Rows of `phases.png`: 500 pixels each, 20,000 in all at most. A longer run keeps only the
/// last phase ends' latents.
const MAX_PHASE_ROWS: usize = 40;

/// The 36 hues' cosine-similarity matrix at each of the last phase ends: a row per hue,
/// `phase,step,hue,c0..c35` (hue i's similarity to hue j in column c{j}).
fn write_cosines(
    matrices: &std::collections::VecDeque<(String, u64, Geometry)>,
    path: &Path,
) -> Result<(), CliError> {
    let err = io(path);
    let mut w = BufWriter::new(File::create(path).map_err(&err)?);
    let n = crate::verdict::HUES;
    let columns: Vec<String> = (0..n).map(|j| format!("c{j}")).collect();
    writeln!(w, "phase,step,hue,{}", columns.join(",")).map_err(&err)?;
    for (phase, step, figures) in matrices {
        for (i, row) in figures.cosine.chunks(n).enumerate() {
            let cells: Vec<String> = row.iter().map(|c| format!("{c:.6}")).collect();
            writeln!(w, "{phase},{step},{i},{}", cells.join(",")).map_err(&err)?;
        }
    }
    w.flush().map_err(err)
}

pub(super) fn train(
    path: Option<&Path>,
    config: RunSpec,
    out: &Path,
    backend: Backend,
    video: Option<&Path>,
    format: FigureFormat,
    quiet: bool,
) -> Result<(), CliError> {
    let timeline = Timeline::new(&load(path)?);
    let (mut engine, warnings) =
        engine::engine(timeline, config, matches!(backend, Backend::Flex))?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    if let Some(path) = video {
        video::VideoFormat::of(path)?;
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    // Opened now: a path that cannot be written fails before the training, not after it.
    let video = match video {
        Some(path) => Some((path, File::create(path).map_err(io(path))?)),
        None => None,
    };
    let grid = ColorCube::rgb_grid().rgb_f32();
    let mut recorder = video
        .as_ref()
        .map(|_| Recorder::for_rgb_grid(engine.latent_dims()));

    // Streamed: a run of millions of steps holds one line at a time.
    let losses_path = out.join("losses.csv");
    let mut losses = BufWriter::new(File::create(&losses_path).map_err(io(&losses_path))?);
    let columns = Term::ALL.map(Term::column).join(",");
    writeln!(losses, "step,phase,lr,total,{columns}").map_err(io(&losses_path))?;

    let total_steps = engine.timeline().len();
    let bar = progress_bar(
        total_steps,
        quiet,
        "{bar:30} {pos}/{len} {per_sec} eta {eta} {msg}",
    );
    // Every phase end's geometry figures, streamed; the cosine matrices of the last ones.
    let geometry_path = out.join("geometry.csv");
    let mut geometry = BufWriter::new(File::create(&geometry_path).map_err(io(&geometry_path))?);
    writeln!(
        geometry,
        "phase,step,participation_ratio,winding,circulant_error"
    )
    .map_err(io(&geometry_path))?;
    let hues = ColorCube::hues(crate::verdict::HUES).rgb_f32();
    let mut matrices = std::collections::VecDeque::new();
    // Every phase end's participation ratio, for geometry.png's chart.
    let mut ratios: Vec<(u64, f64)> = Vec::new();
    // The last phase ends only: phases.png draws no more rows than that.
    let mut snapshots = std::collections::VecDeque::new();
    let mut phase_ends = 0usize;
    let started = Instant::now();
    while !engine.is_finished() {
        let step = engine.step_index();
        if let Some(recorder) = recorder.as_mut().filter(|r| r.wants(step)) {
            let (_, latents) = engine.infer(&grid)?;
            recorder.record(step, latents);
        }
        let record = engine.step()?;
        let phase = &engine.timeline().phases()[record.phase_index].name;
        write!(
            losses,
            "{},{},{},{}",
            record.step,
            csv_cell(phase),
            python_repr(record.lr),
            record.losses.total
        )
        .map_err(io(&losses_path))?;
        for term in record.losses.terms.0 {
            match term {
                Some(v) => write!(losses, ",{v}"),
                None => write!(losses, ","),
            }
            .map_err(io(&losses_path))?;
        }
        writeln!(losses).map_err(io(&losses_path))?;
        if let Some(snapshot) = record.phase_end {
            phase_ends += 1;
            let (_, latents) = engine.infer(&hues)?;
            let figures = Geometry::of_hues(&latents, engine.latent_dims());
            ratios.push((record.step, figures.participation_ratio));
            writeln!(
                geometry,
                "{},{},{},{},{}",
                csv_cell(phase),
                record.step,
                figures.participation_ratio,
                figures.winding,
                figures.circulant_error()
            )
            .map_err(io(&geometry_path))?;
            if snapshots.len() == MAX_PHASE_ROWS {
                snapshots.pop_front();
                matrices.pop_front();
            }
            snapshots.push_back(snapshot);
            matrices.push_back((csv_cell(phase).into_owned(), record.step, figures));
        }
        if record.step % 100 == 0 || engine.is_finished() {
            bar.set_position(record.step + 1);
            bar.set_message(format!(
                "{phase} lr {:.5} loss {:.4}",
                record.lr, record.losses.total
            ));
        }
    }
    bar.finish_and_clear();
    losses.flush().map_err(io(&losses_path))?;
    geometry.flush().map_err(io(&geometry_path))?;
    write_cosines(&matrices, &out.join("cosine.csv"))?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "trained {total_steps} steps in {seconds:.2} s ({:.0} steps/s, {})",
        total_steps as f64 / seconds,
        backend.describe()
    );

    let rgb_grid = ColorCube::rgb_grid();
    write_latents(engine.as_ref(), &rgb_grid, &out.join("latents.csv"))?;
    write_latents(
        engine.as_ref(),
        &ColorCube::hues(360),
        &out.join("hues.csv"),
    )?;

    if snapshots.len() < phase_ends {
        eprintln!(
            "note: phases.png shows the last {} of {phase_ends} phase ends",
            snapshots.len()
        );
    }
    let shown: Vec<PhaseSnapshot> = snapshots.into();
    // A 240-pixel label, then a 420-pixel panel for each pair of dims the model has.
    let pairs = plot::dim_pairs(engine.latent_dims()).len() as u32;
    let size = (240 + 420 * pairs, 500 * shown.len().max(1) as u32);
    let phases = write_figure(out, "phases", format, size, |s, area| {
        plot::phase_history(s, area, &shown)
    })?;
    let timeline = write_figure(out, "timeline", format, (1500, 700), |s, area| {
        plot::timeline_chart(s, area, engine.timeline());
    })?;
    // The hues' geometry at the last phase end, with the participation ratio at every one.
    let geometry_figure = match matrices.back() {
        Some((_, step, figures)) => {
            let name = write_figure(out, "geometry", format, (900, 420), |s, area| {
                plot::geometry_panel(s, area, figures, &ratios, total_steps, *step);
            })?;
            format!("{name}, ")
        }
        None => String::new(),
    };
    eprintln!(
        "wrote latents.csv, hues.csv, losses.csv, geometry.csv, cosine.csv, {phases}, \
         {geometry_figure}{timeline} to {}",
        out.display()
    );
    if let (Some((path, file)), Some(mut recorder)) = (video, recorder) {
        let (_, latents) = engine.infer(&grid)?;
        recorder.record_end(engine.step_index(), latents);
        video::write_video(&recorder, engine.latent_dims(), path, file, quiet)?;
    }
    Ok(())
}

/// `r,g,b,z0..z{E-1},out_r,out_g,out_b` for every colour of `cube`.
fn write_latents(engine: &dyn Engine, cube: &ColorCube, path: &Path) -> Result<(), CliError> {
    let (outputs, latents) = engine.infer(&cube.rgb_f32())?;
    let csv = crate::data::latents_csv(cube, &latents, &outputs, engine.latent_dims());
    std::fs::write(path, csv).map_err(io(path))
}
