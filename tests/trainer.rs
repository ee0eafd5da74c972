//! The trainer's step semantics (spec §2.7) on short curricula.

use burn::prelude::*;
use color_bottleneck::dopesheet::{Dopesheet, EX_1_5};
use color_bottleneck::loss::{PerTerm, Term};
use color_bottleneck::timeline::Timeline;
use color_bottleneck::train::{read_f32, Event, TrainError, Trainer, TrainerConfig, Warning};

fn trainer(sheet: &str, seed: u64) -> Trainer {
    let timeline = Timeline::new(&Dopesheet::parse(sheet).unwrap());
    Trainer::new(
        timeline,
        TrainerConfig {
            seed,
            ..TrainerConfig::default()
        },
        &Device::flex(),
    )
    .unwrap()
}

fn run_losses(t: &mut Trainer, steps: usize) -> Vec<f32> {
    (0..steps)
        .map(|_| t.step().unwrap().read_losses().unwrap().total)
        .collect()
}

const SHORT: &str =
    "STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-planar,reg-norm,reg-anchor,data-fraction
0,Primary & secondary,,0.01,1,0.1,0.2,0.1,,
20,All hues,anchor,,,0,,,0,0
25,,,,,,,,0.5,
40,Full color space,,,,,,,,1
60,,,0.001,,,,,,
";

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let a = run_losses(&mut trainer(SHORT, 7), 61);
    let b = run_losses(&mut trainer(SHORT, 7), 61);
    let c = run_losses(&mut trainer(SHORT, 8), 61);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.iter().all(|l| l.is_finite() && *l > 0.0));
}

#[test]
fn events_arrive_in_reference_order() {
    let mut t = trainer(SHORT, 1);
    let mut seen = Vec::new();
    while !t.is_finished() {
        for e in t.step().unwrap().events {
            seen.push(match e {
                Event::PhaseStart { step, phase } => format!("start {step} {phase}"),
                Event::Action { step, action } => format!("action {step} {action}"),
                Event::PhaseEnd {
                    step,
                    phase,
                    colors,
                    latents,
                    outputs,
                } => {
                    // The phase's validation set: the primaries for the phase that trains on
                    // them, the RGB grid after.
                    let rows = if phase.starts_with("Primary") {
                        6
                    } else {
                        1000
                    };
                    assert_eq!(colors.len(), rows);
                    assert_eq!(latents.dims(), [rows, 4]);
                    assert_eq!(outputs.dims(), [rows, 3]);
                    format!("end {step} {phase}")
                }
            });
        }
    }
    assert_eq!(
        seen,
        [
            "start 0 Primary & secondary",
            "end 19 Primary & secondary",
            "start 20 All hues",
            "action 20 anchor",
            "end 39 All hues",
            "start 40 Full color space",
            "end 60 Full color space"
        ]
    );
}

#[test]
fn only_weighted_terms_are_computed() {
    let mut t = trainer(SHORT, 1);
    let first = t.step().unwrap();
    // Step 0: everything but the anchor (blank until step 20, so held at 0 before it).
    assert_eq!(first.computed(), PerTerm([true, true, true, true, false]));
    for _ in 1..25 {
        t.step().unwrap();
    }
    let after_anchor = t.step().unwrap();
    assert_eq!(after_anchor.step, 25);
    assert!(
        after_anchor.computed()[Term::Anchor],
        "anchor weight is 0.5 from step 25"
    );
    assert!(
        !after_anchor.computed()[Term::Separation],
        "separation weight reached 0 at step 20"
    );
    let losses = after_anchor.read_losses().unwrap();
    assert!(
        losses.terms[Term::Anchor].unwrap() > 0.0,
        "the model moved since the anchor was captured"
    );
}

