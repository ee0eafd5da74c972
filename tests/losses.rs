//! Each loss term against values worked out by hand, and its gradient against finite
//! differences.

use burn::prelude::*;
use color_bottleneck::loss;

fn device() -> Device {
    Device::flex().autodiff()
}

fn tensor(values: &[f32], rows: usize) -> Tensor<2> {
    let cols = values.len() / rows;
    Tensor::from_data(TensorData::new(values.to_vec(), [rows, cols]), &device())
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_data().try_to_vec::<f32>().unwrap()[0] as f64
}

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{a} vs {b}");
}

#[test]
fn reconstruction_is_mean_squared_error() {
    let input = tensor(&[0.0, 0.5, 1.0, 1.0, 1.0, 1.0], 2);
    let output = tensor(&[0.1, 0.5, 0.8, 1.0, 0.7, 1.0], 2);
    // (0.01 + 0 + 0.04 + 0 + 0.09 + 0) / 6
    close(
        scalar(loss::reconstruction(input, output)),
        0.14 / 6.0,
        1e-6,
    );
}

#[test]
fn separation_leaves_out_the_diagonal_but_keeps_b_squared() {
    // Two points one unit apart in dims 0/1 (dims 2/3 are ignored).
    let z = tensor(&[0.0, 0.0, 5.0, 5.0, 1.0, 0.0, -5.0, 9.0], 2);
    // Off-diagonal pairs: 2 × 1/(1 + 1e-6); divided by B² = 4. The reference would add
    // 2 × 1e6 / 4 for the diagonal.
    close(scalar(loss::separation(z)), 2.0 / (1.0 + 1e-6) / 4.0, 1e-6);
}

#[test]
fn separation_of_a_regular_hexagon() {
    let mut v = Vec::new();
    for i in 0..6 {
        let a = i as f32 * std::f32::consts::TAU / 6.0;
        v.extend([a.cos(), a.sin(), 0.0, 0.0]);
    }
    // Per point: 2 neighbours at d²=1, 2 at d²=3, 1 opposite at d²=4.
    let expected = 6.0 * (2.0 + 2.0 / 3.0 + 0.25) / 36.0;
    close(scalar(loss::separation(tensor(&v, 6))), expected, 1e-5);
}

#[test]
fn planarity_averages_the_extra_dims() {
    let z = tensor(&[9.0, 9.0, 1.0, 2.0, 9.0, 9.0, 0.0, -3.0], 2);
    close(
        scalar(loss::planarity(z).unwrap()),
        (1.0 + 4.0 + 0.0 + 9.0) / 4.0,
        1e-6,
    );
    assert!(
        loss::planarity(tensor(&[1.0, 2.0], 1)).is_none(),
        "two dims have nothing to flatten"
    );
}

#[test]
fn unit_norm_penalises_distance_from_the_sphere() {
    let z = tensor(&[3.0, 4.0, 0.0, 0.0, 0.0, 0.5], 2);
    // Norms 5 and 0.5: ((5−1)² + (0.5−1)²) / 2
    close(scalar(loss::unit_norm(z)), (16.0 + 0.25) / 2.0, 1e-6);
}

#[test]
fn anchor_is_mean_squared_drift() {
    let z = tensor(&[1.0, 2.0, 3.0, 4.0], 1);
    let reference = tensor(&[1.0, 0.0, 3.0, 5.0], 1);
    close(scalar(loss::anchor(z, reference)), (4.0 + 1.0) / 4.0, 1e-6);
}

/// Analytic gradient of `f` at `x` (via Burn's autodiff) against central differences.
fn check_gradient(name: &str, values: &[f32], rows: usize, f: impl Fn(Tensor<2>) -> Tensor<1>) {
    let x = tensor(values, rows).require_grad();
    let grads = f(x.clone()).backward();
    let analytic = x
        .grad(&grads)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let h = 1e-3f32;
    let eval = |v: Vec<f32>| scalar(f(tensor(&v, rows)));
    for i in 0..values.len() {
        let (mut plus, mut minus) = (values.to_vec(), values.to_vec());
        plus[i] += h;
        minus[i] -= h;
        let numeric = (eval(plus) - eval(minus)) / (2.0 * h as f64);
        let a = analytic[i] as f64;
        assert!(
            (a - numeric).abs() <= 2e-2 * (1.0 + numeric.abs()),
            "{name}: d/dx[{i}] analytic {a} vs numeric {numeric}"
        );
    }
}

const Z: [f32; 12] = [
    0.3, -0.7, 0.2, 0.1, 0.9, 0.4, -0.5, 0.3, -0.6, 0.8, 0.05, -0.2,
];

#[test]
fn gradients_match_finite_differences() {
    check_gradient("separation", &Z, 3, loss::separation);
    check_gradient("planarity", &Z, 3, |z| loss::planarity(z).unwrap());
    check_gradient("unit_norm", &Z, 3, loss::unit_norm);
    let reference = [
        0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2,
    ];
    check_gradient("anchor", &Z, 3, |z| loss::anchor(z, tensor(&reference, 3)));
    let target = [
        0.2f32, 0.4, 0.6, 0.1, 0.3, 0.5, 0.9, 0.8, 0.7, 0.0, 1.0, 0.5,
    ];
    check_gradient("reconstruction", &Z, 4, |z| {
        loss::reconstruction(tensor(&target, 4), z)
    });
}
