//! End-to-end: the full ex-1.5 curriculum on the CPU backend must learn a colour wheel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use burn::prelude::*;
use color_bottleneck::data::ColorCube;
use color_bottleneck::dopesheet::{Dopesheet, EX_1_5};
use color_bottleneck::timeline::Timeline;
use color_bottleneck::train::{read_f32, Trainer, TrainerConfig};

struct Wheel {
    /// Angles (degrees) of R, Y, G, C, B, M in dims 0/1.
    angles: Vec<f64>,
    /// Counter-clockwise or clockwise gaps between consecutive hues, whichever way the
    /// wheel runs; `None` if the hues are not in order.
    gaps: Option<Vec<f64>>,
    mse: f64,
}

fn train(seed: u64) -> Trainer {
    let timeline = Timeline::new(&Dopesheet::parse(EX_1_5).unwrap());
    let config = TrainerConfig {
        seed,
        ..TrainerConfig::default()
    };
    let mut trainer = Trainer::new(timeline, config, &Device::flex()).unwrap();
    while !trainer.is_finished() {
        trainer.step().unwrap();
    }
    trainer
}

fn wheel(trainer: &Trainer) -> Wheel {
    let (_, latents) = trainer.infer(trainer.colors(&ColorCube::primaries()));
    let dims = latents.dims()[1];
    let z = read_f32(latents).unwrap();
    let angles: Vec<f64> = (0..6)
        .map(|i| {
            (z[i * dims + 1] as f64)
                .atan2(z[i * dims] as f64)
                .to_degrees()
        })
        .collect();
    let gaps_one_way = |sign: f64| -> Vec<f64> {
        (0..6)
            .map(|i| (sign * (angles[(i + 1) % 6] - angles[i])).rem_euclid(360.0))
            .collect()
    };
    let in_order = |g: &Vec<f64>| (g.iter().sum::<f64>() - 360.0).abs() < 1e-6;
    let gaps = [gaps_one_way(1.0), gaps_one_way(-1.0)]
        .into_iter()
        .find(in_order);

    let grid = ColorCube::rgb_grid();
    let (outputs, _) = trainer.infer(trainer.colors(&grid));
    let out = read_f32(outputs).unwrap();
    let expected = grid.rgb_f32();
    let mse = out
        .iter()
        .zip(&expected)
        .map(|(o, e)| ((o - e) as f64).powi(2))
        .sum::<f64>()
        / expected.len() as f64;
    Wheel { angles, gaps, mse }
}

fn is_wheel(w: &Wheel) -> bool {
    w.gaps
        .as_ref()
        .is_some_and(|g| g.iter().all(|gap| (gap - 60.0).abs() <= 5.0))
}

const SEEDS: u64 = 8;

/// Every seed's wheel, trained once for all the tests here, two runs at a time.
fn wheels() -> &'static [Wheel] {
    static WHEELS: OnceLock<Vec<Wheel>> = OnceLock::new();
    WHEELS.get_or_init(|| {
        let next = AtomicU64::new(0);
        let results = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| loop {
                    let seed = next.fetch_add(1, Ordering::SeqCst);
                    if seed >= SEEDS {
                        break;
                    }
                    let w = wheel(&train(seed));
                    results.lock().unwrap().push((seed, w));
                });
            }
        });
        let mut results = results.into_inner().unwrap();
        results.sort_by_key(|(seed, _)| *seed);
        results.into_iter().map(|(_, w)| w).collect()
    })
}

fn describe(seed: usize, w: &Wheel) -> String {
    let angles: Vec<i64> = w.angles.iter().map(|a| a.round() as i64).collect();
    format!(
        "seed {seed}: angles R,Y,G,C,B,M = {angles:?}, gaps {:?}, rgb-grid MSE {:.2e}",
        w.gaps, w.mse
    )
}

#[test]
fn default_seed_learns_a_colour_wheel() {
    let seed = TrainerConfig::default().seed as usize;
    let w = &wheels()[seed];
    assert!(is_wheel(w), "{}", describe(seed, w));
    assert!(w.mse < 1e-3, "{}", describe(seed, w));
}

/// The original crumples about 1 run in 4 (colours out of hue order), fixed in the first few
/// hundred steps of phase 1 by the random init. We hold the port to a similar rate: at most
/// 3 of 8 seeds crumpled, and every run that forms a wheel reconstructs well.
#[test]
fn most_seeds_learn_a_colour_wheel() {
    let wheels = wheels();
    let report: Vec<String> = wheels
        .iter()
        .enumerate()
        .map(|(s, w)| describe(s, w))
        .collect();
    let crumpled = wheels.iter().filter(|w| !is_wheel(w)).count();
    assert!(
        crumpled <= 3,
        "{crumpled} of {SEEDS} crumpled:\n{}",
        report.join("\n")
    );
    for (seed, w) in wheels.iter().enumerate().filter(|(_, w)| is_wheel(w)) {
        assert!(w.mse < 1e-3, "{}", describe(seed, w));
    }
}
