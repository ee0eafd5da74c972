//! `compare A B`: the same as `sweep A` and `sweep B` on the same seeds, paired by seed.

use std::path::{Path, PathBuf};

mod common;
use common::{cli, succeed};

fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("compare-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const HEADER: &str =
    "STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-planar,reg-norm,reg-anchor,data-fraction\n";

/// `seed → (verdict, worst gap error, recon mse)` from a `sweep.csv`.
/// Each row's seed, verdict, worst gap error, MSE and onset.
fn sweep_rows(path: &Path) -> Vec<[String; 5]> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("seed,verdict,worst_gap_error_deg,recon_mse,"));
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            [cells[0], cells[1], cells[2], cells[3], cells[11]].map(String::from)
        })
        .collect()
}

/// The count after `label` on its own line of `stdout`.
fn count(stdout: &str, label: &str) -> usize {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(label) && l[label.len()..].trim().parse::<usize>().is_ok())
        .unwrap_or_else(|| panic!("no {label:?} in {stdout}"));
    line[label.len()..].trim().parse().unwrap()
}

#[test]
fn compare_is_two_sweeps_of_the_same_seeds_paired_by_seed() {
    let dir = tempdir("pair");
    let a = dir.join("a.csv");
    let b = dir.join("b.csv");
    // A: the short curriculum of tests/cli.rs's sweep. B: the same with no anchor and a
    // tenth of the learning rate, so that the two can disagree.
    std::fs::write(
        &a,
        format!(
            "{HEADER}0,Primary & secondary,,0.01,1.0,0.3,0.2,0.1,,\n\
             300,All hues,anchor,,,0.0,0.4,0.25,0.3,0.0\n\
             400,,,0.001,,,,,,\n"
        ),
    )
    .unwrap();
    std::fs::write(
        &b,
        format!(
            "{HEADER}0,Primary & secondary,,0.001,1.0,0.3,0.2,0.1,,\n\
             200,All hues,,,,0.0,0.4,0.25,,0.0\n\
             300,,,0.0001,,,,,,\n"
        ),
    )
    .unwrap();
    let common = [
        "--runs",
        "4",
        "--first-seed",
        "7",
        "--batch-size",
        "32",
        "--latent-dims",
        "3",
        "--quiet",
    ];
    let out_dir = dir.join("compare");
    let out = succeed(
        cli()
            .arg("compare")
            .args([&a, &b])
            .args(common)
            .arg("--out")
            .arg(&out_dir),
    );
    let stdout = String::from_utf8(out.stdout).unwrap();

    // The same comparison in two shards, merged: the same table to the byte, the same report.
    for shard in ["0/2", "1/2"] {
        succeed(
            cli()
                .arg("compare")
                .args([&a, &b])
                .args(common)
                .args(["--shard", shard, "--out"])
                .arg(dir.join(format!("shard-{}", &shard[..1]))),
        );
    }
    let merged = succeed(
        cli()
            .current_dir(&dir)
            .args(["merge", "shard-1", "shard-0", "--out", "merged"]),
    );
    assert_eq!(String::from_utf8(merged.stdout).unwrap(), stdout);
    assert_eq!(
        std::fs::read(dir.join("merged/compare.csv")).unwrap(),
        std::fs::read(out_dir.join("compare.csv")).unwrap()
    );
    let mut sweeps = Vec::new();
    for (name, sheet) in [("sweep-a", &a), ("sweep-b", &b)] {
        let sweep_dir = dir.join(name);
        succeed(
            cli()
                .arg("sweep")
                .arg(sheet)
                .args(common)
                .arg("--out")
                .arg(&sweep_dir),
        );
        sweeps.push(sweep_rows(&sweep_dir.join("sweep.csv")));
    }

    let table = std::fs::read_to_string(out_dir.join("compare.csv")).unwrap();
    let mut lines = table.lines();
    assert_eq!(
        lines.next().unwrap(),
        "seed,verdict_a,verdict_b,worst_gap_error_a,worst_gap_error_b,recon_mse_a,recon_mse_b,onset_a,onset_b"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    let (mut both_wheel, mut both_crumpled, mut only_a, mut only_b) = (0, 0, 0, 0);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 9, "{row:?}");
        assert_eq!(row[0], (7 + i).to_string(), "seeds in order");
        for (side, sweep) in sweeps.iter().enumerate() {
            let want = &sweep[i];
            assert_eq!(want[0], row[0], "sweep {side} row {i}: the same seed");
            let got = [
                row[0],
                row[1 + side],
                row[3 + side],
                row[5 + side],
                row[7 + side],
            ];
            assert_eq!(
                got,
                want.each_ref().map(String::as_str),
                "side {side}, seed {}",
                row[0]
            );
        }
        match (row[1], row[2]) {
            ("wheel", "wheel") => both_wheel += 1,
            ("crumpled", "crumpled") => both_crumpled += 1,
            ("crumpled", "wheel") => only_a += 1,
            ("wheel", "crumpled") => only_b += 1,
            other => panic!("verdicts {other:?}"),
        }
    }

    let printed = [
        count(&stdout, "both wheel"),
        count(&stdout, "both crumpled"),
        count(&stdout, "only A crumpled"),
        count(&stdout, "only B crumpled"),
    ];
    assert_eq!(printed.iter().sum::<usize>(), 4, "{stdout}");
    assert_eq!(
        printed,
        [both_wheel, both_crumpled, only_a, only_b],
        "{stdout}"
    );
    let a_line = format!("A crumpled {}/4 (", both_crumpled + only_a);
    let b_line = format!("B crumpled {}/4 (", both_crumpled + only_b);
    assert!(stdout.lines().any(|l| l.starts_with(&a_line)), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with(&b_line)), "{stdout}");
    assert!(stdout.contains("Newcombe paired"), "{stdout}");
    assert!(stdout.contains("McNemar exact p "), "{stdout}");

    // The discordant seeds' panels, A's row above B's; none when they agree everywhere.
    let png = out_dir.join("compare.png");
    let discordant = only_a + only_b;
    if discordant == 0 {
        assert!(!png.exists());
    } else {
        let png = std::fs::read(png).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let columns = ((2.0 * discordant as f64).sqrt().ceil() as u32).min(discordant as u32);
        let pair_rows = (discordant as u32).div_ceil(columns);
        assert_eq!(
            u32::from_be_bytes(png[16..20].try_into().unwrap()),
            columns * 240
        );
        assert_eq!(
            u32::from_be_bytes(png[20..24].try_into().unwrap()),
            pair_rows * 2 * 240
        );
    }
}
