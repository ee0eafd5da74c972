//! The command-line program, run as a user would.

use std::path::Path;

mod common;
use common::{cli, succeed};

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
fn check_markdown_prints_the_seeds_table() {
    let out = succeed(cli().args(["check", "--markdown", &repo("dopesheets/ex-1.5.csv")]));
    let golden = std::fs::read_to_string(repo("tests/golden/dopesheet_markdown.md")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), golden);
}

/// A 16-seed sweep of a short curriculum: a row and a verdict per seed, a contact sheet,
/// and the printed crumple rate with its interval.
#[test]
fn sweep_writes_a_verdict_per_seed_and_a_contact_sheet() {
    let dir = tempdir("sweep");
    let sheet = dir.join("short.csv");
    std::fs::write(&sheet, SHORT_SHEET).unwrap();
    let out = succeed(cli().args([
        "sweep",
        sheet.to_str().unwrap(),
        "--runs",
        "16",
        "--first-seed",
        "5",
        "--batch-size",
        "32",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ]));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let summary = regex_like_summary(&stdout);
    let table = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    let mut lines = table.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("seed,verdict,worst_gap_error_deg,recon_mse"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 16);
    let mut crumpled = 0;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], (5 + i).to_string(), "seeds in order");
        assert!(
            matches!(row[1], "wheel" | "crumpled"),
            "verdict {:?}",
            row[1]
        );
        crumpled += (row[1] == "crumpled") as usize;
        let mse: f64 = row[3].parse().unwrap();
        assert!(mse.is_finite() && mse >= 0.0);
        // Judged every 250 steps and at the end (after step 400).
        let onset: u64 = row[11].parse().unwrap();
        assert!([250, 401].contains(&onset), "onset {onset}");
    }
    assert_eq!(
        summary,
        (crumpled, 16),
        "the summary counts the table: {stdout}"
    );
    let png = std::fs::read(dir.join("contact.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    // 16 panels: a 4 × 4 grid of 240-pixel cells.
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 960);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 960);
}

