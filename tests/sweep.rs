//! The CPU engine's sweep: each run is the oracle's run of its seed, runs are independent of
//! each other and of threads, a checkpoint carries a run on, and a blow-up stops only its run.

mod common;
use common::{blow_up_config, max_difference, short_ex_1_5, timeline, BLOW_UP};

use color_bottleneck::dopesheet::EX_1_5;
use color_bottleneck::reference::Reference;
use color_bottleneck::run::RunSpec;
use color_bottleneck::step::loss::Term;
use color_bottleneck::step::RunState;
use color_bottleneck::sweep::Sweep;

/// Run r of a sweep is the oracle's run with that seed: losses every step and the
/// parameters (so every gradient and Adam update) within 1e-5, through the anchor action.
#[test]
fn each_run_of_a_sweep_is_the_reference_run_of_its_seed() {
    let config = RunSpec {
        seed: 3,
        runs: 3,
        latent_dims: 4,
        batch_size: 64,
    };
    let mut sweep = Sweep::new(timeline(&short_ex_1_5(200, 499)), config).unwrap();
    let mut oracles: Vec<Reference> = (0..config.runs as u64)
        .map(|r| {
            let seed = config.seed + r;
            Reference::new(
                timeline(&short_ex_1_5(200, 499)),
                seed,
                4,
                config.batch_size,
            )
            .unwrap()
        })
        .collect();
    let mut worst_params = 0.0f32;
    while !sweep.is_finished() {
        let step = sweep.step_index();
        sweep.step();
        for (r, oracle) in oracles.iter_mut().enumerate() {
            let reference = oracle.step().unwrap();
            let fused = sweep.runs()[r].last.unwrap();
            let scale = 1.0 + reference.total.abs();
            assert!(
                (fused.total - reference.total).abs() <= 1e-5 * scale,
                "run {r} step {step}: total {} vs reference {}",
                fused.total,
                reference.total
            );
            for term in Term::ALL {
                let expected = reference.terms[term].unwrap_or(0.0);
                assert!(
                    (fused.terms[term] - expected).abs() <= 1e-5 * (1.0 + expected.abs()),
                    "run {r} step {step} {term}: {} vs reference {expected}",
                    fused.terms[term]
                );
            }
            if step.is_multiple_of(50) || sweep.is_finished() {
                let params = oracle.parameters();
                let d = max_difference(&sweep.parameters(r), &params);
                worst_params = worst_params.max(d);
                assert!(d <= 1e-5, "run {r} step {step}: parameters differ by {d}");
            }
        }
    }
    // The anchor term was on after the action: the comparison reached it.
    assert!(sweep.runs()[0].last.unwrap().terms[Term::Anchor] > 0.0);
    eprintln!("largest parameter difference: {worst_params:e}");
}

/// A run moved after ex-1.5's anchor action (step 3,000), at step 3,100, as a lost GPU or a
/// hand-over between page workers moves it, goes on as if it had never moved. The checkpoint
/// carries the weights, Adam's moments, the anchor reference and the sampler; moving with the
/// weights alone lands measurably elsewhere.
#[test]
fn a_run_moved_after_the_anchor_matches_one_that_never_moved() {
    let ex_1_5 = timeline(EX_1_5);
    let config = RunSpec {
        seed: 1,
        runs: 1,
        latent_dims: 4,
        batch_size: 256,
    };
    let mut never = Sweep::new(ex_1_5.clone(), config).unwrap();
    while never.step_index() < 3_100 {
        never.step();
    }
    let checkpoint = never.checkpoint(0);
    assert_eq!(checkpoint.step, 3_100);
    assert_eq!(checkpoint.anchor.as_ref().map(Vec::len), Some(6 * 4));
    assert!(checkpoint.state.updates > 3_000);
    assert!(checkpoint.state.moment_2.iter().any(|&v| v > 0.0));

    let mut moved = Sweep::resume_one(ex_1_5.clone(), config, &checkpoint).unwrap();
    let mut weights_only = checkpoint.clone();
    weights_only.state = RunState::new(checkpoint.state.params.clone());
    weights_only.anchor = None;
    let mut naive = Sweep::resume_one(ex_1_5, config, &weights_only).unwrap();

    for _ in 0..200 {
        never.step();
        moved.step();
        naive.step();
        let (stayed, carried) = (never.runs()[0].last.unwrap(), moved.runs()[0].last.unwrap());
        assert!(stayed.terms[Term::Anchor] > 0.0);
        assert_eq!(carried, stayed);
        assert_eq!(naive.runs()[0].last.unwrap().terms[Term::Anchor], 0.0);
    }
    assert_eq!(moved.parameters(0), never.parameters(0));
    let lost = max_difference(&naive.parameters(0), &never.parameters(0));
    eprintln!("after 200 steps on: weights only {lost:e} away");
    assert!(lost > 1e-3, "weights only: {lost}");
}

