//! The seeded weighted batch sampler: its definition is the step crate's
//! ([`color_bottleneck_step::sampler`]), re-exported here; these tests hold it to the colour
//! data.

pub use color_bottleneck_step::sampler::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{data_fraction_weights, effective_probabilities, ColorCube};

    fn distributions() -> Vec<(f64, BatchDistribution)> {
        let cube = ColorCube::full();
        let vibrancy = cube.vibrancy.clone().unwrap();
        [0.0, 0.1, 0.25, 0.5, 0.9, 1.0]
            .into_iter()
            .map(|fraction| {
                let weights = data_fraction_weights(&vibrancy, fraction);
                let d = batch_distribution(&cube.bias, &weights, usize::MAX);
                assert!(d.has_guide());
                (fraction, (*d).clone())
            })
            .collect()
    }

    #[test]
    fn the_guide_finds_what_the_binary_search_finds() {
        for (fraction, d) in distributions() {
            let n = d.entries() as u64;
            // Every bucket's edges, where a rounding slip would show, and hashed bits.
            let edges = (0..n).flat_map(|b| {
                let lo = ((b << 32).div_ceil(n)) as u32;
                [lo.wrapping_sub(1), lo, lo.wrapping_add(1)]
            });
            let hashed = (0..200_000u32).map(mix);
            for bits in edges.chain(hashed).chain([0, u32::MAX]) {
                assert_eq!(
                    d.draw(bits),
                    d.draw_slow(bits),
                    "data-fraction {fraction}, bits {bits:#x}"
                );
            }
        }
    }

    #[test]
    fn the_integer_weights_are_the_effective_probabilities() {
        let cube = ColorCube::full();
        let vibrancy = cube.vibrancy.clone().unwrap();
        for fraction in [0.0, 0.1, 0.5, 1.0] {
            let weights = data_fraction_weights(&vibrancy, fraction);
            let p = effective_probabilities(&cube.bias, &weights).unwrap();
            let d = batch_distribution(&cube.bias, &weights, 0);
            let drawable: Vec<usize> = d.tables()[1].iter().map(|&c| c as usize).collect();
            let expected: Vec<usize> = (0..p.len()).filter(|&i| p[i] > 0.0).collect();
            assert_eq!(drawable, expected, "data-fraction {fraction}");
            for (e, &i) in drawable.iter().enumerate() {
                assert!(
                    (d.probability(e) - p[i]).abs() < 1e-8,
                    "data-fraction {fraction}, colour {i}: {} vs {}",
                    d.probability(e),
                    p[i]
                );
            }
        }
    }

    /// Counts over many batches against the probabilities: Pearson's χ² over the colours,
    /// with the classes too rare to count pooled.
    #[test]
    fn batches_follow_the_distribution() {
        let cube = ColorCube::full();
        let vibrancy = cube.vibrancy.clone().unwrap();
        for fraction in [0.0, 0.5, 1.0] {
            let mut sampler = WeightedBatchSampler::new(cube.bias.clone(), 256, 11);
            sampler.set_weights(&data_fraction_weights(&vibrancy, fraction));
            let d = sampler.distribution().clone();
            let mut counts = vec![0u64; cube.len()];
            let steps = 2_000u64;
            for step in 0..steps {
                for i in sampler.batch(step) {
                    counts[i] += 1;
                }
            }
            let draws = (steps * 256) as f64;
            let (mut chi2, mut classes, mut pooled_e, mut pooled_o) = (0.0, 0usize, 0.0, 0u64);
            for (e, &c) in d.tables()[1].iter().enumerate() {
                let expected = d.probability(e) * draws;
                let observed = counts[c as usize];
                if expected < 20.0 {
                    pooled_e += expected;
                    pooled_o += observed;
                } else {
                    chi2 += (observed as f64 - expected).powi(2) / expected;
                    classes += 1;
                }
            }
            if pooled_e > 0.0 {
                chi2 += (pooled_o as f64 - pooled_e).powi(2) / pooled_e;
                classes += 1;
            }
            let df = (classes - 1) as f64;
            // Mean df, sd √(2df): six sd is far beyond chance and far below any real bias.
            assert!(
                chi2 < df + 6.0 * (2.0 * df).sqrt(),
                "data-fraction {fraction}: χ² {chi2:.0} over {df} degrees of freedom"
            );
            let never: u64 = (0..cube.len())
                .filter(|i| !d.tables()[1].contains(&(*i as u32)))
                .map(|i| counts[i])
                .sum();
            assert_eq!(never, 0, "colours without weight were drawn");
        }
    }

    #[test]
    fn batches_differ_between_steps_and_seeds_and_repeat_for_the_same_pair() {
        let cube = ColorCube::full();
        let a = WeightedBatchSampler::new(cube.bias.clone(), 64, 1);
        let b = WeightedBatchSampler::new(cube.bias.clone(), 64, 2);
        let batch = |s: &WeightedBatchSampler, step| s.batch(step).collect::<Vec<_>>();
        assert_eq!(batch(&a, 5), batch(&a.clone(), 5));
        assert_ne!(batch(&a, 5), batch(&a, 6));
        assert_ne!(batch(&a, 5), batch(&b, 5));
        assert_ne!(batch(&a, 5), batch(&a, 5 + (1 << 32)));
    }

    #[test]
    fn uniform_draws_cover_every_colour_alike() {
        let d = BatchDistribution::uniform(3600);
        assert_eq!(d.entries(), 3600);
        let p: Vec<f64> = (0..3600).map(|e| d.probability(e)).collect();
        let (lo, hi) = p
            .iter()
            .fold((1.0f64, 0.0f64), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(hi - lo < 1e-12, "{lo} to {hi}");
    }
}
