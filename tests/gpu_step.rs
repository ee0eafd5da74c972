//! The GPU engine (one CubeCL kernel per step for every run) against the fused CPU sweep,
//! which tests/fused_step.rs holds to Burn's term-by-term reference. Runs wherever wgpu
//! finds an adapter: a GPU, or Mesa's lavapipe on the CPU (`apt install mesa-vulkan-drivers`),
//! which is what CI has. Built with `--features wgpu`; `cargo xtask test` runs it so.
#![cfg(feature = "wgpu")]

use burn::prelude::*;
use color_bottleneck::dopesheet::Dopesheet;
use color_bottleneck::gpu_step::{client_of, GpuSweep};
use color_bottleneck::loss::Term;
use color_bottleneck::sweep::{Sweep, SweepConfig};
use color_bottleneck::timeline::Timeline;

/// ex-1.5's shape in 260 steps: the primaries with every phase-1 term, then the anchor action
/// and the weighted cube with a moving data-fraction and the anchor term.
const SHORT_EX_1_5: &str = "\
STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-planar,reg-norm,reg-anchor,data-fraction
0,Primary & secondary,,0.01,1.0,0.0,0.2,0.1,,
+0.4,,,,0.8,0.3,,,,
60,All hues,anchor,,,0.0,0.4,0.25,0.0,0.0
+0.5,,,,,,,,0.3,0.25
259,,,0.001,1.0,,,,0.5,1.0
";

fn timeline(sheet: &str) -> Timeline {
    Timeline::new(&Dopesheet::parse(sheet).unwrap())
}

/// The wgpu runtime starts once per process; the tests share it.
fn gpu() -> Device {
    static GPU: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    GPU.get_or_init(|| {
        Device::wgpu_options().init().unwrap_or_else(|e| {
            panic!(
                "no wgpu adapter ({e}). On Debian, `apt install mesa-vulkan-drivers` gives a \
                 Vulkan device on the CPU (lavapipe)"
            )
        })
    })
    .clone()
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Every step of every run: the losses within 1e-4 relative and the parameters within 1e-4
/// every 20 steps, through the anchor action; and one launch per step for all runs.
///
/// Not 1e-5 as the CPU engines are held to each other: the kernel sums in another order, so
/// each gradient differs by ~1e-7 of the largest, and Adam divides each component by its own
/// size, so a small component's update carries that error a thousandfold. Measured: weights
/// within 1.9e-5, totals within 1.2e-5 relative over these 260 steps.
#[test]
fn the_gpu_step_is_the_fused_cpu_step() {
    let config = SweepConfig {
        first_seed: 3,
        runs: 3,
        latent_dims: 4,
        batch_size: 64,
    };
    let client = client_of(&gpu()).unwrap();
    let mut on_gpu = GpuSweep::new(timeline(SHORT_EX_1_5), config.clone(), client).unwrap();
    let mut on_cpu = Sweep::new(timeline(SHORT_EX_1_5), config.clone()).unwrap();
    let (mut worst_params, mut worst_loss) = (0.0f32, 0.0f32);
    while !on_cpu.is_finished() {
        let step = on_cpu.step_index();
        on_cpu.step();
        on_gpu.step();
        on_gpu.read_blocking().unwrap();
        for r in 0..config.runs {
            let (gpu, cpu) = (
                on_gpu.host().runs()[r].last.unwrap(),
                on_cpu.runs()[r].last.unwrap(),
            );
            assert_eq!(gpu.computed, cpu.computed, "step {step}");
            assert_eq!(gpu.updated, cpu.updated, "step {step}");
            let close =
                |a: f32, b: f32, tolerance: f32| (a - b).abs() <= tolerance * (1e-3 + b.abs());
            assert!(
                close(gpu.total, cpu.total, 1e-4),
                "run {r} step {step}: total {} vs {}",
                gpu.total,
                cpu.total
            );
            worst_loss = worst_loss.max((gpu.total - cpu.total).abs() / cpu.total.abs().max(1e-3));
            for term in Term::ALL {
                assert!(
                    close(gpu.terms[term], cpu.terms[term], 1e-4),
                    "run {r} step {step} {term}: {} vs {}",
                    gpu.terms[term],
                    cpu.terms[term]
                );
            }
            if step.is_multiple_of(20) || on_cpu.is_finished() {
                let d = max_difference(on_gpu.host().parameters(r), on_cpu.parameters(r));
                worst_params = worst_params.max(d);
                assert!(d <= 1e-4, "run {r} step {step}: parameters differ by {d}");
                assert_eq!(on_gpu.host().state(r).updates, on_cpu.state(r).updates);
            }
        }
    }
    assert!(on_gpu.host().runs()[0].last.unwrap().terms[Term::Anchor] > 0.0);
    assert_eq!(on_gpu.launches, on_cpu.step_index());
    eprintln!("largest parameter difference {worst_params:e}, largest relative total difference {worst_loss:e}");
}

/// A loss that goes non-finite stops only its run, which goes back to the weights from before
/// the update that broke it, and says where, as on the CPU.
#[test]
fn a_non_finite_loss_on_the_gpu_stops_its_run_with_finite_weights() {
    let sheet =
        "STEP,PHASE,ACTION,lr,loss-recon,reg-norm\n0,Cube,,0.01,1,0.1\n+0.5,,,1e30,,\n40,,,,,\n";
    let config = SweepConfig {
        first_seed: 0,
        runs: 2,
        latent_dims: 4,
        batch_size: 16,
    };
    let client = client_of(&gpu()).unwrap();
    let mut on_gpu = GpuSweep::new(timeline(sheet), config.clone(), client).unwrap();
    while !on_gpu.is_finished() {
        on_gpu.step();
    }
    on_gpu.read_blocking().unwrap();
    let mut on_cpu = Sweep::new(timeline(sheet), config).unwrap();
    on_cpu.finish(1, &|_| {});
    for r in 0..2 {
        let run = &on_gpu.host().runs()[r];
        let message = run
            .failure
            .as_ref()
            .expect("lr 1e30 blows up every run")
            .to_string();
        assert!(
            message.contains(": loss-recon is NaN (total = NaN"),
            "{message}"
        );
        let cpu_message = on_cpu.runs()[r].failure.as_ref().unwrap().to_string();
        assert_eq!(
            message.split(':').next(),
            cpu_message.split(':').next(),
            "the same step as the CPU"
        );
        assert!(on_gpu.host().parameters(r).iter().all(|p| p.is_finite()));
    }
}

/// A sweep too big for one GPU buffer is refused with its sizes, before anything is sent.
#[test]
fn a_sweep_too_big_for_the_gpu_is_refused() {
    let config = SweepConfig {
        first_seed: 0,
        runs: 64,
        latent_dims: 4,
        batch_size: 65_536,
    };
    let client = client_of(&gpu()).unwrap();
    let message = match GpuSweep::new(timeline(SHORT_EX_1_5), config, client) {
        Ok(_) => panic!("64 runs at batch 65,536 fit in one buffer?"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.starts_with("64 runs at batch 65536 need "),
        "{message}"
    );
}
