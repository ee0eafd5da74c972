//! End-to-end: the full ex-1.5 curriculum must learn a colour wheel, judged by the one
//! definition in `verdict`.

use color_bottleneck::dopesheet::{Dopesheet, EX_1_5};
use color_bottleneck::reference::Reference;
use color_bottleneck::run::RunSpec;
use color_bottleneck::sweep::Sweep;
use color_bottleneck::timeline::Timeline;
use color_bottleneck::verdict::{probe_colors, Shape, Verdict};

fn ex_1_5() -> Timeline {
    Timeline::new(&Dopesheet::parse(EX_1_5).unwrap())
}

const SEEDS: usize = 8;

fn describe(seed: u64, v: &Verdict) -> String {
    let angles: Vec<i64> = v.primary_angles.iter().map(|a| a.round() as i64).collect();
    format!(
        "seed {seed}: {} — angles R,Y,G,C,B,M = {angles:?}, worst gap error {:?}°, rgb-grid MSE {:.2e}",
        v.shape, v.worst_gap_error, v.recon_mse
    )
}

/// The original crumples about 1 run in 4 (colours out of hue order), fixed early in phase 1
/// by the random init. We hold the port to a similar rate: at most 3 of 8 seeds crumpled, and
/// every wheel is even (gaps within 5° of 60°) and reconstructs well.
#[test]
fn most_seeds_learn_a_colour_wheel() {
    let config = RunSpec {
        seed: 0,
        runs: SEEDS,
        latent_dims: 4,
        batch_size: 256,
    };
    let mut sweep = Sweep::new(ex_1_5(), config).unwrap();
    sweep.finish(2, &|_| {});
    let verdicts = sweep.verdicts();
    let report: Vec<String> = (verdicts.iter().enumerate())
        .map(|(s, v)| describe(s as u64, v))
        .collect();
    let report = report.join("\n");
    let crumpled = verdicts
        .iter()
        .filter(|v| v.shape == Shape::Crumpled)
        .count();
    assert!(crumpled <= 3, "{crumpled} of {SEEDS} crumpled:\n{report}");
    let default = &verdicts[RunSpec::default().seed as usize];
    assert_eq!(default.shape, Shape::Wheel, "the default seed:\n{report}");
    for v in verdicts.iter().filter(|v| v.shape == Shape::Wheel) {
        assert!(v.worst_gap_error.unwrap() <= 5.0, "{report}");
        assert!(v.recon_mse < 1e-3, "{report}");
    }
}

/// The oracle (Burn's layers, autodiff and Adam) learns the wheel for the default seed too.
#[test]
fn the_oracle_learns_the_wheel_for_the_default_seed() {
    let config = RunSpec::default();
    let mut oracle =
        Reference::new(ex_1_5(), config.seed, config.latent_dims, config.batch_size).unwrap();
    while !oracle.is_finished() {
        oracle.step();
    }
    let (outputs, latents) = oracle.infer(&probe_colors().rgb_f32());
    let v = Verdict::judge(&latents, &outputs, config.latent_dims);
    assert_eq!(v.shape, Shape::Wheel, "{}", describe(config.seed, &v));
    assert!(
        v.worst_gap_error.unwrap() <= 5.0,
        "{}",
        describe(config.seed, &v)
    );
    assert!(v.recon_mse < 1e-3, "{}", describe(config.seed, &v));
}

/// Every run's verdict at the end of phase 1 (step 2,999), where the outcome is nearly
/// settled: over 256 seeds of ex-1.5, 247 kept their phase-1 verdict to the end.
fn crumpled_after_phase_1(sheet: &str, seeds: usize) -> usize {
    let timeline = Timeline::new(&Dopesheet::parse(sheet).unwrap());
    let config = RunSpec {
        seed: 0,
        runs: seeds,
        latent_dims: 4,
        batch_size: 256,
    };
    let mut sweep = Sweep::new(timeline, config).unwrap();
    while sweep.step_index() < 3_000 {
        sweep.step();
    }
    sweep
        .verdicts()
        .iter()
        .filter(|v| v.shape == Shape::Crumpled)
        .count()
}

/// The shipped robust curriculum crumples far less than ex-1.5 on the same seeds.
#[test]
fn the_robust_curriculum_crumples_less_than_ex_1_5() {
    let robust = include_str!("../dopesheets/ex-1.5-robust.csv");
    let (ex, better) = (
        crumpled_after_phase_1(EX_1_5, 64),
        crumpled_after_phase_1(robust, 64),
    );
    assert!(ex >= 10, "ex-1.5 crumples about 3 in 10 seeds: {ex}/64");
    assert!(better * 3 <= ex, "robust {better}/64 vs ex-1.5 {ex}/64");
}

/// `--until 3000` as a screen: over 64 seeds of ex-1.5, the verdict after phase 1 is the
/// final verdict for nearly every seed (247 of 256 over seeds 0–255).
#[test]
fn the_phase_1_verdict_predicts_the_final_one() {
    let config = RunSpec {
        seed: 0,
        runs: 64,
        latent_dims: 4,
        batch_size: 256,
    };
    let mut early = Sweep::new(ex_1_5().until(3_000), config).unwrap();
    let mut full = Sweep::new(ex_1_5(), config).unwrap();
    early.finish(2, &|_| {});
    full.finish(2, &|_| {});
    assert_eq!(early.step_index(), 3_000);
    let (early, full) = (early.verdicts(), full.verdicts());
    let agree = early
        .iter()
        .zip(&full)
        .filter(|(a, b)| a.shape == b.shape)
        .count();
    eprintln!("the phase-1 verdict is the final one for {agree} of 64 seeds");
    assert!(agree >= 58, "only {agree} of 64 agree");
    assert!(agree < 64 || full.iter().any(|v| v.shape == Shape::Crumpled));
}
