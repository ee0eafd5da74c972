//! Training speed on the CPU: steps/s for each ex-1.5 phase at batch 256 and the wall time
//! of the whole curriculum, through Burn's operations (`Trainer`, the reference) and through
//! the fused step (`Sweep`), then run-steps/s of sweeps of R = 1, 8, 64, 256 seeds.
//! `cargo bench` prints the tables; compare ratios within a run, this machine is noisy.

use std::time::Instant;

use burn::prelude::*;
use color_bottleneck::dopesheet::{Dopesheet, EX_1_5};
use color_bottleneck::sweep::{Sweep, SweepConfig};
use color_bottleneck::timeline::Timeline;
use color_bottleneck::train::{Trainer, TrainerConfig};

fn trainer(check_total_on_host: bool) -> Trainer {
    let timeline = Timeline::new(&Dopesheet::parse(EX_1_5).unwrap());
    let config = TrainerConfig {
        check_total_on_host,
        ..TrainerConfig::default()
    };
    Trainer::new(timeline, config, &Device::flex()).unwrap()
}

fn sweep(runs: usize, batch_size: usize) -> Sweep {
    let timeline = Timeline::new(&Dopesheet::parse(EX_1_5).unwrap());
    let config = SweepConfig {
        first_seed: 0,
        runs,
        latent_dims: 4,
        batch_size,
    };
    Sweep::new(timeline, config).unwrap()
}

/// The whole ex-1.5 curriculum for R seeds at once with the fused step, on every core.
fn sweeps() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("ex-1.5 curriculum, fused CPU step, batch 256, {threads} threads\n");
    println!(
        "{:>6} {:>12} {:>16} {:>16}",
        "runs", "wall s", "run-steps/s", "s per run"
    );
    for runs in [1, 8, 64, 256] {
        let mut s = sweep(runs, 256);
        let start = Instant::now();
        s.finish(threads, &|_| {});
        let secs = start.elapsed().as_secs_f64();
        let run_steps = runs as f64 * s.timeline().len() as f64;
        println!(
            "{runs:>6} {secs:>12.2} {:>16.0} {:>16.3}",
            run_steps / secs,
            secs / runs as f64
        );
    }
}

/// Runs to the end, timing each phase. Returns (phase, steps, seconds) and the total.
fn run(check_total_on_host: bool, read_losses: bool) -> (Vec<(String, u64, f64)>, f64) {
    let mut t = trainer(check_total_on_host);
    let mut phases: Vec<(String, u64, f64)> = Vec::new();
    let start = Instant::now();
    let mut phase_start = Instant::now();
    let mut steps = 0;
    while !t.is_finished() {
        let report = t.step().unwrap();
        if read_losses {
            report.read_losses().unwrap();
        }
        steps += 1;
        let span = &t.timeline().phases()[report.phase_index];
        if report.step == span.end {
            phases.push((
                span.name.clone(),
                steps,
                phase_start.elapsed().as_secs_f64(),
            ));
            steps = 0;
            phase_start = Instant::now();
        }
    }
    (phases, start.elapsed().as_secs_f64())
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then just smoke-test.
    if !std::env::args().any(|a| a == "--bench") {
        let mut t = trainer(true);
        for _ in 0..10 {
            t.step().unwrap();
        }
        let mut s = sweep(2, 64);
        for _ in 0..10 {
            s.step();
        }
        return;
    }
    sweeps();
    println!();
    println!("ex-1.5 curriculum, flex (CPU) backend, batch 256\n");
    println!(
        "{:<34} {:>22} {:>10} {:>10}",
        "mode", "phase", "steps", "steps/s"
    );
    for (label, check, read) in [
        ("CLI (host check + read losses)", true, true),
        ("host check only", true, false),
        ("no reads (as on a GPU)", false, false),
    ] {
        let (phases, total) = run(check, read);
        for (name, steps, secs) in &phases {
            println!(
                "{label:<34} {name:>22} {steps:>10} {:>10.0}",
                *steps as f64 / secs
            );
        }
        println!(
            "{label:<34} {:>22} {:>10} {:>10.0}   wall {total:.2} s",
            "whole curriculum",
            20_001,
            20_001.0 / total
        );
    }
}
