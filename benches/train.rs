//! Training speed on the CPU: steps/s for each ex-1.5 phase at batch 256 and the wall time
//! of the whole curriculum through the plain-Burn oracle (`Reference`, for scale), then
//! run-steps/s of the CPU engine's sweeps of R = 1, 8, 64, 256 seeds.
//! `cargo bench` prints the tables; compare ratios within a run, this machine is noisy.

use std::time::Instant;

use color_bottleneck::dopesheet::{Dopesheet, EX_1_5};
use color_bottleneck::reference::Reference;
use color_bottleneck::run::RunSpec;
use color_bottleneck::sweep::Sweep;
use color_bottleneck::timeline::Timeline;

fn oracle() -> Reference {
    let timeline = Timeline::new(&Dopesheet::parse(EX_1_5).unwrap());
    Reference::new(timeline, 1, 4, 256).unwrap()
}

fn sweep(runs: usize, batch_size: usize) -> Sweep {
    let timeline = Timeline::new(&Dopesheet::parse(EX_1_5).unwrap());
    let config = RunSpec {
        seed: 0,
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

/// The oracle to the end, timing each phase. Returns (phase, steps, seconds) and the total.
fn run() -> (Vec<(String, u64, f64)>, f64) {
    let mut t = oracle();
    let mut phases: Vec<(String, u64, f64)> = Vec::new();
    let start = Instant::now();
    let mut phase_start = Instant::now();
    let mut steps = 0;
    while let Some(report) = t.step() {
        steps += 1;
        let state = t.timeline().state(report.step);
        if state.is_phase_end {
            phases.push((
                state.phase.to_string(),
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
        let mut t = oracle();
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
    println!("ex-1.5 curriculum, the oracle (plain Burn) on the flex backend, batch 256\n");
    println!("{:>22} {:>10} {:>10}", "phase", "steps", "steps/s");
    let (phases, total) = run();
    for (name, steps, secs) in &phases {
        println!("{name:>22} {steps:>10} {:>10.0}", *steps as f64 / secs);
    }
    println!(
        "{:>22} {:>10} {:>10.0}   wall {total:.2} s",
        "whole curriculum",
        20_001,
        20_001.0 / total
    );
}
