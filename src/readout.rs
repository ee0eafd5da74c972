//! What the page says about a run as it trains, in words: the status line under the charts
//! and the latent panels' text alternative, and the frame and step rates it shows
//! ([`Rates`]). Written here, not in the element, so that native tests read it.

use crate::run::Losses;
use crate::step::loss::Term;

/// A value as the readout shows it: four decimals, or three significant digits in exponent
/// form below 0.01 (`1.23e-4`) and from 100,000 (`9.99e21`); `–` for none.
pub fn number(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v.is_nan() => "NaN".into(),
        Some(v) if v.is_infinite() => (if v > 0.0 { "Infinity" } else { "-Infinity" }).into(),
        Some(0.0) => "0.0000".into(),
        // Below 100,000 once rounded to four decimals.
        Some(v) if (0.01..99_999.999_95).contains(&v.abs()) => fixed4(v),
        Some(v) => format!("{v:.2e}"),
    }
}

/// `v` to four decimals as the browser's `toFixed(4)` writes it. The two differ only on an
/// exact tie, which at four decimals is an odd multiple of 1/32 (0.03125, 0.09375, …): the
/// browser rounds it away from zero, Rust's `{:.4}` to even (0.0312).
fn fixed4(v: f64) -> String {
    let scaled = v.abs() * 1e4;
    if scaled.fract() == 0.5 && (v.abs() * 32.0).fract() == 0.0 {
        // A fraction of one half means fewer than 2^52 units: they fit.
        let units = scaled.ceil() as u64;
        let sign = if v < 0.0 { "-" } else { "" };
        return format!("{sign}{}.{:04}", units / 10_000, units % 10_000);
    }
    format!("{v:.4}")
}

/// Where a run stands, for the status line.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub step: u64,
    pub total_steps: u64,
    pub phase: &'a str,
    pub lr: f64,
    pub backend: &'a str,
    pub steps_per_second: f64,
    pub frames_per_second: f64,
}

/// The status line as parts, plain text and a value to set in bold by turns (plain first):
/// `step 120 / 20001 · phase Primary · lr 0.0100 · loss 0.0123 loss-recon 0.0100 … · 950
/// steps/s · 60 fps · cpu`.
pub fn status_line(p: &Progress, losses: Option<&Losses>) -> Vec<String> {
    let mut parts = vec![
        "step ".to_string(),
        p.step.to_string(),
        format!(" / {} · phase ", p.total_steps),
        p.phase.to_string(),
        " · lr ".into(),
        number(Some(p.lr)),
        " · loss ".into(),
        number(losses.map(|l| l.total as f64)),
    ];
    for (term, value) in losses.iter().flat_map(|l| l.terms.iter()) {
        if let Some(v) = value {
            parts.push(format!(" {} ", term.column()));
            parts.push(number(Some(*v as f64)));
        }
    }
    parts.push(" · ".into());
    parts.push(format!("{}", p.steps_per_second.round() as i64));
    parts.push(" steps/s · ".into());
    parts.push(format!("{}", p.frames_per_second.round() as i64));
    parts.push(format!(" fps · {}", p.backend));
    parts
}

/// The latent panels' text alternative, as current as the status line.
pub fn latents_label(p: &Progress, losses: Option<&Losses>) -> String {
    let reconstruction = losses.and_then(|l| l.terms[Term::Reconstruction]);
    let mut label = format!(
        "the latent space at step {} of {}, phase {}",
        p.step, p.total_steps, p.phase
    );
    if let Some(r) = reconstruction {
        label += &format!(", reconstruction loss {}", number(Some(r as f64)));
    }
    label
}

/// The frame and step rates the readout shows, as the page measures them over the last
/// second of frames (not what the engine reports: what a reader sees).
#[derive(Debug, Default, Clone)]
pub struct Rates {
    /// The frames of the last second: when each was drawn (ms) and the step it showed.
    window: std::collections::VecDeque<(f64, u64)>,
}

/// The span the rates are measured over, in ms.
const RATE_WINDOW_MS: f64 = 1000.0;

