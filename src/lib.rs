//! color-bottleneck: a tiny autoencoder squeezes RGB through a small latent space while a
//! keyframed curriculum shapes it into a colour wheel.
//!
//! `dopesheet`, `timeline` and `data` are the curriculum and the colours; `step` is the one
//! definition of a training step on host values (the `color-bottleneck-step` crate, with
//! `sampler`), which `sweep` (the CPU) and `gpu_step` (a CubeCL kernel) run; `reference` is
//! the oracle, in plain Burn.

pub mod backend_choice;
#[cfg(not(target_family = "wasm"))]
pub mod cli;
pub mod data;
pub mod dome;
pub mod dopesheet;
pub mod element;
pub mod escape;
pub mod evolution;
pub mod geometry;
#[cfg(any(feature = "wgpu", feature = "webgpu"))]
pub mod gpu_step;
pub mod grid;
pub mod order;
pub mod plot;
pub mod probe;
pub mod readout;
#[cfg(not(target_family = "wasm"))]
pub mod reference;
pub mod run;
pub mod sampler;
pub mod settings;
pub mod share;
pub mod sheet_edits;
pub mod stats;
pub mod step;
pub mod sweep;
pub mod timeline;
pub mod verdict;
#[cfg(target_family = "wasm")]
pub mod web;
