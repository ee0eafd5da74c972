//! `grid`: every cell is a sweep of its own sheet, and the tables add up.

use std::path::{Path, PathBuf};

mod common;
use common::{cli, succeed};

fn tempdir(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("grid-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SHEET: &str =
    "STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-planar,reg-norm,reg-anchor,data-fraction\n\
     0,Primary & secondary,,0.01,1.0,0.3,0.2,0.1,,\n\
     300,All hues,anchor,,,0.0,0.4,0.25,0.3,0.0\n\
     400,,,0.001,,,,,,\n";

/// The seeds, batch and quiet output of both the grid and the sweeps it is checked against.
const SEEDS: [&str; 7] = [
    "--runs",
    "4",
    "--first-seed",
    "5",
    "--batch-size",
    "16",
    "--quiet",
];

fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

/// A 2 × 2 grid of 4 seeds: each cell's runs are those `sweep` gives its sheet (the file
/// in `sheets/`), seed for seed, and `grid.csv`'s tallies are `grid-runs.csv`'s.
#[test]
fn each_cell_is_a_sweep_of_its_own_sheet() {
    let dir = tempdir("cells");
    let sheet = dir.join("short.csv");
    std::fs::write(&sheet, SHEET).unwrap();
    let out = dir.join("grid");
    let output = succeed(
        cli()
            .arg("grid")
            .arg(&sheet)
            .args([
                "--vary",
                "reg-separate@0=0..0.6/2",
                "--vary",
                "lr@0=0.003,0.03",
            ])
            .args(SEEDS)
            .arg("--out")
            .arg(&out),
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(
        stdout.starts_with("reg-separate@0=0 lr@0=0.003  crumpled "),
        "{stdout}"
    );

    let header = std::fs::read_to_string(out.join("grid.csv")).unwrap();
    assert!(header.starts_with(
        "cell,reg-separate@0,lr@0,runs,crumpled,crumple_rate,rate_low,rate_high,\
         median_recon_mse,worst_recon_mse,sheet\n"
    ));
    let cells = rows(&out.join("grid.csv"));
    let runs = rows(&out.join("grid-runs.csv"));
    assert_eq!((cells.len(), runs.len()), (4, 16));
    let expected_values = [
        ["0", "0.003"],
        ["0.6", "0.003"],
        ["0", "0.03"],
        ["0.6", "0.03"],
    ];
    for (i, cell) in cells.iter().enumerate() {
        assert_eq!(cell[0], i.to_string());
        assert_eq!(cell[1..3], expected_values[i]);
        let own: Vec<&Vec<String>> = runs.iter().filter(|r| r[0] == cell[0]).collect();
        let crumpled = own.iter().filter(|r| r[2] == "crumpled").count();
        assert_eq!(
            (cell[3].as_str(), cell[4].clone()),
            ("4", crumpled.to_string())
        );
        assert_eq!(cell[10], format!("sheets/cell-{i}.csv"));

        let swept = dir.join(format!("sweep-{i}"));
        succeed(
            cli()
                .arg("sweep")
                .arg(out.join(&cell[10]))
                .args(SEEDS)
                .arg("--out")
                .arg(&swept),
        );
        let sweep = rows(&swept.join("sweep.csv"));
        for (run, s) in own.iter().zip(&sweep) {
            // seed, verdict, worst gap, mse, onset
            let from_sweep = [&s[0], &s[1], &s[2], &s[3], &s[11]];
            assert_eq!(run[1..6].iter().collect::<Vec<_>>(), from_sweep, "cell {i}");
        }
    }
    // The cells' sheets differ: lr and reg-separate are where the cells put them.
    let cell_3 = std::fs::read_to_string(out.join("sheets/cell-3.csv")).unwrap();
    assert!(cell_3
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("0,Primary & secondary,,0.03,1.0,0.6,"));
    let png = std::fs::read(out.join("grid.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");

    // A smaller grid written over it leaves only its own cells' sheets, and a cell whose
    // varied value trains otherwise than written is warned of, as `check` warns of its sheet.
    let output = succeed(
        cli()
            .arg("grid")
            .arg(&sheet)
            .args(["--vary", "data-fraction@300=0.5,2"])
            .args(SEEDS)
            .args(["--until", "10", "--out"])
            .arg(&out),
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("warning: cell 1: data-fraction 2 at step 300 is outside 0 to 1"),
        "{stderr}"
    );
    assert!(!stderr.contains("warning: cell 0:"), "{stderr}");
    let mut sheets: Vec<String> = std::fs::read_dir(out.join("sheets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    sheets.sort();
    assert_eq!(sheets, ["cell-0.csv", "cell-1.csv"]);
}

/// Each bad address gets a message naming the part that is wrong, and nothing is trained.
#[test]
fn bad_addresses_get_located_messages() {
    let dir = tempdir("bad");
    for (vary, expected) in [
        (
            "reg-sep@0=0.1..0.5/3",
            "--vary: `reg-sep@0=0.1..0.5/3`: column `reg-sep`: no such column; the sheet's \
             columns are lr, loss-recon,",
        ),
        (
            "reg-separate@400=0.1..0.5/3",
            "step `400`: no keyframe has this step; the sheet's keyframes are at steps 0, 1200, \
             1800, 3000,",
        ),
        (
            "reg-separate@1200=0.1..0.5/0",
            "values `0.1..0.5/0`: the range is empty",
        ),
        ("reg-separate=0.1", "expected COLUMN@STEP=FROM..TO/COUNT"),
    ] {
        let out = cli()
            .args(["grid", "--vary", vary, "--quiet", "--out"])
            .arg(dir.join("never"))
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{vary}: {stderr}");
        assert!(stderr.contains(expected), "{vary}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!dir.join("never").exists());
}

/// A grid in 3 shards of its seeds (a 2 × 2 grid of 5 seeds), merged, is the grid trained
/// whole: the same `grid-runs.csv`, `grid.csv`, heatmap and sheets, byte for byte. Parts of
/// another grid are refused.
#[test]
fn a_grid_in_shards_merges_into_the_whole_grid() {
    let dir = tempdir("shards");
    let sheet = dir.join("short.csv");
    std::fs::write(&sheet, SHEET).unwrap();
    let grid = |out: &Path, vary: &str, shard: Option<&str>| {
        let mut command = cli();
        command
            .arg("grid")
            .arg(&sheet)
            .args(["--vary", "reg-separate@0=0..0.6/2", "--vary", vary])
            .args([
                "--runs",
                "5",
                "--first-seed",
                "5",
                "--batch-size",
                "16",
                "--quiet",
            ])
            .arg("--out")
            .arg(out);
        if let Some(shard) = shard {
            command.args(["--shard", shard]);
        }
        succeed(&mut command)
    };
    let whole = dir.join("whole");
    grid(&whole, "lr@0=0.003,0.03", None);
    let parts: Vec<PathBuf> = (0..3)
        .map(|i| {
            let part = dir.join(format!("part-{i}"));
            grid(&part, "lr@0=0.003,0.03", Some(&format!("{i}/3")));
            part
        })
        .collect();
    assert!(rows(&parts[0].join("grid-runs.csv")).len() < 20);
    let merged = dir.join("merged");
    succeed(cli().arg("merge").args(&parts).arg("--out").arg(&merged));
    for file in [
        "grid-runs.csv",
        "grid.csv",
        "grid.png",
        "sheets/cell-0.csv",
        "sheets/cell-3.csv",
    ] {
        assert_eq!(
            std::fs::read(merged.join(file)).unwrap(),
            std::fs::read(whole.join(file)).unwrap(),
            "{file}"
        );
    }
    // A merge of `parts` that is refused: exit status 1, nothing written; its message.
    let refused = |parts: &[&PathBuf]| {
        let out = cli()
            .arg("merge")
            .args(parts)
            .arg("--out")
            .arg(dir.join("never"))
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(!dir.join("never").exists());
        stderr
    };
    // A part of another grid (other learning rates) is refused, named.
    let other = dir.join("other");
    grid(&other, "lr@0=0.003,0.01", Some("2/3"));
    let stderr = refused(&[&parts[0], &parts[1], &other]);
    assert!(stderr.contains("another grid than"), "{stderr}");
    assert!(stderr.contains("other"), "{stderr}");
    // Two of the three shards: the missing one is named.
    let stderr = refused(&[&parts[0], &parts[2]]);
    assert!(stderr.contains("shards missing: 1/3"), "{stderr}");
    // Without --out, the joined grid goes where `grid` writes by default.
    succeed(cli().current_dir(&dir).arg("merge").args(&parts));
    assert_eq!(
        std::fs::read(dir.join("grid/grid.csv")).unwrap(),
        std::fs::read(whole.join("grid.csv")).unwrap()
    );
}
