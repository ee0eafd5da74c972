//! The realized schedule: every property's value, the phase and the actions at any step.
//!
//! The reference advances a clock one step at a time; here each property's keys are kept
//! as segments, so the state at any step is a pure function of the step (the page's chart
//! and history scrubber jump around) and memory does not grow with the number of steps.

use crate::dopesheet::{Dopesheet, Space, Timing};

/// A contiguous run of steps that share a phase row.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpan {
    pub name: String,
    /// Step of the row that names the phase.
    pub start: u64,
    /// Last step of the phase (inclusive).
    pub end: u64,
}

/// One property's keys, with how to travel between them.
#[derive(Debug, Clone)]
struct Track {
    space: Space,
    timing: Timing,
    /// (step, value) for every non-blank cell, by step. Empty: constant 0.
    keys: Vec<(u64, f64)>,
}

/// Why an edit cannot change a running run ([`Timeline::edit_reach`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditReach {
    /// Every step it changes is behind the run, which has trained this many.
    Behind(u64),
    /// Every step it changes is past where the run stops.
    PastStop(u64),
}

#[derive(Debug, Clone)]
pub struct Timeline {
    properties: Vec<String>,
    tracks: Vec<Track>,
    phases: Vec<PhaseSpan>,
    /// (step, actions) for keyframes that have actions.
    actions: Vec<(u64, Vec<String>)>,
    keyframe_steps: Vec<u64>,
    len: u64,
}

/// Everything the trainer needs to know about one step.
#[derive(Debug, Clone, PartialEq)]
pub struct State<'a> {
    pub step: u64,
    pub phase: &'a str,
    /// Index into [`Timeline::phases`]: names may repeat, spans do not.
    pub phase_index: usize,
    pub is_phase_start: bool,
    pub is_phase_end: bool,
    pub actions: &'a [String],
    /// One value per property, in dopesheet column order.
    pub values: Vec<f64>,
}

impl Timeline {
    pub fn new(sheet: &Dopesheet) -> Self {
        let tracks = sheet
            .properties()
            .iter()
            .enumerate()
            .map(|(i, p)| Track {
                space: p.space,
                timing: p.timing,
                keys: sheet
                    .keyframes()
                    .iter()
                    .filter_map(|k| k.values[i].map(|v| (k.step, v)))
                    .collect(),
            })
            .collect();

        let len = sheet.len();
        let rows: Vec<(u64, &str)> = sheet
            .keyframes()
            .iter()
            .filter_map(|k| k.phase.as_deref().map(|p| (k.step, p)))
            .collect();
        let phases = rows
            .iter()
            .enumerate()
            .map(|(i, (start, name))| PhaseSpan {
                name: name.to_string(),
                start: *start,
                end: rows
                    .get(i + 1)
                    .map_or(len.saturating_sub(1), |(next, _)| next - 1),
            })
            .collect();

        let actions = sheet
            .keyframes()
            .iter()
            .filter(|k| !k.actions.is_empty())
            .map(|k| (k.step, k.actions.clone()))
            .collect();

        Timeline {
            properties: sheet.properties().iter().map(|p| p.name.clone()).collect(),
            tracks,
            phases,
            actions,
            keyframe_steps: sheet.keyframes().iter().map(|k| k.step).collect(),
            len,
        }
    }

    /// Training steps: 0..len, the last keyframe's step included.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The same schedule, stopped after `steps` steps (when it is longer): a run of it ends,
    /// and is judged, where the full one would only be passing through.
    pub fn until(mut self, steps: u64) -> Self {
        self.len = self.len.min(steps);
        self
    }

    pub fn properties(&self) -> &[String] {
        &self.properties
    }

    pub fn property_index(&self, name: &str) -> Option<usize> {
        self.properties.iter().position(|p| p == name)
    }

    pub fn phases(&self) -> &[PhaseSpan] {
        &self.phases
    }

    /// Steps that carry a keyframe for `property`, with its keyed value.
    pub fn keys(&self, property: usize) -> &[(u64, f64)] {
        &self.tracks[property].keys
    }

    pub fn keyframe_steps(&self) -> &[u64] {
        &self.keyframe_steps
    }

    pub fn action_steps(&self) -> impl Iterator<Item = (u64, &[String])> {
        self.actions.iter().map(|(s, a)| (*s, a.as_slice()))
    }