/// A sweep cut into shards (`--shard I/N`, as a Slurm array or a Kubernetes Indexed Job runs
/// them), each shard on its own, then `merge`d: the same sweep.csv, byte for byte, and the
/// same summary as one sweep of every seed. Overlapping shards are refused.
#[test]
fn shards_merged_are_one_sweep_to_the_byte() {
    let dir = tempdir("shards");
    // `--seed` is `--first-seed` under the name the element's attribute and a link use.
    let sweep = |out: &str, extra: &[&str]| {
        let seed = if extra.is_empty() {
            "--first-seed"
        } else {
            "--seed"
        };
        let flags = [&["--runs", "7", seed, "3"], extra].concat();
        String::from_utf8(sweep_short(&dir, out, &flags).stdout).unwrap()
    };
    let whole = sweep("whole", &[]);
    let parts: Vec<String> = (0..3).map(|i| format!("part{i}")).collect();
    for (i, part) in parts.iter().enumerate() {
        let shard = format!("{i}/3");
        sweep(part, &["--shard", &shard]);
        let rows = std::fs::read_to_string(dir.join(part).join("sweep.csv")).unwrap();
        assert_eq!(
            rows.lines().count() - 1,
            [3, 2, 2][i],
            "shard {shard}'s seeds"
        );
    }
    // Given in any order.
    let merged = succeed(
        cli()
            .current_dir(&dir)
            .args(["merge", "part2", "part0", "part1", "--out", "merged"]),
    );
    assert_eq!(String::from_utf8(merged.stdout).unwrap(), whole);
    assert_eq!(
        std::fs::read(dir.join("merged/sweep.csv")).unwrap(),
        std::fs::read(dir.join("whole/sweep.csv")).unwrap()
    );
    // Parts that are not every shard of one sweep, each once, are refused, and say why.
    sweep("other-sheet", &["--shard", "1/3", "--until", "200"]);
    sweep("other-count", &["--shard", "1/2"]);
    std::fs::create_dir_all(dir.join("cut")).unwrap();
    std::fs::copy(dir.join("part1/shard.txt"), dir.join("cut/shard.txt")).unwrap();
    let rows = std::fs::read_to_string(dir.join("part1/sweep.csv")).unwrap();
    let first_row: Vec<&str> = rows.lines().take(2).collect();
    std::fs::write(dir.join("cut/sweep.csv"), first_row.join("\n") + "\n").unwrap();
    let refusals: [(&[&str], &str); 6] = [
        (
            &["part0", "whole"],
            "whole/shard.txt: missing, unlike part0's: not shards of one run",
        ),
        (
            &["part0", "other-sheet", "part2"],
            "other-sheet/shard.txt: another run than part0's",
        ),
        (
            &["part0", "other-count", "part2"],
            "other-count/shard.txt: another run than part0's",
        ),
        (&["part0", "part2"], "part0/shard.txt: shards missing: 1/3"),
        (
            &["part0", "part1", "part1", "part2"],
            "part1/shard.txt: shard 1/3 again: part1 is that shard too",
        ),
        (
            &["part0", "cut", "part2"],
            "cut/sweep.csv: shard 1/3 trains seeds 6–7, and this table does not hold each of \
             them once",
        ),
    ];
    for (parts, message) in refusals {
        let refused = cli()
            .current_dir(&dir)
            .arg("merge")
            .args(parts)
            .args(["--out", "bad"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "merge {parts:?} passed");
        assert!(stderr.contains(message), "merge {parts:?}: {stderr}");
    }
    // A whole sweep's folder is no shard: one written over a shard's loses its shard file.
    sweep("part1", &[]);
    assert!(!dir.join("part1/shard.txt").exists());
}

/// `--until N` trains N steps and judges the runs there; an `--until` past the sheet's end
/// changes nothing.
#[test]
fn until_stops_every_run_there_and_judges_it() {
    let dir = tempdir("until");
    let run = |out: &str, extra: &[&str]| {
        let flags = [&["--runs", "4"], extra].concat();
        String::from_utf8(sweep_short(&dir, out, &flags).stderr).unwrap()
    };
    let early = run("until", &["--until", "250"]);
    assert!(early.contains("trained 4 runs × 250 steps"));
    assert!(early.contains("note: judged after 250 of the sheet's 401 steps: a screen"));
    assert!(run("full", &[]).contains("trained 4 runs × 401 steps"));
    let past = run("past", &["--until", "1000"]);
    assert!(past.contains("trained 4 runs × 401 steps") && !past.contains("note:"));
    let table = |out: &str| std::fs::read_to_string(dir.join(out).join("sweep.csv")).unwrap();
    assert_ne!(table("until"), table("full"));
    assert_eq!(table("past"), table("full"));
}

/// `sweep` of [`SHORT_SHEET`] at batch 16 with `flags`, into `dir/out`.
fn sweep_short(dir: &Path, out: &str, flags: &[&str]) -> std::process::Output {
    let sheet = dir.join("short.csv");
    std::fs::write(&sheet, SHORT_SHEET).unwrap();
    succeed(
        cli()
            .arg("sweep")
            .arg(&sheet)
            .args(flags)
            .args(["--batch-size", "16", "--quiet", "--out"])
            .arg(dir.join(out)),
    )
}

const SHORT_SHEET: &str =
    "STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-planar,reg-norm,reg-anchor,data-fraction\n\
     0,Primary & secondary,,0.01,1.0,0.3,0.2,0.1,,\n\
     300,All hues,anchor,,,0.0,0.4,0.25,0.3,0.0\n\
     400,,,0.001,,,,,,\n";

/// `(k, n)` from "crumpled k/n (p%, 95% CI a–b%)".
fn regex_like_summary(stdout: &str) -> (usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("crumpled "))
        .unwrap_or_else(|| panic!("no summary in {stdout:?}"));
    assert!(line.contains("% CI ") && line.ends_with("%)"), "{line}");
    let fraction = line["crumpled ".len()..].split(' ').next().unwrap();
    let (k, n) = fraction.split_once('/').unwrap();
    (k.parse().unwrap(), n.parse().unwrap())
}

