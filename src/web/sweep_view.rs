//! A sweep on the page: a thumbnail of dims (0, 1) per seed with its verdict, the tally, and
//! the table as CSV. In a comparison each seed's cell pairs its two runs (A left, B right),
//! a cell whose verdicts differ is framed, and the tally is the paired table.

use std::hash::{DefaultHasher, Hash, Hasher};

use web_sys::HtmlCanvasElement;

use super::board::draw_points;
use super::canvas::{canvas_size, LayeredCanvas};
use super::{from_bytes, now, RunVerdict, SweepFrame, THUMBNAIL_POINTS};
use crate::escape::csv_cell;
use crate::plot::{self, PointCloud, Rect, Surface, CRUMPLED, UNDECIDED, WHEEL};
use crate::stats::{crumple_summary, PairedTable, COMPARE_TABLE_HEADER};
use crate::verdict::{display_order, probe_colors};

/// A comparison's discordant pair: its cell's frame.
const DISCORDANT: plot::Rgba = [255, 213, 79, 255];

/// What the page last heard of every run, from one worker or from several that share the
/// sweep (each sends its part: consecutive runs, consecutive seeds).
#[derive(Default)]
pub(super) struct SweepView {
    /// The seed of run 0; run `r` trains with `first_seed + r`.
    first_seed: u64,
    total_runs: usize,
    dims: usize,
    /// The runs of the sheet (A), and of a comparison's second sheet (B).
    a: Side,
    b: Option<Side>,
    colors: Vec<f32>,
    layers: LayeredCanvas,
    /// When, and at what canvas size, the thumbnails were last drawn.
    drawn: Option<(f64, (u32, u32))>,
}

/// The narrowest cell (CSS pixels) that gets a title: below it the text cannot be read, and
/// the edge's colour alone tells the verdict.
const TITLED_CELL: f32 = 90.0;

/// The thumbnails are redrawn at most this often (30 a second): a sweep's canvas is put
/// whole, megapixels each time, while the page's own panels go on at the display's rate.
const THUMBNAIL_INTERVAL_MS: f64 = 33.0;

/// One sheet's runs as the page last heard of them.
#[derive(Default)]
struct Side {
    /// `THUMBNAIL_POINTS × dims` values a run, for every run.
    thumbnails: Vec<f32>,
    /// Whether each run's thumbnail has arrived.
    heard: Vec<bool>,
    verdicts: Vec<Option<RunVerdict>>,
    finished: Vec<bool>,
}

impl Side {
    fn sized(total: usize, dims: usize) -> Side {
        Side {
            thumbnails: vec![0.0; total * THUMBNAIL_POINTS * dims],
            heard: vec![false; total],
            verdicts: vec![None; total],
            finished: vec![false; total],
        }
    }

    fn accept(&mut self, frame: &SweepFrame, dims: usize, finished: bool) {
        let runs = frame.first_run..frame.first_run + frame.seeds.len();
        if runs.end > self.heard.len() {
            return;
        }
        let points = THUMBNAIL_POINTS * dims;
        let thumbnails = from_bytes(&frame.thumbnails);
        if thumbnails.len() == runs.len() * points {
            self.thumbnails[runs.start * points..runs.end * points].copy_from_slice(&thumbnails);
            self.heard[runs.clone()].fill(true);
        }
        if let Some(verdicts) = &frame.verdicts {
            for (slot, v) in self.verdicts[runs.clone()].iter_mut().zip(verdicts) {
                *slot = Some(v.clone());
            }
        }
        self.finished[runs].fill(finished);
    }

    fn finished(&self) -> bool {
        !self.finished.is_empty() && self.finished.iter().all(|&f| f)
    }

    fn verdict(&self, run: usize) -> Option<&RunVerdict> {
        self.verdicts.get(run)?.as_ref()
    }

    /// Whether run `run` crumpled (or failed), once judged.
    fn crumpled(&self, run: usize) -> Option<bool> {
        self.verdict(run).map(|v| v.shape != "wheel")
    }