#[test]
fn no_weighted_term_means_no_update() {
    let sheet = "STEP,PHASE,ACTION,lr,loss-recon\n0,Primary,,0.1,0\n5,,,,\n";
    let mut t = trainer(sheet, 3);
    let (_, before) = t.infer_rgb_grid();
    let before = read_f32(before).unwrap();
    while !t.is_finished() {
        let r = t.step().unwrap();
        assert!(!r.updated);
        assert_eq!(r.read_losses().unwrap().total, 0.0);
    }
    let (_, after) = t.infer_rgb_grid();
    assert_eq!(before, read_f32(after).unwrap());
}

#[test]
fn negative_total_skips_the_update() {
    let sheet = "STEP,PHASE,ACTION,lr,loss-recon\n0,Primary,,0.1,-1\n5,,,,\n";
    let mut t = trainer(sheet, 3);
    let r = t.step().unwrap();
    assert!(r.read_losses().unwrap().total < 0.0);
    assert!(!r.updated, "the reference only steps when the total is > 0");
}

/// Without a host read-back (the GPU path) the skip rule is a mask on the device: steps whose
/// total is <= 0 (or NaN) leave the weights and Adam's state alone, and the run is the one the
/// host-checked trainer makes.
#[test]
fn the_skip_rule_holds_on_the_device_without_a_read_back() {
    let sheet =
        "STEP,PHASE,ACTION,lr,loss-recon\n0,Cube,,0.01,1\n10,,,,-1\n19,,,,-1\n20,,,,1\n30,,,,\n";
    let run = |check_total_on_host| {
        let timeline = Timeline::new(&Dopesheet::parse(sheet).unwrap());
        let config = TrainerConfig {
            seed: 4,
            batch_size: 32,
            check_total_on_host,
            ..TrainerConfig::default()
        };
        let mut t = Trainer::new(timeline, config, &Device::flex()).unwrap();
        let mut totals = Vec::new();
        let mut params = Vec::new();
        while !t.is_finished() {
            totals.push(t.step().unwrap().read_losses().unwrap().total);
            params.push(read_f32(t.model().parameters_flat()).unwrap());
        }
        (totals, params, t.checkpoint().unwrap().state.updates)
    };
    let (host_totals, host_params, host_updates) = run(true);
    let (device_totals, device_params, device_updates) = run(false);
    // Steps 6 to 19 have a negative total (loss-recon ramps from 1 to -1 and back): on
    // either path nothing moves on those steps, and only the others count as Adam updates.
    let skipped: Vec<usize> = (0..device_totals.len())
        .filter(|&s| device_totals[s] <= 0.0)
        .collect();
    assert_eq!(skipped, (6..20).collect::<Vec<_>>());
    for &step in &skipped {
        assert_eq!(
            device_params[step],
            device_params[step - 1],
            "step {step} moved"
        );
    }
    assert_ne!(device_params[25], device_params[19]);
    let taken = (device_totals.len() - skipped.len()) as i32;
    assert_eq!(host_updates, taken);
    assert_eq!(
        device_updates, taken,
        "masked steps must not count as Adam updates"
    );
    for (step, (a, b)) in host_totals.iter().zip(&device_totals).enumerate() {
        assert!(
            (a - b).abs() <= 1e-6 * (1.0 + a.abs()),
            "step {step}: {a} vs {b}"
        );
    }
    let last = host_params.len() - 1;
    let apart = (host_params[last].iter().zip(&device_params[last]))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(apart <= 1e-6, "the two paths' weights differ by {apart}");
}

