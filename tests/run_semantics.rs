//! What a step does (spec §2.7), on short curricula, through the CPU engine: a sweep of one
//! run, as `train` runs it.

mod common;
use common::{timeline, BLOW_UP, SKIPS};

use color_bottleneck::dopesheet::EX_1_5;
use color_bottleneck::run::RunSpec;
use color_bottleneck::run::{warnings_of, TrainError, Warning};
use color_bottleneck::step::loss::{PerTerm, Term};
use color_bottleneck::step::StepLosses;
use color_bottleneck::sweep::Sweep;

fn config(seed: u64) -> RunSpec {
    RunSpec {
        seed,
        runs: 1,
        latent_dims: 4,
        batch_size: 256,
    }
}

fn run(sheet: &str, seed: u64) -> Sweep {
    Sweep::new(timeline(sheet), config(seed)).unwrap()
}

/// One step of the run; what it computed.
fn step(s: &mut Sweep) -> StepLosses {
    s.step();
    s.runs()[0].last.expect("a step ran")
}

fn totals(s: &mut Sweep, steps: usize) -> Vec<f32> {
    (0..steps).map(|_| step(s).total).collect()
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
    let a = totals(&mut run(SHORT, 7), 61);
    let b = totals(&mut run(SHORT, 7), 61);
    let c = totals(&mut run(SHORT, 8), 61);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.iter().all(|l| l.is_finite() && *l > 0.0));
}

#[test]
fn each_phase_ends_on_its_own_validation_set() {
    let mut s = run(SHORT, 1);
    let ends: Vec<(u64, String, usize)> = (0..s.timeline().len())
        .filter_map(|step| {
            s.phase_end_set(step)
                .map(|(phase, colors)| (step, phase, colors.len() / 3))
        })
        .collect();
    // The primaries for the phase that trains on them, the RGB grid after.
    assert_eq!(
        ends,
        [
            (19, "Primary & secondary".to_string(), 6),
            (39, "All hues".to_string(), 1000),
            (60, "Full color space".to_string(), 1000),
        ]
    );
    let untrained = s.phase_end(0, 39).unwrap().latents;
    assert_eq!(untrained.len(), 1000 * 4);
    totals(&mut s, 40);
    let trained = s.phase_end(0, 39).unwrap().latents;
    assert_ne!(trained, untrained, "the snapshot is of the trained weights");
}

/// A step whose total is ≤ 0 is skipped whole: Adam's time counts only the updates.
#[test]
fn skipped_steps_do_not_count_as_updates() {
    let mut s = run(SKIPS, 4);
    let updated = (0..40).filter(|_| step(&mut s).updated).count();
    assert!((20..40).contains(&updated), "{updated} of 40 steps updated");
    assert_eq!(s.checkpoint(0).state.updates as usize, updated);
}

#[test]
fn only_weighted_terms_are_computed() {
    let mut s = run(SHORT, 1);
    // Step 0: everything but the anchor (blank until step 20, so held at 0 before it).
    assert_eq!(
        step(&mut s).computed,
        PerTerm([true, true, true, true, false])
    );
    for _ in 1..25 {
        step(&mut s);
    }
    let after_anchor = step(&mut s);
    assert!(
        after_anchor.computed[Term::Anchor],
        "anchor weight is 0.5 from step 25"
    );
    assert!(
        !after_anchor.computed[Term::Separation],
        "separation weight reached 0 at step 20"
    );
    assert!(
        after_anchor.terms[Term::Anchor] > 0.0,
        "the model moved since the anchor was captured"
    );
}

#[test]
fn no_weighted_term_means_no_update() {
    let mut s = run(
        "STEP,PHASE,ACTION,lr,loss-recon\n0,Primary,,0.1,0\n5,,,,\n",
        3,
    );
    let before = s.parameters(0);
    while !s.is_finished() {
        let r = step(&mut s);
        assert!(!r.updated);
        assert_eq!(r.total, 0.0);
    }
    assert_eq!(before, s.parameters(0));
}

#[test]
fn negative_total_skips_the_update() {
    let mut s = run(
        "STEP,PHASE,ACTION,lr,loss-recon\n0,Primary,,0.1,-1\n5,,,,\n",
        3,
    );
    let before = s.parameters(0);
    let r = step(&mut s);
    assert!(r.total < 0.0);
    assert!(!r.updated, "the notebook only steps when the total is > 0");
    assert_eq!(before, s.parameters(0));
}