    /// The verdict's word and colour for run `run`.
    fn shape(&self, run: usize) -> (&str, plot::Rgba) {
        match self.verdict(run).map(|v| v.shape.as_str()) {
            Some("wheel") => ("wheel", WHEEL),
            Some(shape @ ("crumpled" | "failed")) => (shape, CRUMPLED),
            _ => ("…", UNDECIDED),
        }
    }

    /// Run `run`'s thumbnail points, once they have arrived.
    fn cloud<'a>(&'a self, run: usize, dims: usize, colors: &'a [f32]) -> Option<PointCloud<'a>> {
        if !self.heard.get(run).copied().unwrap_or(false) {
            return None;
        }
        let points = THUMBNAIL_POINTS * dims;
        let latents = self.thumbnails.get(run * points..(run + 1) * points)?;
        Some(PointCloud {
            latents,
            dims,
            colors,
        })
    }

    /// A run's verdict, errors and onset as CSV cells.
    fn cells(&self, run: usize) -> [String; 4] {
        let v = self.verdict(run);
        // The shape comes in a worker's message: text, so written as text.
        let shape = csv_cell(v.map_or("", |v| v.shape.as_str())).into_owned();
        let gap = v
            .and_then(|v| v.worst_gap_error)
            .map_or(String::new(), |g| format!("{g:.3}"));
        let mse = v.map_or(String::new(), |v| format!("{:e}", v.recon_mse));
        let onset = v
            .and_then(|v| v.onset)
            .map_or(String::new(), |s| s.to_string());
        [shape, gap, mse, onset]
    }
}

impl SweepView {
    pub fn new() -> Self {
        SweepView {
            colors: probe_colors().rgb_f32()[..THUMBNAIL_POINTS * 3].to_vec(),
            ..SweepView::default()
        }
    }

    /// Takes in a worker's part of the sweep (`finished`: that worker is done), and of a
    /// comparison's second sheet (`versus`: B's runs, the same seeds).
    pub fn accept(
        &mut self,
        frame: &SweepFrame,
        versus: Option<&SweepFrame>,
        dims: usize,
        finished: bool,
    ) {
        let runs = frame.first_run..frame.first_run + frame.seeds.len();
        let total = frame.total_runs.max(runs.end);
        if (total, dims, versus.is_some()) != (self.total_runs, self.dims, self.b.is_some()) {
            self.total_runs = total;
            self.dims = dims;
            self.a = Side::sized(total, dims);
            self.b = versus.map(|_| Side::sized(total, dims));
        }
        if let Some(seed) = frame.seeds.first() {
            self.first_seed = seed - frame.first_run as u64;
        }
        self.a.accept(frame, dims, finished);
        if let (Some(b), Some(versus)) = (&mut self.b, versus) {
            b.accept(versus, dims, finished);
        }
    }

    /// Whether every run has finished.
    pub fn finished(&self) -> bool {
        self.a.finished() && self.b.as_ref().is_none_or(Side::finished)
    }

    /// Whether run `run`'s two verdicts differ, in a comparison.
    fn discordant(&self, run: usize) -> bool {
        let b = self.b.as_ref().and_then(|b| b.crumpled(run));
        b.is_some_and(|b| self.a.crumpled(run).is_some_and(|a| a != b))
    }

    fn seed(&self, run: usize) -> u64 {
        self.first_seed + run as u64
    }

    /// Panels a cell: 2 in a comparison (A and B side by side), else 1.
    pub fn panels(&self) -> usize {
        if self.b.is_some() {
            2
        } else {
            1
        }
    }

    /// Columns and rows of the grid.
    pub fn grid(&self) -> (usize, usize) {
        let n = self.total_runs.max(1);
        let columns = (n as f64).sqrt().ceil() as usize;
        (columns, n.div_ceil(columns))
    }

