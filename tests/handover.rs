//! A run handed from one engine to another goes on as if nothing had happened: the CPU
//! engine's checkpoint, as bytes, restores to the same runs bit for bit, whole or in the parts
//! a page's workers train (tests/gpu_step.rs holds the GPU engine to it within its tolerance).

mod common;
use common::{blow_up_config, short_ex_1_5, timeline, BLOW_UP};

use color_bottleneck::run::RunSpec;
use color_bottleneck::sweep::{split_runs, CheckpointError, Sweep, SweepCheckpoint};

fn config(runs: usize) -> RunSpec {
    RunSpec {
        seed: 11,
        runs,
        latent_dims: 3,
        batch_size: 24,
    }
}

fn steps(sweep: &mut Sweep, n: u64) {
    for _ in 0..n {
        sweep.step();
    }
}

/// Through the primaries, the anchor action, then the cube while data-fraction moves: saved at
/// each of those moments and restored, the runs train what they would have, bit for bit.
#[test]
fn a_restored_sweep_trains_what_the_sweep_it_came_from_would_have() {
    let sheet = short_ex_1_5(40, 160);
    let mut straight = Sweep::new(timeline(&sheet), config(3)).unwrap();
    steps(&mut straight, 160);
    let end = straight.save();
    for at in [0, 25, 41, 90] {
        let mut first = Sweep::new(timeline(&sheet), config(3)).unwrap();
        steps(&mut first, at);
        let bytes = first.save().to_bytes();
        let saved = SweepCheckpoint::from_bytes(&bytes).unwrap();
        assert_eq!(saved.step, at);
        assert_eq!(
            saved.runs.iter().filter(|r| r.anchor.is_some()).count(),
            if at > 40 { 3 } else { 0 },
            "the anchor reference travels once the action fired"
        );
        let mut resumed = Sweep::restore(timeline(&sheet), &saved).unwrap();
        assert_eq!(resumed.step_index(), at);
        steps(&mut resumed, 160 - at);
        assert_eq!(resumed.save(), end, "handed over at step {at}");
    }
}

/// A sweep shared among workers hands over a part each; joined, they are the whole sweep, and
/// a whole sweep split again restores as the parts.
#[test]
fn parts_join_into_the_whole_sweep_and_split_back() {
    let sheet = short_ex_1_5(30, 120);
    let mut whole = Sweep::new(timeline(&sheet), config(5)).unwrap();
    steps(&mut whole, 60);
    let parts: Vec<SweepCheckpoint> = split_runs(5, 2)
        .into_iter()
        .map(|range| {
            let mut part = Sweep::new(
                timeline(&sheet),
                RunSpec {
                    seed: 11 + range.start as u64,
                    runs: range.len(),
                    ..config(5)
                },
            )
            .unwrap();
            steps(&mut part, 60);
            part.save()
        })
        .collect();
    let joined = SweepCheckpoint::join(parts.clone()).unwrap();
    assert_eq!(joined, whole.save());
    assert_eq!(joined.split(&split_runs(5, 2)), parts);

    let mut resumed = Sweep::restore(timeline(&sheet), &joined).unwrap();
    steps(&mut resumed, 60);
    steps(&mut whole, 60);
    assert_eq!(resumed.save(), whole.save());
}

/// A run that failed stays failed, put back where it was, in the sweep that takes it over;
/// Apply live then lets it go on there as it would have.
#[test]
fn a_failed_run_hands_over_failed() {
    let mut straight = Sweep::new(timeline(BLOW_UP), blow_up_config()).unwrap();
    steps(&mut straight, 30);
    assert!(straight.runs().iter().all(|r| r.failure.is_some()));
    let saved = straight.save();
    assert!(saved.runs.iter().all(|r| r.failed_at.is_some()));
    let mut resumed = Sweep::restore(
        timeline(BLOW_UP),
        &SweepCheckpoint::from_bytes(&saved.to_bytes()).unwrap(),
    )
    .unwrap();
    for (a, b) in resumed.runs().iter().zip(straight.runs()) {
        // The same step, term and values (NaN is not equal to itself, its text is).
        let text = |r: &color_bottleneck::sweep::Run| r.failure.as_ref().map(|f| f.to_string());
        assert_eq!(text(a), text(b));
    }
    let calm = "STEP,PHASE,ACTION,lr,loss-recon,reg-norm\n0,Cube,,0.001,1,0.1\n40,,,,,\n";
    for sweep in [&mut straight, &mut resumed] {
        sweep.set_timeline(timeline(calm));
        steps(sweep, 5);
    }
    assert_eq!(resumed.save(), straight.save());
}

#[test]
fn bytes_that_are_not_a_checkpoint_are_refused_with_a_reason() {
    let mut sweep = Sweep::new(timeline(&short_ex_1_5(10, 40)), config(2)).unwrap();
    steps(&mut sweep, 3);
    let bytes = sweep.save().to_bytes();
    assert!(matches!(
        SweepCheckpoint::from_bytes(&bytes[..bytes.len() / 2]),
        Err(CheckpointError::Decode(_))
    ));
    assert!(matches!(
        SweepCheckpoint::from_bytes(&[]),
        Err(CheckpointError::Decode(_))
    ));
    let mut other = bytes.clone();
    other[0] = 9;
    let e = SweepCheckpoint::from_bytes(&other).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the checkpoint is in format 9; this engine reads format 2"
    );

    // Parts at different steps, or with a gap in their seeds, are not one sweep.
    let saved = sweep.save();
    let halves = saved.split(&[0..1, 1..2]);
    let mut later = halves[1].clone();
    later.step += 1;
    assert!(matches!(
        SweepCheckpoint::join(vec![halves[0].clone(), later]),
        Err(CheckpointError::Parts(_))
    ));
    assert!(matches!(
        SweepCheckpoint::join(vec![halves[1].clone(), halves[0].clone()]),
        Err(CheckpointError::Parts(_))
    ));
    assert!(matches!(
        SweepCheckpoint::join(Vec::new()),
        Err(CheckpointError::Empty)
    ));
}