/// Runs do not interact: run r of a sweep is bit for bit a sweep of that seed alone.
#[test]
fn runs_are_independent_of_each_other_and_of_threads() {
    let config = |seed, runs| RunSpec {
        seed,
        runs,
        latent_dims: 3,
        batch_size: 32,
    };
    let mut together = Sweep::new(timeline(&short_ex_1_5(200, 499)), config(10, 4)).unwrap();
    together.finish(2, &|_| {});
    for r in 0..4 {
        let mut alone =
            Sweep::new(timeline(&short_ex_1_5(200, 499)), config(10 + r as u64, 1)).unwrap();
        while !alone.is_finished() {
            alone.step();
        }
        assert_eq!(together.parameters(r), alone.parameters(0), "run {r}");
    }
}

/// A single run whose batches are drawn ahead on another thread is the run that draws its
/// own, bit for bit: through phase 1, the anchor action and a data-fraction ramp, with the
/// prefetch started at step 0 or midway, and on after Apply live (which stops it).
#[cfg(not(target_family = "wasm"))]
#[test]
fn batches_drawn_ahead_make_the_same_run() {
    let sheet = short_ex_1_5(200, 699);
    let config = RunSpec {
        seed: 7,
        runs: 1,
        latent_dims: 4,
        batch_size: 64,
    };
    let sweep = || Sweep::new(timeline(&sheet), config).unwrap();
    let (mut drawn, mut ahead, mut late) = (sweep(), sweep(), sweep());
    ahead.prefetch_batches();
    while !drawn.is_finished() {
        let step = drawn.step_index();
        if step == 333 {
            late.prefetch_batches();
        }
        if step == 600 {
            for s in [&mut drawn, &mut ahead, &mut late] {
                s.set_timeline(timeline(&short_ex_1_5(100, 699)));
            }
        }
        for s in [&mut drawn, &mut ahead, &mut late] {
            s.step();
        }
        assert_eq!(ahead.runs()[0].last, drawn.runs()[0].last, "step {step}");
        assert_eq!(late.runs()[0].last, drawn.runs()[0].last, "step {step}");
        assert_eq!(ahead.is_prefetching(), step < 600, "step {step}");
        assert_eq!(
            late.is_prefetching(),
            (333..600).contains(&step),
            "step {step}"
        );
    }
    assert_eq!(ahead.state(0), drawn.state(0));
    assert_eq!(late.state(0), drawn.state(0));
    assert_eq!(ahead.batch_distribution(), drawn.batch_distribution());
}

/// `finish` on two threads with one run draws the batches on the second: the same run.
#[test]
fn one_run_finished_on_two_threads_is_the_run_on_one() {
    let config = RunSpec {
        seed: 11,
        runs: 1,
        latent_dims: 4,
        batch_size: 32,
    };
    let sweep = || Sweep::new(timeline(&short_ex_1_5(150, 499)), config).unwrap();
    let (mut one, mut two) = (sweep(), sweep());
    one.finish(1, &|_| {});
    let done = std::sync::atomic::AtomicU64::new(0);
    two.finish(2, &|n| done.store(n, std::sync::atomic::Ordering::Relaxed));
    assert!(two.is_finished());
    assert_eq!(done.into_inner(), 500, "progress counts every step");
    assert_eq!(two.state(0), one.state(0));
    assert_eq!(two.runs()[0].last, one.runs()[0].last);
}

#[test]
fn a_sweep_refuses_bad_sizes() {
    let bad = |runs, latent_dims, batch_size| {
        let config = RunSpec {
            seed: 0,
            runs,
            latent_dims,
            batch_size,
        };
        Sweep::new(timeline(&short_ex_1_5(200, 499)), config)
            .err()
            .unwrap()
            .to_string()
    };
    // The messages a bad attribute or link field gets for the same values.
    assert_eq!(
        bad(0, 4, 8),
        "runs=\"0\" is not a whole number from 1 to 4096"
    );
    assert_eq!(
        bad(1, 1, 8),
        "latent-dims=\"1\" is not a whole number from 2 to 64"
    );
    assert_eq!(
        bad(1, 4, 0),
        "batch-size=\"0\" is not a whole number from 1 to 65536"
    );
}

