//! The command-line program, run as a user would.

use std::path::Path;
use std::process::Command;

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_color-bottleneck"))
}

/// Runs the program and fails the test, showing its stderr, unless it succeeds.
fn succeed(command: &mut Command) -> std::process::Output {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn timeline_prints_the_golden_realized_schedule_byte_for_byte() {
    let out = succeed(cli().args(["timeline", &repo("dopesheets/ex-1.5.csv")]));
    let golden = std::fs::read_to_string(repo("tests/golden/timeline.csv")).unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed.lines().count(), 20_003);
    for (i, (a, b)) in printed.lines().zip(golden.lines()).enumerate() {
        assert_eq!(a, b, "line {}", i + 1);
    }
}

#[test]
fn check_prints_the_resolved_table() {
    let out = succeed(cli().args(["check", &repo("dopesheets/ex-1.5.csv")]));
    let golden = std::fs::read_to_string(repo("tests/golden/dopesheet_resolved.csv")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), golden);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("20001 steps"), "{stderr}");
}

#[test]
fn a_broken_sheet_fails_with_its_location_on_stderr() {
    let dir = tempdir("broken");
    let sheet = dir.join("broken.csv");
    std::fs::write(&sheet, "STEP,PHASE,ACTION,lr\n0,A,,0.1\n10,,,fast\n").unwrap();
    for command in ["check", "timeline", "train"] {
        let mut args = vec![command, sheet.to_str().unwrap()];
        if command == "train" {
            args.push("--quiet");
        }
        let out = cli().args(args).output().unwrap();
        assert!(!out.status.success(), "{command} should fail");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains("line 3, column 4 (lr): \"fast\" is not a number"),
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = cli()
        .args(["check", dir.join("missing.csv").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("missing.csv"));
}

#[test]
fn train_writes_every_result() {
    let dir = tempdir("train");
    let sheet = dir.join("short.csv");
    std::fs::write(
        &sheet,
        "STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-planar,reg-norm,reg-anchor,data-fraction\n\
         0,Primary & secondary,,0.01,1,0.1,0.2,0.1,,\n30,All hues,anchor,,,0,,,0.3,0\n60,Full color space,,,,,,,,1\n90,,,,,,,,,\n",
    )
    .unwrap();
    let out_dir = dir.join("out");
    succeed(
        cli()
            .args([
                "train",
                sheet.to_str().unwrap(),
                "--seed",
                "3",
                "--quiet",
                "--latent-dims",
                "3",
                "--out",
            ])
            .arg(&out_dir),
    );

    let latents = std::fs::read_to_string(out_dir.join("latents.csv")).unwrap();
    let mut lines = latents.lines();
    assert_eq!(lines.next().unwrap(), "r,g,b,z0,z1,z2,out_r,out_g,out_b");
    assert_eq!(lines.count(), 1000);
    let hues = std::fs::read_to_string(out_dir.join("hues.csv")).unwrap();
    assert_eq!(hues.lines().count(), 361);
    assert!(
        hues.lines().nth(1).unwrap().starts_with("1,0,0,"),
        "first hue is pure red"
    );

    let losses = std::fs::read_to_string(out_dir.join("losses.csv")).unwrap();
    let mut lines = losses.lines();
    assert_eq!(
        lines.next().unwrap(),
        "step,phase,lr,total,loss-recon,reg-separate,reg-planar,reg-norm,reg-anchor"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 91);
    assert!(
        rows[0].starts_with("0,Primary & secondary,0.01,"),
        "{}",
        rows[0]
    );
    assert!(
        rows[0].ends_with(','),
        "anchor not computed before it is captured: {}",
        rows[0]
    );

    for png in ["phases.png", "timeline.png"] {
        let bytes = std::fs::read(out_dir.join(png)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{png}");
        assert!(bytes.len() > 10_000, "{png} has content");
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
