//! What the engine-agreement tests share.
#![allow(dead_code)]

use color_bottleneck::dopesheet::Dopesheet;
use color_bottleneck::run::RunSpec;

use color_bottleneck::timeline::Timeline;

/// lr ramping to 1e30: every run's loss goes NaN a few steps in.
pub const BLOW_UP: &str =
    "STEP,PHASE,ACTION,lr,loss-recon,reg-norm\n0,Cube,,0.01,1,0.1\n+0.5,,,1e30,,\n40,,,,,\n";

/// Reconstruction weighted from 1 down to −1 by step 10, −1 to step 19, then 1 again: the
/// steps whose total is ≤ 0 skip their update, the others update.
pub const SKIPS: &str =
    "STEP,PHASE,ACTION,lr,loss-recon\n0,Cube,,0.01,1\n10,,,,-1\n19,,,,-1\n20,,,,1\n39,,,,\n";

/// Two small runs for [`BLOW_UP`].
pub fn blow_up_config() -> RunSpec {
    RunSpec {
        seed: 0,
        runs: 2,
        latent_dims: 4,
        batch_size: 16,
    }
}

/// ex-1.5's shape in a few hundred steps: the primaries with every phase-1 term, then at
/// `anchor` the anchor action and the weighted cube with a moving data-fraction and the anchor
/// term, to `last`.
pub fn short_ex_1_5(anchor: u64, last: u64) -> String {
    format!(
        "STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-planar,reg-norm,reg-anchor,data-fraction
0,Primary & secondary,,0.01,1.0,0.0,0.2,0.1,,
+0.4,,,,0.8,0.3,,,,
{anchor},All hues,anchor,,,0.0,0.4,0.25,0.0,0.0
+0.5,,,,,,,,0.3,0.25
{last},,,0.001,1.0,,,,0.5,1.0
"
    )
}

pub fn timeline(sheet: &str) -> Timeline {
    Timeline::new(&Dopesheet::parse(sheet).unwrap())
}

pub fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The command-line program, as a test runs it.
pub fn cli() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_color-bottleneck"))
}

/// Runs the program and fails the test, showing its stderr, unless it succeeds.
pub fn succeed(command: &mut std::process::Command) -> std::process::Output {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