    /// Every cell's frame (with its title where cells are big enough to read one) is drawn
    /// once, kept as pixels, and the points are rasterised in wasm over it and put in one
    /// call. Drawn with the 2-D context, 1,024 thumbnails (43,000 dots) held the page's
    /// thread 400 ms a frame; 16 titled ones, frame, title and dots every frame, took half
    /// of it (Chromium's profile of a 16-seed sweep: 50% in the context's drawing, 7% idle,
    /// against 16% and 50% for one run), and the worker beside it trained slower.
    ///
    /// Returns whether it put the drawing off (drawn less than the interval ago).
    pub fn draw(&mut self, canvas: &HtmlCanvasElement) -> bool {
        let (t, size) = (now(), canvas_size(canvas));
        if let Some((at, drawn_size)) = self.drawn {
            if drawn_size == size && t - at < THUMBNAIL_INTERVAL_MS {
                return true;
            }
        }
        self.drawn = Some((t, size));
        let (columns, rows) = self.grid();
        let cells = move |w: f32, h: f32| {
            let (cell_w, cell_h) = (w / columns as f32, h / rows as f32);
            (0..columns * rows).map(move |i| {
                let (c, r) = (i % columns, i / columns);
                Rect::new(c as f32 * cell_w, r as f32 * cell_h, cell_w, cell_h)
                    .inset(2.0, 2.0, 2.0, 2.0)
            })
        };
        let n = self.total_runs;
        let order = self.order();
        let panel_w = canvas.client_width() as f32 / (columns * self.panels()) as f32;
        let titled = panel_w >= TITLED_CELL;
        // A title a panel: `seed 3 · crumpled @1250`, or a comparison's `seed 3 · A wheel`
        // and `B crumpled`.
        let titles: Vec<Vec<String>> = if titled {
            (order.iter())
                .map(|&r| {
                    let (seed, a) = (self.seed(r), self.a.shape(r).0);
                    match &self.b {
                        Some(b) => vec![
                            format!("seed {seed} · A {a}"),
                            format!("B {}", b.shape(r).0),
                        ],
                        None => {
                            let onset = (self.a.verdict(r).and_then(|v| v.onset))
                                .map_or(String::new(), |s| format!(" @{s}"));
                            vec![format!("seed {seed} · {a}{onset}")]
                        }
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let discordant: Vec<bool> = order.iter().map(|&r| self.discordant(r)).collect();
        let dims = self.dims;
        // The still layer holds the titles: drawn again when a verdict changes one.
        let key = {
            let mut h = DefaultHasher::new();
            (columns, rows, dims, self.first_seed, &titles, &discordant).hash(&mut h);
            h.finish()
        };
        // Out of `self` while the layers draw from the rest of it.
        let mut layers = std::mem::take(&mut self.layers);
        let view = &*self;
        layers.draw(
            canvas,
            key,
            |s, w, h| {
                s.fill_rect(0.0, 0.0, w, h, [32, 32, 32, 255]);
                for (i, cell) in cells(w, h).take(n).enumerate() {
                    if discordant[i] {
                        let o = cell.inset(-2.0, -2.0, -2.0, -2.0);
                        s.fill_rect(o.x, o.y, o.w, o.h, DISCORDANT);
                        s.fill_rect(cell.x, cell.y, cell.w, cell.h, [32, 32, 32, 255]);
                    }
                    for (k, half) in view.halves(cell).into_iter().enumerate() {
                        let title = titles.get(i).and_then(|t| t.get(k)).map(String::as_str);
                        plot::latent_frame(s, half, dims, (0, 1), plot::LATENT_EXTENT, title);
                    }
                }
            },
            |raster, dpr, w, h| {
                for (&run, cell) in order.iter().zip(cells(w, h)) {
                    let sides = std::iter::once(&view.a).chain(view.b.as_ref());
                    for (side, half) in sides.zip(view.halves(cell)) {
                        if let Some(cloud) = side.cloud(run, view.dims, &view.colors) {
                            draw_points(raster, dpr, half, titled, cloud, (0, 1), 1.0);
                            badge(raster, half, dpr, side.shape(run).1);
                        }
                    }
                }
            },
            |_, _, _| {},
        );
        self.layers = layers;
        false
    }

    /// A cell's panels: the whole cell, or its halves in a comparison (A left, B right).
    fn halves(&self, cell: Rect) -> Vec<Rect> {
        match self.b {
            None => vec![cell],
            Some(_) => {
                let w = cell.w / 2.0;
                vec![
                    Rect::new(cell.x, cell.y, w, cell.h),
                    Rect::new(cell.x + w, cell.y, w, cell.h),
                ]
            }
        }
    }

    /// The run under a point of the canvas (CSS pixels, the canvas `w` × `h`).
    pub fn seed_at(&self, x: f64, y: f64, w: f64, h: f64) -> Option<u64> {
        let (columns, rows) = self.grid();
        if !(0.0..w).contains(&x) || !(0.0..h).contains(&y) {
            return None;
        }
        let c = (x / w * columns as f64) as usize;
        let r = (y / h * rows as f64) as usize;
        let run = *self.order().get(r * columns + c)?;
        Some(self.seed(run))
    }

    /// Which run each cell shows: run by run while the sweep trains (cells that moved would
    /// be hard to follow), then crumpled first and by onset once it is done
    /// ([`display_order`]).
    fn order(&self) -> Vec<usize> {
        if !self.finished() {
            return (0..self.total_runs).collect();
        }
        let runs: Vec<Option<(bool, Option<u64>)>> = if self.b.is_some() {
            // A comparison's discordant pairs first, each group by seed: the order of runs
            // flagged first with no onsets.
            (0..self.total_runs)
                .map(|r| Some((self.discordant(r), None)))
                .collect()
        } else {
            (self.a.verdicts.iter())
                .map(|v| v.as_ref().map(|v| (v.shape != "wheel", v.onset)))
                .collect()
        };
        display_order(&runs)
    }

    /// How many of the sheet's (A's) runs crumpled, of those judged so far.
    pub fn counts(&self) -> (usize, usize) {
        let judged = (0..self.total_runs).filter_map(|r| self.a.crumpled(r));
        judged.fold((0, 0), |(k, n), crumpled| (k + crumpled as usize, n + 1))
    }

    /// `crumpled 3/16 (19%, 95% CI 7–43%)`, over the runs judged so far; in a comparison,
    /// the paired table over the seeds both sheets' runs were judged for, its lines joined by
    /// ` · `.
    pub fn tally(&self) -> String {
        let judged: Vec<usize> = (0..self.total_runs)
            .filter(|&r| self.a.verdict(r).is_some())
            .collect();
        if judged.is_empty() {
            return format!("{} seeds training…", self.total_runs);
        }
        let Some(b) = &self.b else {
            let k = judged
                .iter()
                .filter(|&&r| self.a.crumpled(r) == Some(true))
                .count();
            return crumple_summary(k, judged.len());
        };
        let paired: Vec<(bool, bool)> = (judged.iter())
            .filter_map(|&r| Some((self.a.crumpled(r)?, b.crumpled(r)?)))
            .collect();
        let (a, b): (Vec<bool>, Vec<bool>) = paired.into_iter().unzip();
        PairedTable::from_crumpled(&a, &b).report().join(" · ")
    }

    /// The CLI's `sweep.csv` columns that a page knows: seed, verdict and figures; in a
    /// comparison, `compare.csv`'s columns, A's and B's side by side.
    pub fn csv(&self) -> String {
        let mut out = match self.b {
            None => String::from("seed,verdict,worst_gap_error_deg,recon_mse,onset\n"),
            Some(_) => String::from(COMPARE_TABLE_HEADER) + "\n",
        };
        for run in 0..self.total_runs {
            let seed = self.seed(run);
            let row = match &self.b {
                None => self.a.cells(run).join(","),
                Some(b) => {
                    let ([va, ga, ma, oa], [vb, gb, mb, ob]) = (self.a.cells(run), b.cells(run));
                    [va, vb, ga, gb, ma, mb, oa, ob].join(",")
                }
            };
            out.push_str(&format!("{seed},{row}\n"));
        }
        out
    }
}

/// The verdict's badge: a panel's left and bottom edges in its colour. `cell` is in CSS
/// pixels, drawn at `scale` surface pixels each.
fn badge(s: &mut dyn Surface, cell: Rect, scale: f32, color: plot::Rgba) {
    let edge = (3.0 * scale).round();
    let (x, y, w, h) = (
        cell.x * scale,
        cell.y * scale,
        cell.w * scale,
        cell.h * scale,
    );
    s.fill_rect(x, y + h - edge, w, edge, color);
    s.fill_rect(x, y, edge, h, color);
}