/// A step whose loss is not finite stops that run with a located message; the weights stay
/// as they were before it.
#[test]
fn a_non_finite_loss_stops_only_its_run() {
    let (sheet, config) = (BLOW_UP, blow_up_config());
    let mut sweep = Sweep::new(timeline(sheet), config).unwrap();
    sweep.finish(1, &|_| {});
    for run in sweep.runs() {
        let message = run
            .failure
            .as_ref()
            .expect("lr 1e30 blows up every run")
            .to_string();
        assert!(message.starts_with("step "), "{message}");
        assert!(
            message.contains(": loss-recon is NaN (total = NaN"),
            "{message}"
        );
    }
    for r in 0..2 {
        assert!(sweep.parameters(r).iter().all(|p| p.is_finite()));
    }
}

/// Runs of one block that go non-finite at different steps each go back to where the step
/// before the one that broke started, while the others train on; a run that breaks again
/// at once after Apply live stays there; after Apply live with a sane sheet each goes on as
/// it would alone, bit for bit.
#[test]
fn runs_that_fail_at_different_steps_each_roll_back_on_their_own() {
    let ramp = "STEP,PHASE,ACTION,lr:log,loss-recon,reg-norm\n\
        0,Cube,,0.01,1,0.1\n150,,,1e30,,\n400,,,,,\n";
    let still_broken = "STEP,PHASE,ACTION,lr,loss-recon,reg-norm\n0,Cube,,0.01,1,1e38\n400,,,,,\n";
    let calm = "STEP,PHASE,ACTION,lr,loss-recon,reg-norm\n0,Cube,,0.001,1,0.1\n400,,,,,\n";
    let config = |seed, runs| RunSpec {
        seed,
        runs,
        latent_dims: 4,
        batch_size: 16,
    };
    let runs = 6;
    let mut together = Sweep::new(timeline(ramp), config(0, runs)).unwrap();
    // The states before each step, and the step each run broke at.
    let mut before: Vec<Vec<RunState>> = Vec::new();
    let mut broke_at = vec![None; runs];
    for _ in 0..200 {
        let step = together.step_index();
        before.push((0..runs).map(|r| together.state(r)).collect());
        together.step();
        for (r, run) in together.runs().iter().enumerate() {
            if run.failure.is_some() && broke_at[r].is_none() {
                broke_at[r] = Some(step as usize);
            }
        }
    }
    let steps: std::collections::BTreeSet<_> = broke_at.iter().flatten().collect();
    assert!(
        steps.len() >= 2 && broke_at.iter().all(Option::is_some),
        "the ramp should break every run, at different steps: {broke_at:?}"
    );
    let rolled_back: Vec<RunState> = (0..runs)
        .map(|r| before[broke_at[r].unwrap() - 1][r].clone())
        .collect();
    for r in 0..runs {
        let broke = broke_at[r].unwrap();
        assert_eq!(
            together.state(r),
            rolled_back[r],
            "run {r}, broken at step {broke}"
        );
        assert_ne!(together.state(r), before[broke][r], "run {r}");
    }

    together.set_timeline(timeline(still_broken));
    together.step();
    for (r, state) in rolled_back.iter().enumerate() {
        assert!(together.runs()[r].failure.is_some(), "run {r}");
        assert_eq!(&together.state(r), state, "run {r}, broken again");
    }

    together.set_timeline(timeline(calm));
    for _ in 0..50 {
        together.step();
    }
    for r in 0..runs {
        let mut alone = Sweep::new(timeline(ramp), config(r as u64, 1)).unwrap();
        for _ in 0..200 {
            alone.step();
        }
        alone.set_timeline(timeline(still_broken));
        alone.step();
        alone.set_timeline(timeline(calm));
        for _ in 0..50 {
            alone.step();
        }
        assert_eq!(together.state(r), alone.state(0), "run {r}");
        assert!(together.runs()[r].failure.is_none(), "run {r}");
        assert!(together.parameters(r).iter().all(|p| p.is_finite()));
    }

    // The page pauses a run at the step that broke it: Apply live straight after, into a
    // sheet that breaks it again at once, leaves it where it went back to.
    let mut paused = Sweep::new(timeline(ramp), config(3, 1)).unwrap();
    let mut history = vec![paused.state(0)];
    while paused.runs()[0].failure.is_none() {
        paused.step();
        history.push(paused.state(0));
    }
    let went_back = history[history.len() - 3].clone();
    assert_eq!(paused.state(0), went_back);
    paused.set_timeline(timeline(still_broken));
    paused.step();
    assert!(paused.runs()[0].failure.is_some());
    assert_eq!(paused.state(0), went_back, "broken again straight after");
}
