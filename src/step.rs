//! The training step: its one definition is the `color-bottleneck-step` crate (`step/`),
//! re-exported here whole; [`op`] is how the CPU engine calls it on Burn's CPU backend.

pub use color_bottleneck_step::*;

pub mod op;