    /// The phase span a step belongs to. Steps before the first phase row take the first
    /// phase, as in the reference.
    pub fn phase_index(&self, step: u64) -> usize {
        self.phases
            .partition_point(|p| p.start <= step)
            .saturating_sub(1)
    }

    /// One property's value at `step`.
    pub fn value(&self, property: usize, step: u64) -> f64 {
        self.tracks[property].value(step)
    }

    /// The full state at `step`. Any step is valid; past the end every value is held.
    pub fn state(&self, step: u64) -> State<'_> {
        let phase_index = self.phase_index(step);
        let span = &self.phases[phase_index];
        let actions = self.actions_at(step);
        State {
            step,
            phase: &span.name,
            phase_index,
            is_phase_start: step == span.start,
            is_phase_end: step == span.end,
            actions,
            values: self.tracks.iter().map(|t| t.value(step)).collect(),
        }
    }

    /// What an edit (`edited`, of this running timeline) can still change in a run that has
    /// trained `step` steps and stops at `stop` (`None`: at the end): `None` when it changes
    /// something the run still trains, or changes nothing at all.
    pub fn edit_reach(&self, edited: &Timeline, step: u64, stop: Option<u64>) -> Option<EditReach> {
        self.differences(edited)?;
        let cut = |t: &Timeline| t.clone().until(stop.unwrap_or(u64::MAX));
        match cut(self).differences(&cut(edited)) {
            None => Some(EditReach::PastStop(stop.unwrap_or(self.len))),
            Some((_, last)) if last < step => Some(EditReach::Behind(step)),
            Some(_) => None,
        }
    }

    /// The actions of the keyframe at `step` (none between keyframes).
    fn actions_at(&self, step: u64) -> &[String] {
        match self.actions.binary_search_by_key(&step, |(s, _)| *s) {
            Ok(i) => self.actions[i].1.as_slice(),
            Err(_) => &[],
        }
    }

    /// The first and the last step at which `other` trains differently from this timeline,
    /// or `None` where they agree at every step. Compared step by step: the phase (its name,
    /// and where it ends), the actions, each property by name (one the other lacks differs
    /// wherever it is read) and the length (a step one of them never trains differs).
    pub fn differences(&self, other: &Timeline) -> Option<(u64, u64)> {
        let names: Vec<&str> = (self.properties.iter())
            .chain(&other.properties)
            .map(String::as_str)
            .collect();
        let mut names = crate::order::sorted_by(&names, &|a, b| a.cmp(b));
        names.dedup();
        // Each property's track in either timeline, looked up once.
        let tracks: Vec<(Option<usize>, Option<usize>)> = (names.iter())
            .map(|n| (self.property_index(n), other.property_index(n)))
            .collect();
        let value =
            |t: &Timeline, i: Option<usize>, step: u64| i.map(|i| t.value(i, step).to_bits());
        let same_phase = |step: u64| {
            let a = &self.phases[self.phase_index(step)];
            let b = &other.phases[other.phase_index(step)];
            a.name == b.name && (step == a.end) == (step == b.end)
        };
        let differs = |step: u64| {
            if step >= self.len || step >= other.len {
                return true;
            }
            !same_phase(step)
                || self.actions_at(step) != other.actions_at(step)
                || (tracks.iter()).any(|&(a, b)| value(self, a, step) != value(other, b, step))
        };
        let len = self.len.max(other.len);
        let first = (0..len).find(|&s| differs(s))?;
        let last = (first..len).rev().find(|&s| differs(s))?;
        Some((first, last))
    }

    /// The states the training loop visits, in order.
    pub fn iter(&self) -> impl Iterator<Item = State<'_>> {
        (0..self.len).map(|s| self.state(s))
    }
}

