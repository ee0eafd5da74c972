//! Each loss term of the step's definition (`step::loss`) against values worked out by hand,
//! and its gradient against finite differences of its own value.

use color_bottleneck::step::loss::{objective, HostBatch, HostGradient, PerTerm, Term};

/// The values a term reads: `[rows, 3]` outputs, `[rows, dims]` latents (the batch's rows,
/// then the anchor rows), the `[batch, 3]` input and the anchor reference.
#[derive(Clone)]
struct Values {
    outputs: Vec<f32>,
    latents: Vec<f32>,
    input: Vec<f32>,
    anchor: Vec<f32>,
    dims: usize,
    batch: usize,
}

/// Latents alone, every row in the batch.
fn latents(values: &[f32], rows: usize) -> Values {
    Values {
        outputs: vec![0.5; rows * 3],
        latents: values.to_vec(),
        input: vec![0.5; rows * 3],
        anchor: Vec::new(),
        dims: values.len() / rows,
        batch: rows,
    }
}

/// Only `term` weighted (1).
fn only(term: Term) -> PerTerm<f64> {
    PerTerm::from_fn(|t| if t == term { 1.0 } else { 0.0 })
}

fn batch(v: &Values) -> HostBatch<'_> {
    HostBatch {
        outputs: &v.outputs,
        latents: &v.latents,
        input: &v.input,
        anchor: &v.anchor,
        dims: v.dims,
        batch: v.batch,
    }
}

fn value(term: Term, v: &Values) -> f64 {
    let o = objective(&batch(v), &only(term), None);
    assert!(o.computed[term], "{term} not computed");
    assert_eq!(o.total, o.terms[term], "weight 1: the total is the term");
    o.terms[term] as f64
}

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{a} vs {b}");
}

#[test]
fn reconstruction_is_mean_squared_error() {
    let v = Values {
        outputs: vec![0.1, 0.5, 0.8, 1.0, 0.7, 1.0],
        input: vec![0.0, 0.5, 1.0, 1.0, 1.0, 1.0],
        ..latents(&[0.0; 4], 2)
    };
    // (0.01 + 0 + 0.04 + 0 + 0.09 + 0) / 6
    close(value(Term::Reconstruction, &v), 0.14 / 6.0, 1e-6);
}

#[test]
fn separation_leaves_out_the_diagonal_but_keeps_b_squared() {
    // Two points one unit apart in dims 0/1 (dims 2/3 are ignored).
    let v = latents(&[0.0, 0.0, 5.0, 5.0, 1.0, 0.0, -5.0, 9.0], 2);
    // Off-diagonal pairs: 2 × 1/(1 + 1e-6); divided by B² = 4. The notebook would add
    // 2 × 1e6 for the diagonal.
    close(value(Term::Separation, &v), 2.0 / (1.0 + 1e-6) / 4.0, 1e-6);
}

#[test]
fn separation_of_a_regular_hexagon() {
    let mut z = Vec::new();
    for i in 0..6 {
        let a = i as f32 * std::f32::consts::TAU / 6.0;
        z.extend([a.cos(), a.sin(), 0.0, 0.0]);
    }
    // Per point: 2 neighbours at d²=1, 2 at d²=3, 1 opposite at d²=4.
    let expected = 6.0 * (2.0 + 2.0 / 3.0 + 0.25) / 36.0;
    close(value(Term::Separation, &latents(&z, 6)), expected, 1e-5);
}

#[test]
fn planarity_averages_the_extra_dims() {
    let v = latents(&[9.0, 9.0, 1.0, 2.0, 9.0, 9.0, 0.0, -3.0], 2);
    close(
        value(Term::Planarity, &v),
        (1.0 + 4.0 + 0.0 + 9.0) / 4.0,
        1e-6,
    );
    let flat = latents(&[1.0, 2.0], 1);
    let o = objective(&batch(&flat), &only(Term::Planarity), None);
    assert!(
        !o.computed[Term::Planarity] && o.total == 0.0,
        "two dims have nothing to flatten"
    );
}

