//! The GPU engine (one CubeCL kernel per step for every run) against the CPU engine, which
//! tests/conformance.rs holds to the plain-Burn oracle. Runs wherever wgpu
//! finds an adapter: a GPU, or Mesa's lavapipe on the CPU (`apt install mesa-vulkan-drivers`),
//! which is what CI has. Built with `--features wgpu`; `cargo xtask test` runs it so.
#![cfg(feature = "wgpu")]

mod common;
use common::{blow_up_config, cli, max_difference, short_ex_1_5, succeed, timeline, BLOW_UP};

use burn::prelude::*;
use color_bottleneck::gpu_step::GpuSweep;
use color_bottleneck::run::RunSpec;
use color_bottleneck::step::loss::Term;
use color_bottleneck::sweep::{Sweep, SweepCheckpoint};

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

fn config(seed: u64, runs: usize, batch_size: usize) -> RunSpec {
    RunSpec {
        seed,
        runs,
        latent_dims: 4,
        batch_size,
    }
}

/// ex-1.5 in 259 steps, the anchor action at step 60 ([`short_ex_1_5`]).
fn short_ex_1_5_on_gpu(config: &RunSpec) -> GpuSweep {
    GpuSweep::new(timeline(&short_ex_1_5(60, 259)), *config, &gpu()).unwrap()
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
    let config = config(3, 3, 64);
    let mut on_gpu = short_ex_1_5_on_gpu(&config);
    let mut on_cpu = Sweep::new(timeline(&short_ex_1_5(60, 259)), config).unwrap();
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
                let d = max_difference(&on_gpu.host().parameters(r), &on_cpu.parameters(r));
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
    let (sheet, config) = (BLOW_UP, blow_up_config());
    let mut on_gpu = GpuSweep::new(timeline(sheet), config, &gpu()).unwrap();
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

/// Apply live after a failure: the failed runs go on from their restored weights, drawing from
/// the weights data-fraction has reached meanwhile, on the GPU as on the CPU.
#[test]
fn after_a_failure_apply_live_goes_on_alike_on_the_gpu_and_the_cpu() {
    let broken = "STEP,PHASE,ACTION,lr,loss-recon,reg-norm,data-fraction
0,Cube,,0.01,1,0.1,0
+0.5,,,1e30,,,0.5
40,,,,,,
";
    let mended = "STEP,PHASE,ACTION,lr,loss-recon,reg-norm,data-fraction
0,Cube,,0.01,1,0.1,0
40,,,,,,0.5
99,,,,,,1
";
    let config = blow_up_config();
    let mut on_gpu = GpuSweep::new(timeline(broken), config, &gpu()).unwrap();
    let mut on_cpu = Sweep::new(timeline(broken), config).unwrap();
    while !on_gpu.is_finished() {
        on_gpu.step();
    }
    on_gpu.read_blocking().unwrap();
    on_cpu.finish(1, &|_| {});
    assert!(on_cpu.runs().iter().all(|r| r.failure.is_some()));
    apply_live_on_both(&mut on_gpu, &mut on_cpu, mended);
}

/// Apply live of `mended` on both engines, trained to its end: every run goes on, and the two
/// end within the engines' tolerance.
fn apply_live_on_both(on_gpu: &mut GpuSweep, on_cpu: &mut Sweep, mended: &str) {
    on_gpu.set_timeline(timeline(mended));
    on_cpu.set_timeline(timeline(mended));
    while !on_gpu.is_finished() {
        on_gpu.step();
    }
    on_gpu.read_blocking().unwrap();
    on_cpu.finish(1, &|_| {});
    for r in 0..on_cpu.runs().len() {
        assert!(on_gpu.host().runs()[r].failure.is_none());
        let difference = max_difference(&on_gpu.host().parameters(r), &on_cpu.parameters(r));
        assert!(
            difference < 1e-4,
            "run {r}: parameters differ by {difference:e} after Apply live"
        );
    }
}

/// A sweep too big for one GPU buffer is refused with its sizes, before anything is sent.
#[test]
fn a_sweep_too_big_for_the_gpu_is_refused() {
    let config = RunSpec {
        seed: 0,
        runs: 64,
        latent_dims: 4,
        batch_size: 65_536,
    };
    let message = match GpuSweep::new(timeline(&short_ex_1_5(60, 259)), config, &gpu()) {
        Ok(_) => panic!("64 runs at batch 65,536 fit in one buffer?"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.starts_with("64 runs at batch 65536 need "),
        "{message}"
    );
}

/// The step is an operation on tensors: a state something else still holds (here a read not
/// yet made) is not overwritten, and the read sees the weights from before the step.
#[test]
fn a_step_leaves_a_state_held_elsewhere_as_it_was() {
    let config = config(5, 2, 16);
    let mut on_gpu = short_ex_1_5_on_gpu(&config);
    let before: Vec<f32> = on_gpu.host().parameters(1);
    let held = on_gpu.read_values(Vec::new());
    for _ in 0..3 {
        on_gpu.step();
    }
    let mut earlier = short_ex_1_5_on_gpu(&config);
    earlier.accept(&cubecl::future::block_on(held).unwrap());
    let moved = max_difference(&earlier.host().parameters(1), &before);
    assert!(moved == 0.0, "the held read saw weights moved by {moved:e}");
    on_gpu.read_blocking().unwrap();
    assert!(max_difference(&on_gpu.host().parameters(1), &before) > 0.0);
    assert_eq!(on_gpu.host().state(1).updates, 3);
}

/// A run handed over mid-curriculum goes on as if it had not moved: from the CPU engine to the
/// GPU's at a step (as bytes, as the page's workers pass it) and from the GPU's to the CPU's,
/// before and after the anchor action and through data-fraction's ramp, it ends within the
/// engines' tolerance of a run that never moved.
#[test]
fn a_run_handed_over_between_the_engines_goes_on_as_if_it_had_not_moved() {
    let sheet = short_ex_1_5(60, 259);
    let config = config(3, 3, 64);
    let mut straight = Sweep::new(timeline(&sheet), config).unwrap();
    straight.finish(1, &|_| {});
    let close_to_straight = |sweep: &Sweep, what: &str| {
        for r in 0..config.runs {
            let d = max_difference(&sweep.parameters(r), &straight.parameters(r));
            assert!(d <= 1e-4, "{what}, run {r}: parameters differ by {d:e}");
            assert_eq!(sweep.state(r).updates, straight.state(r).updates, "{what}");
        }
    };
    for at in [30, 150] {
        let mut cpu = Sweep::new(timeline(&sheet), config).unwrap();
        for _ in 0..at {
            cpu.step();
        }
        let saved = SweepCheckpoint::from_bytes(&cpu.save().to_bytes()).unwrap();
        let mut moved = GpuSweep::restore(timeline(&sheet), &saved, &gpu()).unwrap();
        assert_eq!(moved.step_index(), at);
        while !moved.is_finished() {
            moved.step();
        }
        moved.read_blocking().unwrap();
        close_to_straight(moved.host(), &format!("CPU to GPU at step {at}"));

        let mut gpu_first = short_ex_1_5_on_gpu(&config);
        for _ in 0..at {
            gpu_first.step();
        }
        gpu_first.read_blocking().unwrap();
        let saved = SweepCheckpoint::from_bytes(&gpu_first.host().save().to_bytes()).unwrap();
        assert_eq!(saved.step, at);
        let mut back = Sweep::restore(timeline(&sheet), &saved).unwrap();
        back.finish(1, &|_| {});
        close_to_straight(&back, &format!("GPU to CPU at step {at}"));
    }
}

/// Runs that failed on the CPU, handed to the GPU, go on after Apply live there as they do
/// on the CPU.
#[test]
fn failed_runs_handed_to_the_gpu_go_on_after_apply_live_as_on_the_cpu() {
    let mended = "STEP,PHASE,ACTION,lr,loss-recon,reg-norm\n0,Cube,,0.001,1,0.1\n80,,,,,\n";
    let mut on_cpu = Sweep::new(timeline(BLOW_UP), blow_up_config()).unwrap();
    on_cpu.finish(1, &|_| {});
    assert!(on_cpu.runs().iter().all(|r| r.failure.is_some()));
    let mut on_gpu = GpuSweep::restore(timeline(BLOW_UP), &on_cpu.save(), &gpu()).unwrap();
    apply_live_on_both(&mut on_gpu, &mut on_cpu, mended);
}

/// `sweep`, `compare` and `grid` with `--backend gpu` judge every seed as the CPU does, with
/// the same onsets (read back every 250 steps on the GPU, judged there on the CPU).
#[test]
fn the_cli_on_the_gpu_gives_the_cpus_verdicts() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("gpu-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.csv"), dir.join("b.csv"));
    std::fs::write(&a, short_ex_1_5(300, 700)).unwrap();
    std::fs::write(
        &b,
        short_ex_1_5(300, 700).replace(
            "0,Primary & secondary,,0.01,",
            "0,Primary & secondary,,0.003,",
        ),
    )
    .unwrap();
    let seeds = [
        "--runs",
        "8",
        "--first-seed",
        "3",
        "--batch-size",
        "32",
        "--quiet",
    ];
    // The columns that hold a judgement: every column but the measured errors and losses.
    let judged = |path: std::path::PathBuf, columns: &[usize]| -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(&path).unwrap();
        (text.lines())
            .map(|l| {
                let cells: Vec<&str> = l.split(',').collect();
                columns.iter().map(|&c| cells[c].to_string()).collect()
            })
            .collect()
    };
    let run = |command: &[&str], backend: &str| {
        let out = dir.join(format!("{}-{backend}", command[0]));
        succeed(
            cli()
                .args(command)
                .args(seeds)
                .args(["--backend", backend, "--out"])
                .arg(&out),
        );
        out
    };
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let sweep = ["sweep", a];
    let [cpu, gpu] = ["cpu", "gpu"].map(|backend| run(&sweep, backend));
    // seed, verdict, onset
    let columns = [0, 1, 11];
    let on_cpu = judged(cpu.join("sweep.csv"), &columns);
    assert_eq!(on_cpu, judged(gpu.join("sweep.csv"), &columns));
    assert!(
        on_cpu.iter().skip(1).any(|r| r[2] != "0"),
        "some onset after step 0: {on_cpu:?}"
    );

    let compare = ["compare", a, b];
    let [cpu, gpu] = ["cpu", "gpu"].map(|backend| run(&compare, backend));
    let columns = [0, 1, 2, 7, 8];
    assert_eq!(
        judged(cpu.join("compare.csv"), &columns),
        judged(gpu.join("compare.csv"), &columns)
    );

    let grid = ["grid", a, "--vary", "reg-separate@120=0..0.6/2"];
    let [cpu, gpu] = ["cpu", "gpu"].map(|backend| run(&grid, backend));
    let columns = [0, 1, 2, 5];
    assert_eq!(
        judged(cpu.join("grid-runs.csv"), &columns),
        judged(gpu.join("grid-runs.csv"), &columns)
    );
}