#[test]
fn sweep_refuses_zero_runs_with_a_message() {
    let out = cli()
        .args(["sweep", "--runs", "0", "--quiet"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("runs=\"0\" is not a whole number from 1 to 4096"),
        "{stderr}"
    );
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

    for png in ["phases.png", "timeline.png", "geometry.png"] {
        let bytes = std::fs::read(out_dir.join(png)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{png}");
        assert!(bytes.len() > 10_000, "{png} has content");
    }

    // The geometry figures at each of the three phase ends (steps 29, 59 and 90).
    let geometry = std::fs::read_to_string(out_dir.join("geometry.csv")).unwrap();
    let mut lines = geometry.lines();
    assert_eq!(
        lines.next().unwrap(),
        "phase,step,participation_ratio,winding,circulant_error"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows.iter().map(|r| (r[0], r[1])).collect::<Vec<_>>(),
        [
            ("Primary & secondary", "29"),
            ("All hues", "59"),
            ("Full color space", "90")
        ]
    );
    for row in &rows {
        let ratio: f64 = row[2].parse().unwrap();
        assert!(
            (1.0..=3.0).contains(&ratio),
            "participation ratio of 3 dims: {ratio}"
        );
        assert!(["-1", "0", "1"].contains(&row[3]), "winding {}", row[3]);
        let error: f64 = row[4].parse().unwrap();
        assert!(error >= 0.0);
    }
    let cosine = std::fs::read_to_string(out_dir.join("cosine.csv")).unwrap();
    let lines: Vec<&str> = cosine.lines().collect();
    assert_eq!(lines.len(), 1 + 3 * 36);
    assert!(lines[0].starts_with("phase,step,hue,c0,c1,"));
    // Each hue is itself: the diagonal is 1.
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!((first[2], first[3]), ("0", "1.000000"));
}

/// A 96-step sheet in `dir`, short enough for a video test.
fn short_video_sheet(dir: &std::path::Path) -> std::path::PathBuf {
    let sheet = dir.join("short.csv");
    std::fs::write(
        &sheet,
        "STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-norm\n0,All hues,,0.02,1,0.1,0.1\n95,,,,,,\n",
    )
    .unwrap();
    sheet
}

/// `train --video` writes the latent-evolution video as an animated PNG: a frame every 10
/// steps and the end, 30 fps, dark, and the points move from frame to frame.
#[test]
fn train_writes_the_evolution_video_as_an_animated_png() {
    let dir = tempdir("video");
    let sheet = short_video_sheet(&dir);
    let video = dir.join("evolution.png");
    let out = succeed(
        cli()
            .args(["train", sheet.to_str().unwrap(), "--quiet", "--video"])
            .arg(&video)
            .arg("--out")
            .arg(dir.join("out")),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("(11 frames, steps 0 to 96 every 10, 30 fps)"),
        "{stderr}"
    );

    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&video).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert_eq!((info.width, info.height), (480, 480));
    assert_eq!(info.animation_control.unwrap().num_frames, 11);
    let control = info.frame_control.unwrap();
    assert_eq!((control.delay_num, control.delay_den), (1, 30));
    let mut frames = Vec::new();
    for _ in 0..11 {
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        frames.push(buf);
    }
    for frame in &frames {
        assert!(frame[..3].iter().all(|&c| c < 0x40), "dark corner");
    }
    assert_ne!(
        frames[0], frames[10],
        "the latents moved between the first and last frame"
    );

    // An unwritable video path fails before any training, with the path in the message.
    let bad = cli()
        .args(["train", sheet.to_str().unwrap(), "--quiet", "--video"])
        .arg(dir.join("no/such/dir/v.png"))
        .arg("--out")
        .arg(dir.join("out2"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("no/such/dir/v.png"), "{stderr}");
    assert!(!dir.join("out2/losses.csv").exists(), "no training ran");
}

/// `train --video x.mp4` writes the same frames as H.264 in an MP4: a 480-pixel video track
/// of one sample per frame at 30 fps, whose decoded frames are the animated PNG's to within
/// the codec's loss. Any other extension is refused before training.
#[test]
fn train_writes_the_evolution_video_as_an_mp4() {
    let dir = tempdir("mp4");
    let sheet = short_video_sheet(&dir);
    let record = |name: &str| {
        let video = dir.join(name);
        let out = succeed(
            cli()
                .args(["train", sheet.to_str().unwrap(), "--quiet", "--video"])
                .arg(&video)
                .arg("--out")
                .arg(dir.join(format!("out-{name}"))),
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("(11 frames,"));
        video
    };
    let (mp4_path, png_path) = (record("evolution.mp4"), record("evolution.png"));

    let file = std::fs::File::open(&mp4_path).unwrap();
    let size = file.metadata().unwrap().len();
    let mut mp4 = mp4::Mp4Reader::read_header(std::io::BufReader::new(file), size).unwrap();
    let (&id, track) = mp4.tracks().iter().next().unwrap();
    assert_eq!((track.width(), track.height()), (480, 480));
    assert_eq!(track.timescale(), 30);
    assert_eq!(mp4.sample_count(id).unwrap(), 11);
    let avc = track
        .trak
        .mdia
        .minf
        .stbl
        .stsd
        .avc1
        .as_ref()
        .expect("an H.264 track");
    let sps = avc.avcc.sequence_parameter_sets[0].bytes.clone();
    let pps = avc.avcc.picture_parameter_sets[0].bytes.clone();

    let mut apng = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ))
    .read_info()
    .unwrap();
    let mut decoder = openh264::decoder::Decoder::new().unwrap();
    let annex_b = |unit: &[u8]| [&[0, 0, 0, 1][..], unit].concat();
    decoder
        .decode(&[annex_b(&sps), annex_b(&pps)].concat())
        .unwrap();
    for i in 1..=11 {
        let sample = mp4.read_sample(id, i).unwrap().unwrap();
        // Length-prefixed units to Annex B.
        let mut units = Vec::new();
        let mut rest = &sample.bytes[..];
        while rest.len() > 4 {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            units.extend(annex_b(&rest[4..4 + len]));
            rest = &rest[4 + len..];
        }
        let yuv = decoder
            .decode(&units)
            .unwrap()
            .expect("a picture per sample");
        let mut decoded = vec![0u8; 480 * 480 * 3];
        yuv.write_rgb8(&mut decoded);
        let mut lossless = vec![0; apng.output_buffer_size().unwrap()];
        apng.next_frame(&mut lossless).unwrap();
        let error: f64 = (decoded.iter().zip(&lossless))
            .map(|(&a, &b)| (a as f64 - b as f64).abs())
            .sum::<f64>()
            / decoded.len() as f64;
        assert!(error < 4.0, "frame {i}: mean error {error:.2} levels");
        if i == 11 {
            let png = dir.join("decoded-last-frame.png");
            let mut encoder = png::Encoder::new(std::fs::File::create(&png).unwrap(), 480, 480);
            encoder.set_color(png::ColorType::Rgb);
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(&decoded).unwrap();
        }
    }

    let bad = cli()
        .args(["train", sheet.to_str().unwrap(), "--quiet", "--video"])
        .arg(dir.join("v.webm"))
        .arg("--out")
        .arg(dir.join("out-webm"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("unknown video format; name the file .mp4"),
        "{stderr}"
    );
    assert!(!dir.join("out-webm").exists(), "nothing written");
}

/// The default engine (the fused step) and the plain-Burn oracle (`--backend flex`) write the
/// same losses: the same blanks, totals within 1e-4.
#[test]
fn both_engines_write_the_same_losses() {
    let dir = tempdir("engines");
    let sheet = dir.join("short.csv");
    std::fs::write(
        &sheet,
        "STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-planar,reg-norm,reg-anchor,data-fraction\n\
         0,Primary & secondary,,0.01,1,0.1,0.2,0.1,,\n30,All hues,anchor,,,0,,,0.3,0\n60,,,,,,,,,\n",
    )
    .unwrap();
    let losses = |backend: &str| {
        let out = dir.join(backend);
        succeed(
            cli()
                .args([
                    "train",
                    sheet.to_str().unwrap(),
                    "--quiet",
                    "--backend",
                    backend,
                    "--out",
                ])
                .arg(&out),
        );
        std::fs::read_to_string(out.join("losses.csv")).unwrap()
    };
    let (fused, flex) = (losses("fused"), losses("flex"));
    assert_eq!(fused.lines().count(), flex.lines().count());
    for (a, b) in fused.lines().zip(flex.lines()).skip(1) {
        let (a, b): (Vec<&str>, Vec<&str>) = (a.split(',').collect(), b.split(',').collect());
        assert_eq!(a[..3], b[..3], "step, phase and lr");
        for (x, y) in a[3..].iter().zip(&b[3..]) {
            assert_eq!(
                x.is_empty(),
                y.is_empty(),
                "the same terms computed: {a:?} vs {b:?}"
            );
            if !x.is_empty() {
                let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
                assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{a:?} vs {b:?}");
            }
        }
    }
}

/// The README's bad-input table, command-line rows: each fails with its message on stderr
/// and a non-zero exit, never a panic.
#[test]
fn bad_flags_get_clear_messages() {
    let dir = tempdir("flags");
    let unwritable = "/proc/color-bottleneck-cannot-write-here";
    let cases: [(&[&str], &str); 18] = [
        (&["train", "--seed", "-1"], "unexpected argument '-1'"),
        (
            &["train", "--seed", "18446744073709551616"],
            "invalid value '18446744073709551616' for '--seed <SEED>': number too large",
        ),
        (
            &["train", "--latent-dims", "0"],
            "invalid value '0' for '--latent-dims <LATENT_DIMS>': latent-dims=\"0\" is not a whole number from 2 to 64",
        ),
        (
            &["train", "--latent-dims", "1"],
            "invalid value '1' for '--latent-dims <LATENT_DIMS>': latent-dims=\"1\" is not a whole number from 2 to 64",
        ),
        (
            &["train", "--latent-dims", "99"],
            "invalid value '99' for '--latent-dims <LATENT_DIMS>': latent-dims=\"99\" is not a whole number from 2 to 64",
        ),
        (
            &["train", "--batch-size", "0"],
            "invalid value '0' for '--batch-size <BATCH_SIZE>': batch-size=\"0\" is not a whole number from 1 to 65536",
        ),
        (
            &["train", "--batch-size", "1000000000"],
            "invalid value '1000000000' for '--batch-size <BATCH_SIZE>': batch-size=\"1000000000\" is not a whole number from 1 to 65536",
        ),
        (
            &["train", "--out", unwritable],
            "writing /proc/color-bottleneck-cannot-write-here: No such file or directory",
        ),
        (
            &["sweep", "--runs", "5000"],
            "invalid value '5000' for '--runs <RUNS>': runs=\"5000\" is not a whole number from 1 to 4096",
        ),
        (
            &["train", "no-such-sheet.csv"],
            "no-such-sheet.csv: No such file or directory",
        ),
        (
            &["timeline"],
            "the following required arguments were not provided",
        ),
        (
            &["sweep", "--first-seed", "18446744073709551615", "--runs", "4"],
            "--first-seed 18446744073709551615 with --runs 4: the last seed would pass 18446744073709551615",
        ),
        (
            &["sweep", "--shard", "4/4"],
            "invalid value '4/4' for '--shard <SHARD>': expected I/N with 0 ≤ I < N (e.g. 0/4), got `4/4`",
        ),
        (
            &["sweep", "--shard", "two"],
            "expected I/N with 0 ≤ I < N (e.g. 0/4), got `two`",
        ),
        (
            &["sweep", "--runs", "2", "--shard", "0/3"],
            "--shard 0/3: 3 parts of 2 runs leave some empty; use at most 2 parts",
        ),
        (
            &["sweep", "--until", "0"],
            "invalid value '0' for '--until <UNTIL>': 0 is not in 1..",
        ),
        (
            &["merge", "no-such-dir"],
            "no-such-dir/sweep.csv: No such file or directory",
        ),
        (&["merge"], "the following required arguments were not provided"),
    ];
    for (args, expected) in cases {
        let mut command = cli();
        command.current_dir(&dir).args(args);
        if ["train", "sweep"].contains(&args[0]) {
            command.arg("--quiet");
        }
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// A sheet of 5,000 phases trains and draws: phases.png keeps the last 40 phase ends and
/// says so; nothing overflows.
#[test]
fn five_thousand_phases_train_and_draw() {
    let dir = tempdir("phases");
    let sheet = dir.join("many.csv");
    let mut text = String::from("STEP,PHASE,ACTION,lr,loss-recon\n");
    for p in 0..5_000 {
        text.push_str(&format!("{},Phase {p},,0.01,1\n", p * 2));
    }
    text.push_str("10000,,,,\n");
    std::fs::write(&sheet, text).unwrap();
    let out = succeed(
        cli()
            .args([
                "train",
                sheet.to_str().unwrap(),
                "--quiet",
                "--batch-size",
                "8",
                "--out",
            ])
            .arg(dir.join("out")),
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("phases.png shows the last 40 of 5000 phase ends"),
        "{stderr}"
    );
    let png = std::fs::read(dir.join("out").join("phases.png")).unwrap();
    assert_eq!(
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
        40 * 500
    );
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `timeline SHEET | head` and `check SHEET | head`: the reader goes away after a few lines,
/// and the program ends quietly, as `cat` does (status 141, 128 + SIGPIPE, as a shell reports
/// cat's), not with an error message.
#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    for args in [
        vec!["timeline", "dopesheets/ex-1.5.csv"],
        vec!["check", "dopesheets/ex-1.5.csv"],
    ] {
        let mut child = cli()
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // The read end is closed here: every later write meets a broken pipe.
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("error"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        // The schedule (2 MB) outlasts any pipe's buffer; the table may fit in one.
        let closed = Some(141);
        if args[0] == "timeline" {
            assert_eq!(out.status.code(), closed, "{args:?}");
        } else {
            assert!(out.status.success() || out.status.code() == closed);
        }
    }
}

/// Without `--features wgpu` the GPU backend is not in the program, and asking for it says how
/// to build it, before any training.
#[cfg(not(feature = "wgpu"))]
#[test]
fn the_gpu_backend_in_a_build_without_it_says_how_to_build_it() {
    let dir = tempdir("no-gpu");
    let out = cli()
        .args([
            "sweep",
            "--runs",
            "2",
            "--backend",
            "gpu",
            "--quiet",
            "--out",
        ])
        .arg(dir.join("sweep"))
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "built without its GPU backend: build it with `cargo build --release --features wgpu`"
        ),
        "{stderr}"
    );
}

/// FNV-1a, 64 bits: a stable digest of a file's bytes.
fn digest(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// What `train` (ex-1.5, seed 1) and `sweep` (ex-1.5, seeds 0–3) write, pinned: the digests
/// of the files the build before the step's one definition (commit 6015107) wrote, on Linux
/// x86-64 (the geometry's and the verdict's angles go through the platform's libm). A change
/// of any number in them is a change of behaviour.
#[test]
fn train_and_sweep_write_the_pinned_files() {
    let dir = tempdir("pinned");
    let ex = repo("dopesheets/ex-1.5.csv");
    let (train, sweep) = (dir.join("train"), dir.join("sweep"));
    succeed(cli().args(["train", &ex, "--quiet", "--out", train.to_str().unwrap()]));
    succeed(cli().args([
        "sweep",
        &ex,
        "--runs",
        "4",
        "--quiet",
        "--out",
        sweep.to_str().unwrap(),
    ]));
    let pinned = [
        (train.join("losses.csv"), 0x481a_f063_bc81_b64d),
        (train.join("latents.csv"), 0x8323_9a9d_0a9b_e6d4),
        (train.join("hues.csv"), 0xc7b2_4480_844f_efb9),
        (train.join("geometry.csv"), 0x9c47_4a3d_883a_0dc0),
        (train.join("cosine.csv"), 0x6a82_7e81_09f4_1912),
        (sweep.join("sweep.csv"), 0xd073_ba4c_e3ef_00b4),
    ];
    for (path, want) in pinned {
        assert_eq!(digest(&path), want, "{} changed", path.display());
    }
}

/// A sheet whose loss blows up: each run stops at its last finite weights and is judged
/// there, and `sweep` and `compare` say how many stopped so, beside a rate that counts them.
#[test]
fn runs_stopped_by_a_non_finite_loss_are_named() {
    let dir = tempdir("diverging");
    let diverging = dir.join("diverging.csv");
    std::fs::write(
        &diverging,
        "STEP,PHASE,ACTION,lr,loss-recon\n0,Blow-up,,1e30,1\n20,,,1e30,\n",
    )
    .unwrap();
    let calm = dir.join("calm.csv");
    std::fs::write(
        &calm,
        "STEP,PHASE,ACTION,lr,loss-recon\n0,Calm,,0.01,1\n20,,,0.01,\n",
    )
    .unwrap();
    let swept = succeed(
        cli()
            .arg("sweep")
            .arg(&diverging)
            .args(["--runs", "2", "--batch-size", "16", "--quiet", "--out"])
            .arg(dir.join("sweep")),
    );
    let stderr = String::from_utf8_lossy(&swept.stderr);
    assert!(
        stderr.contains("note: 2 of 2 runs stopped at a non-finite loss"),
        "{stderr}"
    );
    let table = std::fs::read_to_string(dir.join("sweep/sweep.csv")).unwrap();
    assert!(
        table.lines().skip(1).all(|row| row.contains("is NaN")),
        "each row names its failure: {table}"
    );
    let compared = succeed(
        cli()
            .arg("compare")
            .args([&calm, &diverging])
            .args(["--runs", "2", "--batch-size", "16", "--quiet", "--out"])
            .arg(dir.join("compare")),
    );
    let stderr = String::from_utf8_lossy(&compared.stderr);
    assert!(
        stderr.contains("note: B: 2 of 2 runs stopped at a non-finite loss"),
        "{stderr}"
    );
    assert!(!stderr.contains("note: A:"), "{stderr}");
}
