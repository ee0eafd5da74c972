//! Where a worker's runs train: the CPU engine or a GPU, how the GPU device is found, and
//! how fast each engine is at a run's shape.

use super::*;

pub(super) use crate::settings::Backend;

/// Values still on the GPU, read at the next sync (nothing, in the CPU-only build).
#[cfg(feature = "webgpu")]
pub(super) type DeviceValues = crate::gpu_step::DeviceValues;
#[cfg(not(feature = "webgpu"))]
pub(super) type DeviceValues = std::convert::Infallible;

/// The runs the CPU engine trains. The WebGPU module trains on a GPU only: a run on the CPU
/// loads the CPU module, which is built for speed. There this type has no values, so the
/// CPU step (and a comparison's second sheet, which trains on it) is not in its download.
#[cfg(not(feature = "webgpu"))]
pub(super) type CpuSweep = Sweep;
#[cfg(feature = "webgpu")]
pub(super) enum CpuSweep {}

#[cfg(feature = "webgpu")]
impl std::ops::Deref for CpuSweep {
    type Target = Sweep;
    fn deref(&self) -> &Sweep {
        match *self {}
    }
}

#[cfg(feature = "webgpu")]
impl std::ops::DerefMut for CpuSweep {
    fn deref_mut(&mut self) -> &mut Sweep {
        match *self {}
    }
}

/// The CPU engine's runs: fresh, or those of `saved` going on from where they stood. The
/// WebGPU module refuses, before building anything.
pub(super) fn cpu_sweep(
    timeline: Timeline,
    config: RunSpec,
    saved: Option<&SweepCheckpoint>,
) -> Result<Box<CpuSweep>, String> {
    #[cfg(feature = "webgpu")]
    {
        let _ = (timeline, config, saved);
        Err(ON_GPU_ONLY.to_string())
    }
    #[cfg(not(feature = "webgpu"))]
    match saved {
        Some(saved) => Sweep::restore(timeline, saved).map_err(|e| e.to_string()),
        None => Sweep::new(timeline, config).map_err(|e| e.to_string()),
    }
    .map(Box::new)
}

/// Why the WebGPU module refuses a run on the CPU.
#[cfg(feature = "webgpu")]
const ON_GPU_ONLY: &str =
    "the WebGPU module trains on a GPU only; the page trains on the CPU with its CPU module";

/// How a run trains: on the CPU with the fused step (everything on the host), or on a GPU with
/// the fused kernel (weights on the device until a read-back brings them into its host sweep).
pub(super) enum Engine {
    Cpu(Box<CpuSweep>),
    #[cfg(feature = "webgpu")]
    Gpu(Box<GpuSweep>),
}

impl Engine {
    /// A fresh sweep, or the runs of `saved` going on from where they stood.
    pub(super) fn new(
        timeline: Timeline,
        config: RunSpec,
        device: Option<&Device>,
        saved: Option<&SweepCheckpoint>,
    ) -> Result<Self, String> {
        match device {
            #[cfg(feature = "webgpu")]
            Some(device) => {
                let gpu = match saved {
                    Some(saved) => GpuSweep::restore(timeline, saved, device),
                    None => GpuSweep::new(timeline, config, device),
                };
                Ok(Engine::Gpu(Box::new(gpu.map_err(|e| e.to_string())?)))
            }
            _ => cpu_sweep(timeline, config, saved).map(Engine::Cpu),
        }
    }

    /// The runs as the host knows them: on a GPU, as of the last read-back.
    pub(super) fn sweep(&self) -> &Sweep {
        match self {
            Engine::Cpu(s) => s,
            #[cfg(feature = "webgpu")]
            Engine::Gpu(g) => g.host(),
        }
    }

    pub(super) fn timeline(&self) -> &Timeline {
        self.sweep().timeline()
    }

    /// The step the next call trains.
    pub(super) fn step_index(&self) -> u64 {
        self.sweep().step_index()
    }

    pub(super) fn is_finished(&self) -> bool {
        self.step_index() >= self.timeline().len()
    }
}

#[cfg(feature = "webgpu")]
thread_local! {
    /// The worker's GPU device once started: wgpu's runtime starts once per worker, and a
    /// later experiment in the same worker (another number of runs) reuses it.
    pub(super) static GPU_DEVICE: RefCell<Option<Device>> = const { RefCell::new(None) };
}

