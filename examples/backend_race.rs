//! Times ex-1.5 on each engine this build has, the way the page drives them: the CPU engine,
//! the plain-Burn oracle on Burn's flex backend (for scale), and (built with `--features
//! wgpu`) the GPU engine (one kernel a step for every run) for 1 to 1,024 runs, each with one
//! read-back per `FRAME` steps, as the page's frames do.
//! `cargo run --release --example backend_race [--features wgpu] -- [STEPS] [FRAME]`.
//!
//! `… -- targets [SECONDS]` times the GPU targets instead: the whole ex-1.5 for one run on the
//! fused CPU step and on the GPU engine, and for 1,024 runs on the GPU engine (each stopped
//! after SECONDS, default 240, with the whole curriculum's time projected from the steps
//! done). A GPU machine lent to a session has no Rust toolchain: `cargo xtask gpu-kit` packs
//! this program, built, with what it needs there.

use std::time::Instant;

#[cfg(feature = "wgpu")]
use burn::prelude::Device;
use color_bottleneck::data::ColorCube;
use color_bottleneck::dopesheet::{Dopesheet, EX_1_5};
use color_bottleneck::reference::Reference;
use color_bottleneck::run::RunSpec;
use color_bottleneck::sweep::Sweep;
use color_bottleneck::timeline::Timeline;

fn main() {
    if std::env::args().nth(1).as_deref() == Some("targets") {
        let seconds = std::env::args().nth(2).and_then(|a| a.parse().ok());
        targets(seconds.unwrap_or(240.0));
        return;
    }
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let timeline = Timeline::new(&Dopesheet::parse(EX_1_5).expect("ex-1.5 parses"));
    let steps = args
        .first()
        .copied()
        .unwrap_or(timeline.len())
        .min(timeline.len());
    let frame = args.get(1).copied().unwrap_or(50).max(1);
    let batch_size = RunSpec::default().batch_size;
    println!("ex-1.5, {steps} steps, batch {batch_size}, one read-back every {frame} steps");
    println!("| backend | runs | seconds | run-steps/s |");
    println!("|---|---|---|---|");

    for runs in [1usize, 16, 64] {
        let config = sweep_config(runs);
        let mut sweep = Sweep::new(timeline.clone(), config).expect("a valid sweep");
        // One thread, as in the page's worker.
        let start = Instant::now();
        while sweep.step_index() < steps {
            sweep.step();
        }
        report("fused CPU", runs, steps, start.elapsed().as_secs_f64());
    }

    // What the GPU engine leaves on the host: reading the timeline, and the sampler's tables
    // each time data-fraction moves (the runs draw their batches on the device). Timed for
    // 1,024 runs over 500 steps of phase 2, where data-fraction ramps, so the tables are
    // rebuilt every step.
    {
        let config = sweep_config(1024);
        let mut sweep = Sweep::new(timeline.clone(), config).expect("a valid sweep");
        while sweep.step_index() < 3000 {
            sweep.plan_step();
        }
        let start = Instant::now();
        let mut table_words = 0;
        for _ in 0..500 {
            sweep.plan_step();
            let tables = sweep.batch_distribution().tables();
            table_words += tables.iter().map(|t| t.len()).sum::<usize>();
        }
        let per_step = start.elapsed().as_secs_f64() / 500.0;
        println!(
            "host share of a 1,024-run GPU sweep: {:.1} µs a step ({:.2} s for ex-1.5's 17,001 \
             cube steps), {} bytes of sampler tables a step",
            per_step * 1e6,
            per_step * 17_001.0,
            table_words * 4 / 500
        );
    }

    #[cfg(feature = "wgpu")]
    {
        let gpu = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
        time_gpu("phase 1 (primaries)", &timeline, steps, frame, &gpu);
        let cube = Timeline::new(&Dopesheet::parse(CUBE_RAMP).expect("the cube sheet parses"));
        time_gpu(
            "cube batches, drawn on the device",
            &cube,
            steps,
            frame,
            &gpu,
        );
    }

    let config = RunSpec::default();
    let mut oracle = Reference::new(
        timeline.clone(),
        config.seed,
        config.latent_dims,
        config.batch_size,
    )
    .expect("the oracle");
    let grid = ColorCube::rgb_grid().rgb_f32();
    let start = Instant::now();
    while oracle.step_index() < steps {
        let report = oracle.step().expect("a step");
        if oracle.step_index().is_multiple_of(frame) {
            let (_, latents) = oracle.infer(&grid);
            assert!(report.total.is_finite() && latents.iter().all(|v| v.is_finite()));
        }
    }
    report(
        "oracle (plain Burn, flex)",
        1,
        steps,
        start.elapsed().as_secs_f64(),
    );
}

/// ex-1.5's second phase, whose batches are drawn from the cube as data-fraction ramps.
#[cfg(feature = "wgpu")]
const CUBE_RAMP: &str =
    "STEP,PHASE,ACTION,lr,loss-recon,reg-planar,reg-norm,reg-anchor,data-fraction
0,All hues,anchor,0.01,0.8,0.4,0.25,0.3,0.0
+1,,,,,,,,0.25
100000,,,,,,,,
";

