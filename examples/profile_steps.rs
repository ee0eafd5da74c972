//! Runs a fixed number of the CPU engine's training steps of the ex-1.5 curriculum from a
//! given step, for
//! profilers (`valgrind --tool=callgrind`, `perf`): `cargo run --release --example
//! profile_steps -- [FROM] [COUNT]`.

use color_bottleneck::dopesheet::{Dopesheet, EX_1_5};
use color_bottleneck::run::RunSpec;
use color_bottleneck::sweep::Sweep;
use color_bottleneck::timeline::Timeline;

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
    let config = RunSpec {
        seed: 1,
        runs: 1,
        latent_dims: 4,
        batch_size: 256,
    };
    let fresh = Sweep::new(timeline.clone(), config).unwrap();
    // Jump straight to `from` with the initial weights: the cost per step depends on the
    // phase, not on what the model has learnt.
    let mut checkpoint = fresh.checkpoint(0);
    checkpoint.step = from;
    let mut t = Sweep::resume_one(timeline, config, &checkpoint).unwrap();
    let start = std::time::Instant::now();
    for _ in 0..count {
        t.step();
    }
    eprintln!(
        "{count} steps from {from}: {:.1} µs/step",
        start.elapsed().as_secs_f64() * 1e6 / count as f64
    );
}
