//! The reference implementation's outputs (tests/golden, copied from shared/golden), matched
//! bit for bit unless the golden README says otherwise.

use color_bottleneck::data::{self, ColorCube};
use color_bottleneck::dopesheet::{python_repr, Dopesheet, EX_1_5};
use color_bottleneck::timeline::Timeline;
use serde_json::Value;

fn golden(name: &str) -> String {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn ex_1_5() -> Timeline {
    Timeline::new(&Dopesheet::parse(EX_1_5).unwrap())
}

#[test]
fn timeline_matches_every_golden_row_bit_for_bit() {
    let text = golden("timeline.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let timeline = ex_1_5();
    assert_eq!(
        &header[5..],
        timeline
            .properties()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    let mut rows = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let step: u64 = cells[0].parse().unwrap();
        let state = timeline.state(step);
        assert_eq!(state.phase, cells[1], "phase at step {step}");
        assert_eq!(state.actions.join(";"), cells[2], "actions at step {step}");
        assert_eq!(
            state.is_phase_start,
            cells[3] == "1",
            "is_phase_start at step {step}"
        );
        assert_eq!(
            state.is_phase_end,
            cells[4] == "1",
            "is_phase_end at step {step}"
        );
        for (i, cell) in cells[5..].iter().enumerate() {
            let expected: f64 = cell.parse().unwrap();
            let got = state.values[i];
            assert_eq!(
                got.to_bits(),
                expected.to_bits(),
                "{} at step {step}: {got:e} != {expected:e}",
                header[5 + i]
            );
        }
        rows += 1;
    }
    assert_eq!(rows, 20_002);
    assert_eq!(timeline.len(), 20_001);
}

#[test]
fn timeline_iterator_agrees_with_random_access() {
    let timeline = ex_1_5();
    let mut count = 0;
    for state in timeline.iter() {
        assert_eq!(state, timeline.state(state.step));
        count += 1;
    }
    assert_eq!(count, 20_001);
}

#[test]
fn python_repr_formats_the_golden_values_identically() {
    let text = golden("timeline.csv");
    for line in text.lines().skip(1).step_by(97) {
        for cell in line.split(',').skip(5) {
            assert_eq!(python_repr(cell.parse().unwrap()), cell);
        }
    }
    assert_eq!(python_repr(1e16), "1e+16");
    assert_eq!(python_repr(0.0001), "0.0001");
    assert_eq!(python_repr(-2.5e-7), "-2.5e-07");
}

/// The seed shows the schedule as a Markdown table (tabulate's pipe format, blanks for no
/// value); ours is the same byte for byte.
#[test]
fn markdown_table_matches_the_seed() {
    let sheet = Dopesheet::parse(EX_1_5).unwrap();
    let ours = sheet.to_markdown();
    let seed = golden("dopesheet_markdown.md");
    for (i, (a, b)) in ours.lines().zip(seed.lines()).enumerate() {
        assert_eq!(a, b, "line {}", i + 1);
    }
    assert_eq!(ours, seed);
}

#[test]
fn resolved_table_matches_pandas_output() {
    let sheet = Dopesheet::parse(EX_1_5).unwrap();
    assert_eq!(sheet.resolved_csv(), golden("dopesheet_resolved.csv"));
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn assert_bits(name: &str, got: &[f64], expected: &[f64]) {
    assert_eq!(got.len(), expected.len(), "{name}: length");
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(g.to_bits(), e.to_bits(), "{name}[{i}]: {g:e} != {e:e}");
    }
}

fn assert_close(name: &str, got: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(got.len(), expected.len(), "{name}: length");
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert!((g - e).abs() <= tolerance, "{name}[{i}]: {g:e} vs {e:e}");
    }
}

fn cubes() -> Value {
    serde_json::from_str(&golden("color_cubes.json")).unwrap()
}

fn check_cube(name: &str, cube: &ColorCube, expected: &Value) {
    let shape: Vec<usize> = expected["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(cube.shape.to_vec(), shape, "{name} shape");
    let rgb: Vec<f64> = cube.rgb.iter().flatten().copied().collect();
    assert_bits(&format!("{name}.rgb"), &rgb, &floats(&expected["rgb"]));
    assert_bits(
        &format!("{name}.bias"),
        &cube.bias,
        &floats(&expected["bias"]),
    );
}

#[test]
fn arange_cyclic_matches() {
    let g = cubes();
    assert_bits(
        "step_1_6",
        &data::arange_cyclic(0.0, 1.0 / 6.0, 1.0),
        &floats(&g["arange_cyclic"]["step_1_6"]),
    );
    assert_bits(
        "step_10_360",
        &data::arange_cyclic(0.0, 10.0 / 360.0, 1.0),
        &floats(&g["arange_cyclic"]["step_10_360"]),
    );
}

#[test]
fn cubes_match() {
    let g = cubes();
    check_cube("primary_cube", &ColorCube::primaries(), &g["primary_cube"]);
    check_cube("full_cube", &ColorCube::full(), &g["full_cube"]);
    check_cube("rgb_cube", &ColorCube::rgb_grid(), &g["rgb_cube"]);
    let full = ColorCube::full();
    assert_bits(
        "full_cube.vibrancy",
        full.vibrancy.as_ref().unwrap(),
        &floats(&g["full_cube"]["vibrancy"]),
    );
    assert_bits(
        "full_cube.s",
        &data::linspace(0.0, 1.0, 10),
        &floats(&g["full_cube"]["s"]),
    );
}

#[test]
fn initial_sampler_probabilities_match() {
    let g = cubes();
    let full = ColorCube::full();
    let p = data::effective_probabilities(&full.bias, &vec![1.0; full.len()]).unwrap();
    assert_close(
        "initial_sampler_probs",
        &p,
        &floats(&g["full_cube"]["initial_sampler_probs"]),
        1e-15,
    );
}

#[test]
fn data_fraction_levels_match() {
    let g = cubes();
    let full = ColorCube::full();
    let vibrancy = full.vibrancy.unwrap();
    let entries = g["levels_by_data_fraction"].as_array().unwrap();
    assert_eq!(entries.len(), 6);
    for entry in entries {
        let fraction = entry["data_fraction"].as_f64().unwrap();
        let (in_low, out_low) = data::data_fraction_levels(fraction);
        assert_eq!(
            in_low.to_bits(),
            entry["in_low"].as_f64().unwrap().to_bits(),
            "in_low at {fraction}"
        );
        assert_eq!(
            out_low.to_bits(),
            entry["out_low"].as_f64().unwrap().to_bits(),
            "out_low at {fraction}"
        );
        let weights = data::data_fraction_weights(&vibrancy, fraction);
        assert_bits(
            &format!("weights at {fraction}"),
            &weights,
            &floats(&entry["weights"]),
        );
        let nonzero = weights.iter().filter(|w| **w != 0.0).count() as u64;
        assert_eq!(
            nonzero,
            entry["n_nonzero_weights"].as_u64().unwrap(),
            "nonzero at {fraction}"
        );
        let p = data::effective_probabilities(&full.bias, &weights).unwrap();
        assert_close(
            &format!("effective_probs at {fraction}"),
            &p,
            &floats(&entry["effective_probs"]),
            1e-15,
        );
    }
}