/// The GPU device to train on, or `None` for the CPU, and a notice when the request could
/// not be met. The WebGPU build trains on a GPU only: without one it refuses, and the page
/// trains on the CPU build, which is built for speed.
pub(super) async fn device_for(
    requested: &str,
) -> Result<(Backend, Option<Device>, Option<String>), String> {
    #[cfg(feature = "webgpu")]
    {
        if requested == "cpu" {
            return Err(ON_GPU_ONLY.to_string());
        }
        if let Some(device) = GPU_DEVICE.with_borrow(|d| d.clone()) {
            return Ok((Backend::WebGpu, Some(device), None));
        }
        if !has_webgpu() {
            return Err("no WebGPU here".to_string());
        }
        match Device::wgpu_options().init_async().await {
            Ok(device) => {
                GPU_DEVICE.set(Some(device.clone()));
                Ok((Backend::WebGpu, Some(device), None))
            }
            Err(e) if e.to_string().contains("No adapter") => {
                Err("this browser offers WebGPU but no adapter".to_string())
            }
            Err(e) => Err(format!("WebGPU failed to start ({e})")),
        }
    }
    #[cfg(not(feature = "webgpu"))]
    {
        if requested == "cpu" {
            return Ok((Backend::Cpu, None, None));
        }
        let note =
            (requested == "webgpu").then(|| "no WebGPU here; running on the CPU".to_string());
        Ok((Backend::Cpu, None, note))
    }
}

/// A curriculum of one cube phase with every term on: what most of a run's steps cost at the
/// configured batch (phase 1 trains on six colours whatever the batch). Both engines are
/// timed on it, so their figures compare like with like.
pub(super) const RATE_SHEET: &str =
    "STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-planar,reg-norm
0,Full color space,,0.001,1,0.1,0.1,0.1
100000,,,,,,,
";

/// Steps per second of `runs` runs at `batch` on this module's CPU engine: 50 ms of warm-up,
/// then 150 ms timed. V8 first runs new code as baseline code and swaps in optimised code
/// once it is hot (the first 50 ms ran at 40–60% of the later speed, in Node at batch 256).
pub(super) fn cpu_steps_per_second(config: RunSpec) -> Result<f64, String> {
    let timeline = parse(RATE_SHEET).expect("the rate sheet parses");
    let mut cpu = cpu_sweep(timeline, config, None)?;
    let mut time = |ms: f64| {
        let (started, mut steps) = (now(), 0u32);
        while now() - started < ms {
            cpu.step();
            steps += 1;
        }
        steps as f64 * 1000.0 / (now() - started)
    };
    time(50.0);
    Ok(time(150.0))
}

/// Steps per second of `runs` runs at `batch` on the GPU engine, over about a quarter of a
/// second, after two steps that compile its kernel. Each burst ends in a read-back, so the
/// figure counts its whole queue.
#[cfg(feature = "webgpu")]
pub(super) async fn gpu_steps_per_second(config: RunSpec, gpu: &Device) -> Result<f64, String> {
    let timeline = parse(RATE_SHEET).expect("the rate sheet parses");
    let mut sweep = GpuSweep::new(timeline, config, gpu).map_err(|e| e.to_string())?;
    let burst = async |sweep: &mut GpuSweep, n: u32| {
        for _ in 0..n {
            sweep.step();
        }
        sweep
            .read_values(Vec::new())
            .await
            .map_err(|e| e.to_string())
    };
    burst(&mut sweep, 2).await?;
    const BUDGET_MS: f64 = 250.0;
    let (mut steps, mut n) = (0u32, 4u32);
    let started = now();
    while n > 0 {
        burst(&mut sweep, n).await?;
        steps += n;
        // As many as the rest of the budget holds at the speed so far, at most twice as many.
        let elapsed = now() - started;
        let per_step = elapsed / steps as f64;
        n = (((BUDGET_MS - elapsed) / per_step).max(0.0) as u32).min(2 * n);
    }
    Ok(steps as f64 * 1000.0 / (now() - started).max(1.0))
}

/// Whether this global (page or worker) has `navigator.gpu`.
#[cfg(feature = "webgpu")]
pub(super) fn has_webgpu() -> bool {
    let get = |target: &JsValue, key: &str| js_sys::Reflect::get(target, &key.into()).ok();
    get(&js_sys::global(), "navigator")
        .and_then(|n| get(&n, "gpu"))
        .is_some_and(|gpu| !gpu.is_undefined() && !gpu.is_null())
}

/// A GPU read-back in flight.
#[cfg(feature = "webgpu")]
pub(super) type GpuRead = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<Vec<u8>>, crate::gpu_step::GpuError>>>,
>;

/// What a GPU read-back carries beyond the runs' state, in the order it was queued.
#[cfg(feature = "webgpu")]
#[derive(Default)]
pub(super) struct GpuReadLayout {
    pub(super) snapshots: Vec<(String, u64, Vec<f32>)>,
    /// `(step, is the end)` of the video's recordings.
    pub(super) recordings: Vec<(u64, bool)>,
}