#[test]
fn exploding_loss_stops_with_a_located_error() {
    let sheet = "STEP,PHASE,ACTION,lr,loss-recon,reg-norm\n0,Primary,,1e30,1,1\n100,,,,,\n";
    let mut t = trainer(sheet, 0);
    let err = loop {
        match t.step() {
            Ok(_) => assert!(!t.is_finished(), "a 1e30 learning rate must blow up"),
            Err(e) => break e,
        }
    };
    match &err {
        TrainError::NonFiniteLoss { step, .. } => assert!(*step < 100),
        other => panic!("unexpected error {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("the run is back at its last weights whose loss was finite"),
        "{err}"
    );
}

/// The one rule for a non-finite loss: at step t, the trainer goes back to the weights step
/// t−1 started from, as the sweep does (tests/conformance.rs holds the sweep to the oracle).
#[test]
fn a_blow_up_takes_the_trainer_back_to_the_previous_steps_start() {
    let sheet =
        "STEP,PHASE,ACTION,lr,loss-recon,reg-norm\n0,Cube,,0.01,1,0.1\n+0.5,,,1e30,,\n40,,,,,\n";
    let mut t = trainer(sheet, 0);
    let mut starts = Vec::new();
    let failed_at = loop {
        starts.push(read_f32(t.model().parameters_flat()).unwrap());
        match t.step() {
            Ok(_) => assert!(!t.is_finished(), "a 1e30 learning rate must blow up"),
            Err(TrainError::NonFiniteLoss { step, .. }) => break step as usize,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    };
    assert!(failed_at >= 1);
    let now = read_f32(t.model().parameters_flat()).unwrap();
    assert_eq!(now, starts[failed_at - 1]);
    assert!(now.iter().all(|v| v.is_finite()));
}

#[test]
fn unknown_columns_and_actions_are_reported_once() {
    let sheet = "STEP,PHASE,ACTION,lr,loss-recon,wobble\n0,Primary,dance,0.01,1,1\n5,,dance,,,\n9,,\" anchor\",,,\n";
    let t = trainer(sheet, 0);
    assert_eq!(
        t.warnings(),
        [
            Warning::UnknownProperty("wobble".into()),
            Warning::UnknownAction {
                step: 0,
                action: "dance".into()
            },
            Warning::UnknownAction {
                step: 9,
                action: " anchor".into()
            },
        ]
    );
}

#[test]
fn finished_trainer_refuses_to_step() {
    let mut t = trainer(
        "STEP,PHASE,ACTION,lr,loss-recon\n0,Primary,,0.01,1\n2,,,,\n",
        0,
    );
    for _ in 0..3 {
        t.step().unwrap();
    }
    assert!(matches!(t.step(), Err(TrainError::Finished(3))));
}

#[test]
fn bad_configuration_is_an_error_not_a_panic() {
    let timeline = Timeline::new(&Dopesheet::parse(EX_1_5).unwrap());
    let config = TrainerConfig {
        latent_dims: 1,
        ..TrainerConfig::default()
    };
    assert!(matches!(
        Trainer::new(timeline.clone(), config, &Device::flex()),
        Err(TrainError::LatentDims { .. })
    ));
    let config = TrainerConfig {
        batch_size: 0,
        ..TrainerConfig::default()
    };
    assert!(matches!(
        Trainer::new(timeline, config, &Device::flex()),
        Err(TrainError::BatchSize { .. })
    ));
}

#[test]
fn live_schedule_swap_keeps_the_model_and_step() {
    let mut t = trainer(SHORT, 2);
    run_losses(&mut t, 10);
    let (_, before) = t.infer_rgb_grid();
    let other = SHORT.replace("0.01,1,0.1", "0.05,1,0.1");
    let swapped = Timeline::new(&Dopesheet::parse(&other).unwrap());
    let lr_then = swapped.value(swapped.property_index("lr").unwrap(), 10);
    t.set_timeline(swapped);
    assert_eq!(t.step_index(), 10);
    let (_, after) = t.infer_rgb_grid();
    assert_eq!(read_f32(before).unwrap(), read_f32(after).unwrap());
    assert!(lr_then > 0.04, "the new sheet's lr is in force: {lr_then}");
    assert_eq!(t.step().unwrap().lr, lr_then);
}

#[test]
fn three_dimensional_bottleneck_trains() {
    let timeline = Timeline::new(&Dopesheet::parse(SHORT).unwrap());
    let config = TrainerConfig {
        latent_dims: 3,
        ..TrainerConfig::default()
    };
    let mut t = Trainer::new(timeline, config, &Device::flex()).unwrap();
    let losses = run_losses(&mut t, 61);
    assert!(losses.iter().all(|l| l.is_finite()));
    assert_eq!(t.infer_rgb_grid().1.dims(), [1000, 3]);
}