#[test]
fn unit_norm_penalises_distance_from_the_sphere() {
    let v = latents(&[3.0, 4.0, 0.0, 0.0, 0.0, 0.5], 2);
    // Norms 5 and 0.5: ((5−1)² + (0.5−1)²) / 2
    close(value(Term::UnitNorm, &v), (16.0 + 0.25) / 2.0, 1e-6);
}

#[test]
fn anchor_is_mean_squared_drift() {
    // No batch rows: the one row is an anchor row.
    let v = Values {
        anchor: vec![1.0, 0.0, 3.0, 5.0],
        batch: 0,
        input: Vec::new(),
        ..latents(&[1.0, 2.0, 3.0, 4.0], 1)
    };
    close(value(Term::Anchor, &v), (4.0 + 1.0) / 4.0, 1e-6);
}

#[test]
fn an_unweighted_or_inapplicable_term_is_not_computed() {
    let v = latents(&[0.3, -0.7, 0.2, 0.1], 1);
    let none = objective(&batch(&v), &PerTerm::from_fn(|_| 0.0), None);
    assert_eq!(none.computed, PerTerm([false; 5]));
    assert_eq!(none.total, 0.0);
    // The anchor term needs a reference.
    let o = objective(&batch(&v), &only(Term::Anchor), None);
    assert!(!o.computed[Term::Anchor]);
}

/// The term's gradient (weight 0.7) against central differences of its value, with respect
/// to the values it reads: the outputs for reconstruction, the latents otherwise.
fn check_gradient(term: Term, v: &Values) {
    let weight = 0.7;
    let weights = PerTerm::from_fn(|t| if t == term { weight } else { 0.0 });
    let mut g = HostGradient::default();
    g.reset(&batch(v));
    objective(&batch(v), &weights, Some(&mut g));
    let on_outputs = term == Term::Reconstruction;
    let analytic = if on_outputs { &g.outputs } else { &g.latents };
    let h = 1e-3f32;
    for i in 0..analytic.len() {
        let nudged = |by: f32| {
            let mut w = v.clone();
            let at = if on_outputs {
                &mut w.outputs
            } else {
                &mut w.latents
            };
            at[i] += by;
            weight * value(term, &w)
        };
        let numeric = (nudged(h) - nudged(-h)) / (2.0 * h as f64);
        let a = analytic[i] as f64;
        assert!(
            (a - numeric).abs() <= 1e-3 + 1e-2 * numeric.abs(),
            "{term}: d/dx[{i}] analytic {a} vs numeric {numeric}"
        );
    }
    // The values the term does not read get no gradient.
    let other = if on_outputs { &g.latents } else { &g.outputs };
    assert!(other.iter().all(|&x| x == 0.0), "{term}");
    assert!(analytic.iter().any(|&x| x != 0.0), "{term}: no gradient");
}

const Z: [f32; 12] = [
    0.3, -0.7, 0.2, 0.1, 0.9, 0.4, -0.5, 0.3, -0.6, 0.8, 0.05, -0.2,
];

#[test]
fn gradients_match_finite_differences() {
    let v = latents(&Z, 3);
    check_gradient(Term::Separation, &v);
    check_gradient(Term::Planarity, &v);
    check_gradient(Term::UnitNorm, &v);
    // Two batch rows, then one anchor row.
    let anchored = Values {
        anchor: vec![0.1, 0.2, 0.3, 0.4],
        batch: 2,
        input: vec![0.5; 6],
        ..latents(&Z, 3)
    };
    check_gradient(Term::Anchor, &anchored);
    let reconstructing = Values {
        outputs: vec![0.2, 0.4, 0.6, 0.1, 0.3, 0.5, 0.9, 0.8, 0.7],
        input: vec![0.3, 0.3, 0.3, 0.0, 1.0, 0.5, 0.5, 0.6, 0.1],
        ..latents(&Z, 3)
    };
    check_gradient(Term::Reconstruction, &reconstructing);
}
