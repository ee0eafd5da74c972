//! Training speed on the CPU backend: steps/s for each ex-1.5 phase at batch 256, and the
//! wall time of the whole curriculum. `cargo bench` prints a table; compare ratios within a
//! run, this machine is noisy.

use std::time::Instant;

use burn::prelude::*;
use color_bottleneck::dopesheet::{Dopesheet, EX_1_5};
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
        return;
    }
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