/// The GPU engine for 1 to 1,024 runs over the first `steps` of `timeline`.
#[cfg(feature = "wgpu")]
fn time_gpu(what: &str, timeline: &Timeline, steps: u64, frame: u64, gpu: &Device) {
    for runs in [1usize, 16, 64, 256, 1024] {
        let config = sweep_config(runs);
        let mut sweep = color_bottleneck::gpu_step::GpuSweep::new(timeline.clone(), config, gpu)
            .expect("a GPU sweep");
        // Warm-up: the first steps compile the kernel.
        for _ in 0..2 {
            sweep.step();
        }
        sweep.read_blocking().expect("a read-back");
        let from = sweep.step_index();
        let start = Instant::now();
        while sweep.step_index() < steps {
            sweep.step();
            if sweep.step_index().is_multiple_of(frame) {
                sweep.read_blocking().expect("a read-back");
            }
        }
        sweep.read_blocking().expect("a read-back");
        let seconds = start.elapsed().as_secs_f64();
        // What a page frame reads of a sweep, with nothing left queued: the cost of a frame
        // beside the steps.
        let read = Instant::now();
        sweep.read_blocking().expect("a read-back");
        report(
            &format!(
                "fused GPU kernel, {what} (a read-back alone: {:.1} ms)",
                read.elapsed().as_secs_f64() * 1e3
            ),
            runs,
            steps - from,
            seconds,
        );
    }
}

/// The page's GPU targets, timed natively: the same kernel through wgpu (Vulkan here, where
/// Chromium's WebGPU runs on Dawn), with one read-back every 50 steps as the page's frames do.
fn targets(limit: f64) {
    let timeline = Timeline::new(&Dopesheet::parse(EX_1_5).expect("ex-1.5 parses"));
    let steps = timeline.len();
    println!("the whole ex-1.5 ({steps} steps, batch 256); each stopped after {limit} s");
    println!("| engine | runs | steps timed | seconds | whole curriculum, s |");
    println!("|---|---|---|---|---|");
    let config = sweep_config(1);
    let mut cpu = Sweep::new(timeline.clone(), config).expect("a valid sweep");
    let start = Instant::now();
    while !cpu.is_finished() && start.elapsed().as_secs_f64() < limit {
        cpu.step();
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu_whole = seconds * steps as f64 / cpu.step_index() as f64;
    let note = if cpu.is_finished() {
        ""
    } else {
        " (projected)"
    };
    println!(
        "| fused CPU step, one thread | 1 | {} | {seconds:.2} | {cpu_whole:.1}{note} |",
        cpu.step_index()
    );
    #[cfg(feature = "wgpu")]
    {
        let gpu = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
        let one = gpu_whole(&timeline, 1, limit, &gpu);
        let many = gpu_whole(&timeline, 1024, limit, &gpu);
        println!(
            "GPU, one run: {one:.1} s against {cpu_whole:.1} s on the CPU (target: no slower)"
        );
        println!("GPU, 1,024 runs: {many:.1} s (target: 60 s in Chromium)");
    }
    #[cfg(not(feature = "wgpu"))]
    println!("(built without --features wgpu: no GPU figures)");
}

/// The GPU engine's time for the whole of `timeline` with `runs` runs. Stopped after `limit`
/// seconds, the rest is projected: phase 1's steps (six colours) at the rate so far, the
/// cube's at the rate of [`CUBE_RAMP`] timed for up to `limit` seconds more.
#[cfg(feature = "wgpu")]
fn gpu_whole(timeline: &Timeline, runs: usize, limit: f64, gpu: &Device) -> f64 {
    let (done, seconds) = gpu_steps(timeline, runs, limit, gpu);
    let steps = timeline.len() - 1;
    if done >= steps {
        println!("| fused GPU kernel | {runs} | {done} | {seconds:.2} | {seconds:.1} |");
        return seconds;
    }
    let phase_1 = (0..timeline.len())
        .find(|&s| timeline.state(s).phase != timeline.state(0).phase)
        .unwrap_or(timeline.len())
        - 1;
    let cube = Timeline::new(&Dopesheet::parse(CUBE_RAMP).expect("the cube sheet parses"));
    let (cube_done, cube_seconds) = gpu_steps(&cube, runs, limit, gpu);
    let per_cube_step = cube_seconds / cube_done.max(1) as f64;
    let rest_of_phase_1 = phase_1.saturating_sub(done) as f64 * seconds / done.max(1) as f64;
    let rest = (steps - done.max(phase_1)) as f64 * per_cube_step;
    let whole = seconds + rest_of_phase_1 + rest;
    println!(
        "| fused GPU kernel | {runs} | {done} of ex-1.5, {cube_done} of cube batches | {:.2} | \
         {whole:.1} (projected) |",
        seconds + cube_seconds
    );
    whole
}

/// Steps of `timeline` the GPU engine trains in `limit` seconds (after a first step that
/// compiles the kernel, not counted), with a read-back every 50 steps: the steps and the
/// seconds.
#[cfg(feature = "wgpu")]
fn gpu_steps(timeline: &Timeline, runs: usize, limit: f64, gpu: &Device) -> (u64, f64) {
    let mut sweep =
        color_bottleneck::gpu_step::GpuSweep::new(timeline.clone(), sweep_config(runs), gpu)
            .expect("a GPU sweep");
    sweep.step();
    sweep.read_blocking().expect("a read-back");
    let start = Instant::now();
    while !sweep.is_finished() && start.elapsed().as_secs_f64() < limit {
        sweep.step();
        if sweep.step_index().is_multiple_of(50) {
            sweep.read_blocking().expect("a read-back");
        }
    }
    sweep.read_blocking().expect("a read-back");
    (sweep.step_index() - 1, start.elapsed().as_secs_f64())
}

/// Seeds 1 on, 4-D, at the trainer's batch size: what every row of the tables times.
fn sweep_config(runs: usize) -> RunSpec {
    RunSpec {
        seed: 1,
        runs,
        latent_dims: 4,
        batch_size: RunSpec::default().batch_size,
    }
}

fn report(name: &str, runs: usize, steps: u64, seconds: f64) {
    println!(
        "| {name} | {runs} | {seconds:.2} | {:.0} |",
        (runs as u64 * steps) as f64 / seconds
    );
}
