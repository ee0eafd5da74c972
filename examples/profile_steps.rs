//! Runs a fixed number of training steps of the ex-1.5 curriculum from a given step, for
//! profilers (`valgrind --tool=callgrind`, `perf`): `cargo run --release --example
//! profile_steps -- [FROM] [COUNT]`.

use burn::prelude::*;
use color_bottleneck::dopesheet::{Dopesheet, EX_1_5};
use color_bottleneck::timeline::Timeline;
use color_bottleneck::train::{Trainer, TrainerConfig};

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (from, count) = (
        args.first().copied().unwrap_or(0),
        args.get(1).copied().unwrap_or(1000),
    );
    let timeline = Timeline::new(&Dopesheet::parse(EX_1_5).unwrap());
    let config = TrainerConfig {
        check_total_on_host: false,
        ..TrainerConfig::default()
    };
    let mut t = Trainer::new(timeline, config, &Device::flex()).unwrap();
    // Jump straight to `from` with the initial weights: the cost per step depends on the
    // phase, not on what the model has learnt.
    let mut checkpoint = t.checkpoint().unwrap();
    checkpoint.step = from;
    let timeline = t.timeline().clone();
    t = Trainer::resume(timeline, t.config().clone(), &Device::flex(), &checkpoint).unwrap();
    let start = std::time::Instant::now();
    for _ in 0..count {
        t.step().unwrap();
    }
    eprintln!(
        "{count} steps from {from}: {:.1} µs/step",
        start.elapsed().as_secs_f64() * 1e6 / count as f64
    );
}