impl Track {
    fn value(&self, step: u64) -> f64 {
        let keys = &self.keys;
        let Some(&(first_step, first)) = keys.first() else {
            return 0.0;
        };
        if step <= first_step {
            return first;
        }
        // The segment [keys[i], keys[i+1]) that holds `step`.
        let i = keys.partition_point(|(s, _)| *s <= step) - 1;
        let Some(&(t1, y1)) = keys.get(i + 1) else {
            return keys[i].1;
        };
        let (t0, y0) = keys[i];
        let clock = (step - t0) as f64;
        let duration = (t1 - t0) as f64;
        let (a, b) = match self.space {
            Space::Linear => (y0, y1),
            Space::Log => (y0.max(1e-10).ln(), y1.max(1e-10).ln()),
        };
        let y = match self.timing {
            // A key whose value equals the previous one starts no transition: a hold.
            _ if a == b => a,
            Timing::MinJerk => min_jerk(a, b, clock, duration),
            Timing::Linear => a + (b - a) * (clock / duration).clamp(0.0, 1.0),
            Timing::StepEnd => a,
        };
        match self.space {
            Space::Linear => y,
            Space::Log => y.exp(),
        }
    }
}

/// Rest-to-rest quintic from `y0` to `y1` over `duration` steps, at local `clock`.
///
/// The reference solves a 3×3 system with LAPACK for the coefficients; the operation order
/// below reproduces its rounding bit for bit (spec §2.4), which the golden test checks.
pub fn min_jerk(y0: f64, y1: f64, clock: f64, duration: f64) -> f64 {
    if (clock - duration).abs() < 1e-10 || clock > duration {
        return y1;
    }
    let tau = (clock / duration).clamp(0.0, 1.0);
    if (tau - 1.0).abs() < 1e-10 {
        return y1;
    }
    let delta = y1 - y0;
    let u = (1.0 - (1.0 / 6.0) * 20.0)
        - ((1.0 - (1.0 / 6.0) * 12.0) * (1.0 / (4.0 - 0.5 * 12.0))) * (5.0 - 0.5 * 20.0);
    let c5 = delta / u;
    let c4 = (5.0 * c5) / -2.0;
    let c3 = (-12.0f64).mul_add(c4, -20.0 * c5) / 6.0;
    y0 + tau * (0.0 + tau * (0.0 + tau * (c3 + tau * (c4 + tau * c5))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EX_1_5: &str = include_str!("../dopesheets/ex-1.5.csv");

    fn timeline(text: &str) -> Timeline {
        Timeline::new(&Dopesheet::parse(text).expect("a valid sheet"))
    }

    #[test]
    fn differences_name_the_steps_an_edit_reaches() {
        let base = timeline(EX_1_5);
        assert_eq!(base.differences(&timeline(EX_1_5)), None);
        // A phase renamed: every step of that phase.
        let renamed = EX_1_5.replacen("Primary & secondary", "Primary & secondary!", 1);
        assert_eq!(base.differences(&timeline(&renamed)), Some((0, 2999)));
        // A shorter run: the steps it never trains.
        let cut = timeline(EX_1_5).until(3000);
        assert_eq!(base.differences(&cut), Some((3000, base.len() - 1)));
        // One value at the keyframe of step 10,000: from there until its track's next key
        // has taken over, and no earlier.
        let sheet = Dopesheet::parse(EX_1_5).unwrap();
        let recon = base.property_index("loss-recon").unwrap();
        let edited = Timeline::new(&sheet.with_value(recon, 10_000, 0.5).unwrap());
        let (first, last) = base.differences(&edited).unwrap();
        assert!(first <= 10_000, "{first}");
        assert!(last >= 10_000, "{last}");
        for step in [0, 2999, first - 1] {
            assert_eq!(base.value(recon, step), edited.value(recon, step));
        }
        assert_ne!(base.value(recon, last), edited.value(recon, last));
    }

    #[test]
    fn an_edit_behind_the_run_or_past_its_stop_cannot_change_it() {
        let base = timeline(EX_1_5);
        let renamed = timeline(&EX_1_5.replacen("Primary & secondary", "Primary & secondary!", 1));
        assert_eq!(
            base.edit_reach(&renamed, 4000, None),
            Some(EditReach::Behind(4000))
        );
        assert_eq!(
            base.edit_reach(&renamed, 2000, None),
            None,
            "the run is still in it"
        );
        let late = timeline(&EX_1_5.replacen("Full color space", "Full colour space", 1));
        assert_eq!(base.edit_reach(&late, 4000, None), None);
        assert_eq!(
            base.edit_reach(&late, 4000, Some(3000)),
            Some(EditReach::PastStop(3000)),
            "a run that stops at 3,000 never reaches it"
        );
        assert_eq!(
            base.edit_reach(&base.clone(), 4000, None),
            None,
            "no change"
        );
    }
}
