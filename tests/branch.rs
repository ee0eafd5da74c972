//! Branching: a run that goes on from step N under an edited sheet is the run that sheet
//! would have trained had it never been paused, and the run of the first sheet until the
//! first step the edit reaches. The page branches this way (its worker trains the parents'
//! sheets to their steps, then the edited one), and a branch's link replays it.

mod common;
use common::{short_ex_1_5, timeline};

use color_bottleneck::run::RunSpec;
use color_bottleneck::share::{Parent, SharedRun, ENGINE_REVISION};
use color_bottleneck::sweep::{KeptStates, Sweep};
use color_bottleneck::verdict::Onset;

fn config() -> RunSpec {
    RunSpec {
        seed: 5,
        runs: 1,
        latent_dims: 4,
        batch_size: 24,
    }
}

fn train_to(sweep: &mut Sweep, step: u64) {
    while sweep.step_index() < step {
        sweep.step();
    }
}

#[test]
fn a_branch_is_the_run_never_paused_until_the_first_edited_step() {
    let sheet = short_ex_1_5(60, 240);
    // The edit: no anchor taken at step 60 (the second phase's start), so the anchor term,
    // which rises from there, has nothing to hold the latents to.
    let edited = sheet.replacen(",All hues,anchor,", ",All hues,,", 1);
    let (a, b) = (timeline(&sheet), timeline(&edited));
    let (first, _) = a.differences(&b).expect("the edit changes the run");
    assert_eq!(first, 60);

    // Branch at step 40, before anything the edit reaches.
    let mut branch = Sweep::new(timeline(&sheet), config()).unwrap();
    train_to(&mut branch, 40);
    branch.set_timeline(b.clone());
    let mut never_paused = Sweep::new(b, config()).unwrap();
    let mut first_sheet = Sweep::new(a, config()).unwrap();
    for step in [first, first + 30, 240] {
        train_to(&mut branch, step);
        train_to(&mut never_paused, step);
        train_to(&mut first_sheet, step);
        assert_eq!(
            branch.state(0),
            never_paused.state(0),
            "the branch is the edited sheet's run, bit for bit, at step {step}"
        );
        let same = branch.state(0) == first_sheet.state(0);
        assert_eq!(
            same,
            step == first,
            "the first sheet's run is the branch until step {first}, and not after (step {step})"
        );
    }
}

/// Trains `sweep` to `step` as the page's worker does: keeping states for branching, and
/// judging onsets every [`Onset::EVERY`] steps.
fn train_keeping(sweep: &mut Sweep, step: u64, kept: &mut KeptStates) {
    while sweep.step_index() < step && !sweep.is_finished() {
        kept.offer(sweep);
        sweep.step();
        if sweep.step_index().is_multiple_of(Onset::EVERY) {
            sweep.judge_onsets_now();
        }
    }
}

#[test]
fn a_branch_from_a_kept_state_is_the_branch_replayed_from_the_seed() {
    let sheet = short_ex_1_5(300, 900);
    let edited = sheet.replacen(",All hues,anchor,", ",All hues,,", 1);
    let config = RunSpec {
        runs: 3,
        ..config()
    };
    let mut kept = KeptStates::default();
    let mut first = Sweep::new(timeline(&sheet), config).unwrap();
    train_keeping(&mut first, u64::MAX, &mut kept);
    let at = 777;
    let state = kept.at_or_before(at).unwrap();
    assert!(
        state.step < at && at - state.step < 500,
        "kept at {}",
        state.step
    );

    let mut from_state = Sweep::restore(timeline(&sheet), state).unwrap();
    let mut from_seed = Sweep::new(timeline(&sheet), config).unwrap();
    for branch in [&mut from_state, &mut from_seed] {
        train_keeping(branch, at, &mut KeptStates::default());
        branch.set_timeline(timeline(&edited));
        train_keeping(branch, u64::MAX, &mut KeptStates::default());
    }
    assert_eq!(
        from_state.save(),
        from_seed.save(),
        "weights, Adam, anchor, onsets"
    );
    let verdicts = from_seed.verdicts();
    assert_eq!(from_state.onsets(&verdicts), from_seed.onsets(&verdicts));
}

#[test]
fn a_branchs_link_names_its_parents_and_reads_back() {
    let run = SharedRun {
        sheet: short_ex_1_5(60, 300),
        spec: RunSpec {
            seed: 7,
            latent_dims: 4,
            batch_size: 256,
            runs: 1,
        },
        engine: ENGINE_REVISION,
        parents: vec![
            Parent {
                sheet: short_ex_1_5(60, 240),
                step: 40,
            },
            Parent {
                sheet: "STEP,PHASE,ACTION,lr\n0,A,,0.01\n200,,,\n".into(),
                step: 150,
            },
        ],
        versus: None,
    };
    assert_eq!(SharedRun::from_hash(&run.to_hash()), Ok(run.clone()));
    let plain = SharedRun {
        parents: Vec::new(),
        ..run.clone()
    };
    assert_eq!(SharedRun::from_hash(&plain.to_hash()), Ok(plain));
    // Parents must branch at rising steps.
    let mut backwards = run.clone();
    backwards.parents[1].step = 30;
    let e = SharedRun::from_hash(&backwards.to_hash()).unwrap_err();
    assert!(e.to_string().contains("branch-1"), "{e}");
    // Parents' sheets count toward the size a link may hold: one too large says so when made.
    assert_eq!(run.check_size(), Ok(()));
    let mut huge = run.clone();
    for p in &mut huge.parents {
        p.sheet = format!("{}{}", p.sheet, "#".repeat(140 * 1024));
    }
    assert_eq!(
        huge.check_size(),
        Err(color_bottleneck::share::ShareError::TooLarge)
    );
    // Past any sheet's end.
    let mut far = run.clone();
    far.parents[1].step = u64::MAX;
    let e = SharedRun::from_hash(&far.to_hash()).unwrap_err();
    assert!(e.to_string().contains("a step a sheet can reach"), "{e}");
}