impl Rates {
    /// Notes a frame drawn at `t_ms` showing `step`; returns frames per second, steps per
    /// second and the span (ms) they were measured over. A step below the window's first (a
    /// reset) counts as no progress.
    pub fn record(&mut self, t_ms: f64, step: u64) -> (f64, f64, f64) {
        self.window.push_back((t_ms, step));
        while self
            .window
            .front()
            .is_some_and(|&(t, _)| t_ms - t > RATE_WINDOW_MS)
        {
            self.window.pop_front();
        }
        let (first_t, first_step) = self.window[0];
        let span = t_ms - first_t;
        if self.window.len() < 2 {
            return (0.0, 0.0, span);
        }
        let per_second = 1000.0 / span.max(1.0);
        let frames = (self.window.len() - 1) as f64 * per_second;
        let steps = step.saturating_sub(first_step) as f64 * per_second;
        (frames, steps, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::loss::PerTerm;

    #[test]
    fn rates_are_measured_over_the_last_second_of_frames() {
        let mut rates = Rates::default();
        assert_eq!(
            rates.record(0.0, 0),
            (0.0, 0.0, 0.0),
            "one frame: no rate yet"
        );
        // 60 frames a second, 100 steps a frame.
        let mut last = (0.0, 0.0, 0.0);
        for i in 1..=120u64 {
            last = rates.record(i as f64 * 1000.0 / 60.0, i * 100);
        }
        let (fps, sps, span) = last;
        assert!((fps - 60.0).abs() < 1e-9, "{fps}");
        assert!((sps - 6000.0).abs() < 1e-6, "{sps}");
        assert!((span - 1000.0).abs() < 1e-9, "only the last second: {span}");
        // A reset: the step falls back, and no progress is claimed for it.
        let (_, sps, _) = rates.record(2020.0, 5);
        assert_eq!(sps, 0.0);
        // Frames a long time apart: the window holds the last one alone.
        assert_eq!(rates.record(9000.0, 10).1, 0.0);
    }

    #[test]
    fn numbers_read_as_the_page_shows_them() {
        assert_eq!(number(None), "–");
        assert_eq!(number(Some(0.0)), "0.0000");
        assert_eq!(number(Some(-0.0)), "0.0000");
        assert_eq!(number(Some(0.012_345)), "0.0123");
        assert_eq!(number(Some(2.5)), "2.5000");
        assert_eq!(number(Some(0.000_123_4)), "1.23e-4");
        assert_eq!(number(Some(-0.005)), "-5.00e-3");
        assert_eq!(number(Some(0.009_999)), "1.00e-2");
        assert_eq!(number(Some(0.001)), "1.00e-3");
        assert_eq!(number(Some(0.000_999_7)), "1.00e-3");
        assert_eq!(number(Some(1.5e-12)), "1.50e-12");
        // Ties round away from zero, as the browser's toFixed does.
        assert_eq!(number(Some(0.031_25)), "0.0313");
        assert_eq!(number(Some(-0.031_25)), "-0.0313");
        assert_eq!(number(Some(0.093_75)), "0.0938");
        assert_eq!(number(Some(1.000_05)), "1.0001");
        assert_eq!(number(Some(0.099_99)), "0.1000");
        assert_eq!(number(Some(9.999_96)), "10.0000");
        assert_eq!(number(Some(123.456_78)), "123.4568");
        assert_eq!(number(Some(99_999.0)), "99999.0000");
        assert_eq!(number(Some(123_456.7)), "1.23e5");
        assert_eq!(number(Some(99_999.999_96)), "1.00e5");
        assert_eq!(number(Some(2.5e25)), "2.50e25");
        assert_eq!(number(Some(-1e21)), "-1.00e21");
        assert_eq!(number(Some(9.985_005_999_999_985e21)), "9.99e21");
        assert_eq!(number(Some(0.009_996)), "1.00e-2");
        assert_eq!(number(Some(-0.000_999_7)), "-1.00e-3");
        assert_eq!(number(Some(5e-300)), "5.00e-300");
        assert_eq!(number(Some(f64::NAN)), "NaN");
        assert_eq!(number(Some(f64::INFINITY)), "Infinity");
    }

    #[test]
    fn the_status_line_names_each_computed_term() {
        let p = Progress {
            step: 120,
            total_steps: 20_001,
            phase: "Primary & secondary",
            lr: 0.01,
            backend: "cpu",
            steps_per_second: 949.6,
            frames_per_second: 59.7,
        };
        let mut terms = PerTerm([None; Term::COUNT]);
        terms[Term::Reconstruction] = Some(0.000_5);
        terms[Term::Planarity] = Some(0.25);
        let losses = Losses { total: 0.3, terms };
        let line = status_line(&p, Some(&losses));
        assert_eq!(
            line.concat(),
            "step 120 / 20001 · phase Primary & secondary · lr 0.0100 · loss 0.3000 \
             loss-recon 5.00e-4 reg-planar 0.2500 · 950 steps/s · 60 fps · cpu"
        );
        // Values in bold: every second part.
        let bold: Vec<&str> = line.iter().skip(1).step_by(2).map(String::as_str).collect();
        assert_eq!(
            bold,
            [
                "120",
                "Primary & secondary",
                "0.0100",
                "0.3000",
                "5.00e-4",
                "0.2500",
                "950",
                "60"
            ]
        );
        assert_eq!(
            status_line(&p, None).concat(),
            "step 120 / 20001 · phase Primary & secondary · lr 0.0100 · loss – · 950 steps/s · \
             60 fps · cpu"
        );
        assert_eq!(
            latents_label(&p, Some(&losses)),
            "the latent space at step 120 of 20001, phase Primary & secondary, \
             reconstruction loss 5.00e-4"
        );
    }
}
