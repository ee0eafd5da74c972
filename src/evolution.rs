//! The seed's latent-evolution video: the RGB grid's latents recorded before every
//! `stride`-th step, and the frame each recording becomes (dims 0 and 1, ±1.5, "Step N",
//! dark background). The CLI writes the frames as an animated PNG, the page as WebM.

use crate::data::ColorCube;
use crate::plot::{self, PointCloud, Raster, Rect, Surface, TooLarge, LATENT_EXTENT};

/// The seed records every tenth step.
pub const DEFAULT_STRIDE: u64 = 10;
/// What the recordings may hold: 8 MiB of latents, 524 frames of a 4-D bottleneck.
pub const DEFAULT_BUDGET_BYTES: usize = 8 << 20;
pub const FRAMES_PER_SECOND: u32 = 30;
/// A video frame is this many pixels square.
pub const FRAME_SIZE: u32 = 480;

/// The RGB grid's latents before one step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recording {
    pub step: u64,
    /// `colours × dims`, row-major, in [`ColorCube::rgb_grid`]'s order.
    pub latents: Vec<f32>,
}

/// Recordings every `stride` steps within a fixed budget: when it is full, every other
/// recording goes and the stride doubles, so a run of any length fits and keeps an even
/// spacing in time.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Recorder {
    stride: u64,
    max_recordings: usize,
    recordings: Vec<Recording>,
}

impl Recorder {
    /// A recorder for latents of `floats_per_recording` values; at least two recordings fit
    /// whatever the budget.
    pub fn new(stride: u64, budget_bytes: usize, floats_per_recording: usize) -> Self {
        let bytes = floats_per_recording.max(1) * std::mem::size_of::<f32>();
        Recorder {
            stride: stride.max(1),
            max_recordings: (budget_bytes / bytes).max(2),
            recordings: Vec::new(),
        }
    }

    /// The seed's stride and the default budget, for `latent_dims`-wide latents of the grid.
    pub fn for_rgb_grid(latent_dims: usize) -> Self {
        let colours = ColorCube::rgb_grid().len();
        Recorder::new(DEFAULT_STRIDE, DEFAULT_BUDGET_BYTES, colours * latent_dims)
    }

    /// Whether the latents before `step` are to be recorded.
    pub fn wants(&self, step: u64) -> bool {
        step.is_multiple_of(self.stride)
            && self.recordings.last().is_none_or(|last| last.step < step)
    }

    /// Keeps the latents before `step` if the stride asks for them.
    pub fn record(&mut self, step: u64, latents: Vec<f32>) {
        if self.wants(step) {
            self.push(Recording { step, latents }, false);
        }
    }

    /// Keeps the final latents (after the last step), whatever the stride: the video ends on
    /// the run's result.
    pub fn record_end(&mut self, step: u64, latents: Vec<f32>) {
        if self.recordings.last().is_none_or(|last| last.step < step) {
            self.push(Recording { step, latents }, true);
        }
    }

    /// `keep_newest`: the run's end stays whatever the spacing.
    fn push(&mut self, recording: Recording, keep_newest: bool) {
        self.recordings.push(recording);
        while self.recordings.len() > self.max_recordings {
            self.stride *= 2;
            let stride = self.stride;
            let last = self.recordings.len() - 1;
            let mut i = 0;
            self.recordings.retain(|r| {
                let keep = r.step.is_multiple_of(stride) || (keep_newest && i == last);
                i += 1;
                keep
            });
        }
    }

    /// The recordings before `step`: what a run that branches at `step` recorded.
    pub fn before(&self, step: u64) -> Recorder {
        Recorder {
            recordings: (self.recordings.iter())
                .filter(|r| r.step < step)
                .cloned()
                .collect(),
            stride: self.stride,
            max_recordings: self.max_recordings,
        }
    }

    pub fn stride(&self) -> u64 {
        self.stride
    }

    pub fn recordings(&self) -> &[Recording] {
        &self.recordings
    }
}

/// One frame of the video: dims 0 and 1 of the recording, axes ±1.5, "Step N" above.
pub fn draw_frame(s: &mut dyn Surface, area: Rect, recording: &Recording, dims: usize) {
    let colors = ColorCube::rgb_grid().rgb_f32();
    let cloud = PointCloud {
        latents: &recording.latents,
        dims,
        colors: &colors,
    };
    let title = format!("Step {}", recording.step);
    plot::latent_panel(s, area, cloud, (0, 1), LATENT_EXTENT, Some(&title));
}

