//! End-to-end: the full ex-1.5 curriculum on the CPU backend must learn a colour wheel.

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

#[test]
fn explore_seeds() {
    for seed in 0..8 {
        let t = train(seed);
        let w = wheel(&t);
        println!(
            "seed {seed}: angles {:?} gaps {:?} mse {:.2e} wheel {}",
            w.angles.iter().map(|a| a.round()).collect::<Vec<_>>(),
            w.gaps,
            w.mse,
            is_wheel(&w)
        );
    }
}

#[test]
fn explore_phase1() {
    for seed in [0, 3, 4, 1] {
        let timeline = Timeline::new(&Dopesheet::parse(EX_1_5).unwrap());
        let config = TrainerConfig {
            seed,
            ..TrainerConfig::default()
        };
        let mut t = Trainer::new(timeline, config, &Device::flex()).unwrap();
        for s in 0..10000 {
            t.step().unwrap();
            if [0, 300, 1000, 2000, 2999, 5000, 9999].contains(&s) {
                let w = wheel(&t);
                println!(
                    "seed {seed} step {s}: angles {:?} ordered {}",
                    w.angles.iter().map(|a| a.round()).collect::<Vec<_>>(),
                    w.gaps.is_some()
                );
            }
        }
    }
}
