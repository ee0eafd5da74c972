//! color-bottleneck: a tiny autoencoder squeezes RGB through a small latent space while a
//! keyframed curriculum shapes it into a colour wheel.
//!
//! `dopesheet`, `timeline` and `data` know nothing of Burn; `model`, `loss` and `train` run on
//! whatever Burn `Device` they are handed.

pub mod activation;
pub mod backend_choice;
#[cfg(not(target_family = "wasm"))]
pub mod cli;
pub mod data;
pub mod dome;
pub mod dopesheet;
pub mod escape;
pub mod evolution;
mod flex_values;
pub mod fused_step;
pub mod geometry;
#[cfg(any(feature = "wgpu", feature = "webgpu"))]
pub mod gpu_step;
pub mod grid;
pub mod loss;
pub mod model;
pub mod optimizer;
pub mod plot;
pub mod probe;
#[cfg(not(target_family = "wasm"))]
pub mod reference;
pub mod sampler;
pub mod settings;
pub mod share;
pub mod sheet_edits;
pub mod stats;
pub mod sweep;
pub mod timeline;
pub mod train;
pub mod verdict;
#[cfg(target_family = "wasm")]
pub mod web;