/// A frame as RGBA pixels, [`FRAME_SIZE`] square.
pub fn frame_raster(recording: &Recording, dims: usize) -> Result<Raster, TooLarge> {
    let mut raster = Raster::new(FRAME_SIZE, FRAME_SIZE)?;
    let area = Rect::new(0.0, 0.0, FRAME_SIZE as f32, FRAME_SIZE as f32);
    draw_frame(&mut raster, area, recording, dims);
    Ok(raster)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latents(step: u64) -> Vec<f32> {
        vec![step as f32; 8]
    }

    #[test]
    fn records_every_stride_steps() {
        let mut r = Recorder::new(10, 1 << 20, 8);
        for step in 0..=35 {
            r.record(step, latents(step));
        }
        let steps: Vec<u64> = r.recordings().iter().map(|r| r.step).collect();
        assert_eq!(steps, [0, 10, 20, 30]);
        // The same step twice is one recording.
        r.record(30, latents(30));
        assert_eq!(r.recordings().len(), 4);
    }

    /// A budget of 5 recordings over 200 steps: the stride doubles until the run fits, the
    /// spacing stays even and the end is kept.
    #[test]
    fn a_full_budget_halves_the_time_resolution() {
        let mut r = Recorder::new(10, 5 * 8 * 4, 8);
        for step in 0..200 {
            r.record(step, latents(step));
            assert!(r.recordings().len() <= 5);
        }
        r.record_end(200, latents(200));
        let steps: Vec<u64> = r.recordings().iter().map(|r| r.step).collect();
        assert_eq!(r.stride(), 80);
        assert_eq!(steps, [0, 80, 160, 200]);
        for rec in r.recordings() {
            assert_eq!(
                rec.latents,
                latents(rec.step),
                "a frame kept its own latents"
            );
        }
    }

    #[test]
    fn the_default_budget_holds_a_long_run_in_eight_mib() {
        let mut r = Recorder::for_rgb_grid(4);
        for step in (0..1_000_000).step_by(10) {
            if r.wants(step) {
                r.record(step, vec![0.0; 4_000]);
            }
        }
        let bytes: usize = r.recordings().iter().map(|r| r.latents.len() * 4).sum();
        assert!(bytes <= DEFAULT_BUDGET_BYTES, "{bytes} bytes");
        assert!(
            r.recordings().len() > 256,
            "{} recordings",
            r.recordings().len()
        );
    }

    /// The frame is dark, titled, and shows the points: a point at the origin in the grid's
    /// first colour (black) would vanish, so put every colour at (0.5, 0.5).
    #[test]
    fn a_frame_draws_the_points_on_a_dark_background() {
        let colours = ColorCube::rgb_grid().len();
        let recording = Recording {
            step: 1234,
            latents: [0.5f32, 0.5, 0.0, 0.0].repeat(colours),
        };
        let raster = frame_raster(&recording, 4).unwrap();
        assert_eq!((raster.width, raster.height), (FRAME_SIZE, FRAME_SIZE));
        let corner = raster.pixel(2, 2);
        assert!(corner[..3].iter().all(|&c| c < 0x40), "dark: {corner:?}");
        // (0.5, 0.5) in a ±1.5 square: a third of the way from the centre to the top right.
        let plot = plot::latent_plot_area(
            Rect::new(0.0, 0.0, FRAME_SIZE as f32, FRAME_SIZE as f32),
            true,
        );
        let x = plot.x + plot.w * (0.5 + 0.5 / 3.0);
        let y = plot.y + plot.h * (0.5 - 0.5 / 3.0);
        let p = raster.pixel(x as u32, y as u32);
        assert!(
            p[..3] != plot::PANEL[..3],
            "a point is drawn at ({x}, {y}): {p:?}"
        );
        // The title's text is light on dark, above the plot.
        let title_row =
            (0..FRAME_SIZE).any(|x| (0..plot.y as u32).any(|y| raster.pixel(x, y)[0] > 200));
        assert!(title_row, "no title drawn");
    }
}