/// The one rule for a non-finite loss: at step t the run goes back to the weights step t−1
/// started from, whose loss was finite, and says where and why.
#[test]
fn a_blow_up_goes_back_to_the_previous_steps_start_with_a_located_error() {
    let mut s = run(BLOW_UP, 0);
    let mut starts = Vec::new();
    let err = loop {
        starts.push(s.parameters(0));
        s.step();
        if let Some(e) = &s.runs()[0].failure {
            break e.clone();
        }
        assert!(!s.is_finished(), "a 1e30 learning rate must blow up");
    };
    let TrainError::NonFiniteLoss { step, .. } = &err else {
        panic!("unexpected error {err:?}");
    };
    let failed_at = *step as usize;
    assert!(failed_at >= 1);
    let now = s.parameters(0);
    assert_eq!(now, starts[failed_at - 1]);
    assert!(now.iter().all(|v| v.is_finite()));
    assert!(
        err.to_string()
            .contains("the run is back at its last weights whose loss was finite"),
        "{err}"
    );
}

#[test]
fn unknown_columns_and_actions_are_reported_once() {
    let sheet = "STEP,PHASE,ACTION,lr,loss-recon,wobble\n0,Primary,dance,0.01,1,1\n5,,dance,,,\n9,,\" anchor\",,,\n";
    assert_eq!(
        warnings_of(&timeline(sheet)),
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
fn values_that_train_otherwise_than_written_are_named_once_per_property() {
    let sheet = "STEP,PHASE,ACTION,lr,loss-recon,reg-norm,data-fraction\n\
                 0,Cube,,0.01,1,0.1,0.5\n\
                 5,,,-0.01,,-0.2,5\n\
                 9,,,-0.02,,-0.3,-1\n";
    let warnings = warnings_of(&timeline(sheet));
    let text: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "lr -0.01 at step 5 is below 0: the steps climb the loss instead of descending it",
            "reg-norm -0.2 at step 5 is below 0: that term's loss is rewarded, not penalised",
            "data-fraction 5 at step 5 is outside 0 to 1; it counts as 1",
        ]
    );
    assert_eq!(
        warnings_of(&timeline(
            "STEP,PHASE,ACTION,lr,loss-recon\n0,Cube,,0.01,0\n9,,,,\n"
        )),
        [Warning::NothingToTrain]
    );
    assert_eq!(
        warnings_of(&timeline("STEP,PHASE,ACTION,lr\n0,Cube,,0.01\n9,,,\n")),
        [Warning::NothingToTrain],
        "a sheet that keys only lr"
    );
    let ex = color_bottleneck::dopesheet::EX_1_5;
    assert_eq!(
        warnings_of(&timeline(ex)),
        [],
        "the seed's sheet is as written"
    );
}

#[test]
fn a_finished_run_takes_no_more_steps() {
    let mut s = run(
        "STEP,PHASE,ACTION,lr,loss-recon\n0,Primary,,0.01,1\n2,,,,\n",
        0,
    );
    for _ in 0..3 {
        s.step();
    }
    assert!(s.is_finished());
    let done = s.parameters(0);
    s.step();
    assert_eq!(s.step_index(), 3);
    assert_eq!(done, s.parameters(0));
}

#[test]
fn bad_configuration_is_an_error_not_a_panic() {
    let ex = timeline(EX_1_5);
    let narrow = RunSpec {
        latent_dims: 1,
        ..config(1)
    };
    assert!(matches!(
        Sweep::new(ex.clone(), narrow),
        Err(TrainError::Setting(e)) if e.name == "latent-dims"
    ));
    let empty = RunSpec {
        batch_size: 0,
        ..config(1)
    };
    assert!(matches!(
        Sweep::new(ex, empty),
        Err(TrainError::Setting(e)) if e.name == "batch-size"
    ));
}

#[test]
fn live_schedule_swap_keeps_the_model_and_step() {
    let mut s = run(SHORT, 2);
    totals(&mut s, 10);
    let before = s.parameters(0);
    let other = SHORT.replace("0.01,1,0.1", "0.05,1,0.1");
    let swapped = timeline(&other);
    let lr_then = swapped.value(swapped.property_index("lr").unwrap(), 10);
    assert!(lr_then > 0.04, "the new sheet's lr is in force: {lr_then}");
    s.set_timeline(swapped);
    assert_eq!(s.step_index(), 10);
    assert_eq!(before, s.parameters(0));
    // The same step under the old sheet moves the weights less.
    let mut old = run(SHORT, 2);
    totals(&mut old, 11);
    step(&mut s);
    let moved = |after: &[f32]| -> f32 {
        (after.iter().zip(&before))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    };
    assert!(moved(&s.parameters(0)) > moved(&old.parameters(0)));
}

#[test]
fn three_dimensional_bottleneck_trains() {
    let three = RunSpec {
        latent_dims: 3,
        ..config(1)
    };
    let mut s = Sweep::new(timeline(SHORT), three).unwrap();
    assert!(totals(&mut s, 61).iter().all(|l| l.is_finite()));
    assert_eq!(s.infer(0, &[0.5; 3000]).1.len(), 1000 * 3);
}
