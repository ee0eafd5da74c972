//! GELU (exact, erf-based) with its slope, and the logistic sigmoid, on host values.
//!
//! The forward pass needs GELU and the backward pass its slope at the same point, so both come
//! from one `exp`: the error function is the polynomial PyTorch's CPU kernels use
//! (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). The `exp` is written out without branches
//! or calls (libm's `expf` is a call per value in wasm), so the loops over the batch vectorise.
//! The kernel's `gelu_and_slope` and `sigmoid` (`gpu_step/kernel.rs`) are these, line for line,
//! with the same constants and the GPU's own `exp`.

/// The erf polynomial's coefficients (a₁…a₅) and its `p`.
pub const ERF_A1: f32 = 0.254_829_6;
pub const ERF_A2: f32 = -0.284_496_74;
pub const ERF_A3: f32 = 1.421_413_7;
pub const ERF_A4: f32 = -1.453_152;
pub const ERF_A5: f32 = 1.061_405_4;
pub const ERF_P: f32 = 0.327_591_1;
/// φ(0) = 1/√(2π), the Gaussian density's peak.
pub const PDF_PEAK: f32 = 0.5 * std::f32::consts::FRAC_2_SQRT_PI * std::f32::consts::FRAC_1_SQRT_2;

/// `e^x` for `x ≤ 0`, to about one ulp, without branches or calls so that loops over it
/// vectorise: x = k·ln 2 + r with |r| ≤ ln 2 / 2, then 2^k · (a degree-6 Taylor polynomial).
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5·2²³ rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    // A comparison, not `f32::max`: that is a libm call in wasm and stops vectorisation.
    let x = if x < -87.0 { -87.0 } else { x };
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (1.0 / 2.0
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // 2^k from `shifted`'s bits (its last mantissa bits hold k): no float-to-int conversion,
    // which would saturate and keep the loop scalar.
    let k_int = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    p * f32::from_bits(k_int.wrapping_add(127) << 23)
}

/// `(gelu(x), gelu'(x))` for one value, sharing `exp(-x²/2)` between Φ and φ.
#[inline(always)]
pub fn gelu_and_slope(x: f32) -> (f32, f32) {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + ERF_P * z);
    let poly = t * (ERF_A1 + t * (ERF_A2 + t * (ERF_A3 + t * (ERF_A4 + t * ERF_A5))));
    let gauss = exp_nonpositive(-0.5 * x * x);
    let erf_abs = 1.0 - poly * gauss;
    let cdf = 0.5 * (1.0 + erf_abs.copysign(x));
    let pdf = gauss * PDF_PEAK;
    (x * cdf, cdf + x * pdf)
}

/// `1 / (1 + e^(−x))`, with the same branch-free `exp`.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let r = 1.0 / (1.0 + e);
    if x >= 0.0 {
        r
    } else {
        e * r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate_to_an_ulp_or_two() {
        for i in 0..=87_000 {
            let x = -(i as f32) / 1000.0;
            let (got, want) = (exp_nonpositive(x) as f64, (x as f64).exp());
            assert!(
                (got - want).abs() <= 3e-7 * want,
                "exp({x}) = {got}, want {want}"
            );
        }
        assert!(exp_nonpositive(-1e30) < 1e-37);
    }

    #[test]
    fn matches_the_erf_definition() {
        for i in -800..=800 {
            let x = i as f32 / 100.0;
            let cdf = 0.5 * (1.0 + erf_series(x as f64 / std::f64::consts::SQRT_2));
            let pdf = (-0.5 * (x as f64).powi(2)).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let (g, s) = gelu_and_slope(x);
            assert!((g as f64 - x as f64 * cdf).abs() < 2e-6, "gelu({x})");
            assert!(
                (s as f64 - (cdf + x as f64 * pdf)).abs() < 2e-6,
                "gelu'({x})"
            );
        }
    }

    /// erf in f64 by its Taylor series (|x| < 6 is plenty here), independent of the polynomial.
    fn erf_series(x: f64) -> f64 {
        if x.abs() > 5.0 {
            return x.signum();
        }
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term.abs() > 1e-17 * sum.abs().max(1e-300) {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    /// Burn's own GELU and sigmoid (erf from libm) agree with ours to float precision.
    #[test]
    fn agrees_with_burns_activations() {
        use burn::prelude::*;
        let device = Device::flex();
        let values: Vec<f32> = (0..161).map(|i| (i as f32 - 80.0) / 10.0).collect();
        let x = Tensor::<1>::from_data(TensorData::new(values.clone(), [values.len()]), &device);
        let read = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
        let burns_gelu = read(burn::tensor::activation::gelu(x.clone()));
        let burns_sigmoid = read(burn::tensor::activation::sigmoid(x));
        for (i, &v) in values.iter().enumerate() {
            assert!(
                (gelu_and_slope(v).0 - burns_gelu[i]).abs() < 1e-6,
                "gelu({v})"
            );
            assert!((sigmoid(v) - burns_sigmoid[i]).abs() < 1e-6, "sigmoid({v})");
        }
    }
}
