//! The dopesheet: a CSV of keyframes (STEP, PHASE, ACTION and one column per property).
//!
//! Parsing is strict where the reference only warned: every problem is a [`DopesheetError`]
//! that names the line and column it was found at, so the page can point at it.

use std::fmt;

mod markdown;

pub use markdown::python_general;

/// Longest curriculum we accept. The page keeps per-step state, so an accidental `1e12`
/// must be refused rather than attempted.
pub const MAX_STEPS: u64 = 10_000_000;
/// The largest sheet read: ex-1.5 is 400 bytes; a megabyte is thousands of keyframes.
pub const MAX_BYTES: usize = 1 << 20;

const RESERVED: [&str; 3] = ["STEP", "PHASE", "ACTION"];

/// Where a problem was found. Lines count from 1 (the header is line 1); columns from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: Option<(usize, String)>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some((index, name)) = &self.column {
            write!(f, ", column {index} ({name})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("the sheet is empty: expected a header row with STEP, PHASE, ACTION and lr")]
    Empty,
    #[error("the sheet has a header but no keyframe rows")]
    NoRows,
    #[error("the sheet is {0} bytes; at most {MAX_BYTES} are read")]
    TooLarge(usize),
    #[error("missing required column {0}")]
    MissingColumn(&'static str),
    #[error("column name {0:?} appears twice")]
    DuplicateColumn(String),
    #[error("a column has an empty name")]
    EmptyColumnName,
    #[error("unknown interpolation space {0:?}: expected `linear` or `log`")]
    UnknownSpace(String),
    #[error("unknown timing {0:?}: expected `minjerk`, `linear`, `step` or `step-end`")]
    UnknownTiming(String),
    #[error("too many `:` modifiers in {0:?}: expected `name[:space[:timing]]`")]
    TooManyModifiers(String),
    #[error("expected {expected} fields, found {found}")]
    FieldCount { expected: usize, found: usize },
    #[error("malformed CSV: {0}")]
    Csv(String),
    #[error("STEP is blank: expected an integer step or a `+`/`-` offset")]
    BlankStep,
    #[error("step {0} is negative: steps must be 0 or more")]
    NegativeStep(String),
    #[error("step {0:?} is not a whole number: expected an integer like 3000, or `+0.5` for a fraction of the gap")]
    NotAnInteger(String),
    #[error("step {0:?} is not understood: expected an integer, `+N`/`-N` steps or `+F`/`-F` with 0 < F < 1")]
    BadStep(String),
    #[error("fraction in {0:?} must lie strictly between 0 and 1")]
    FractionRange(String),
    #[error("offset {0:?} needs an absolute step in a row above it")]
    NoAnchorAbove(String),
    #[error("offset {0:?} needs an absolute step in a row below it")]
    NoAnchorBelow(String),
    #[error("step {step} is used twice (also on line {other_line})")]
    DuplicateStep { step: u64, other_line: usize },
    #[error("step {step} is past the limit of {MAX_STEPS} steps")]
    TooLong { step: u64 },
    #[error("{0:?} is not a number")]
    NotANumber(String),
    #[error("{0:?} is not a finite number")]
    NotFinite(String),
    #[error("the first keyframe (step {0}) must name a PHASE")]
    FirstRowWithoutPhase(u64),
    #[error("property `lr` has no value: the learning rate must be keyed at least once")]
    NoLearningRate,
}

/// A problem with a dopesheet, and where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dopesheet {location}: {problem}")]
pub struct DopesheetError {
    pub location: Location,
    pub problem: Problem,
}

impl DopesheetError {
    fn at_line(line: usize, problem: Problem) -> Self {
        Self {
            location: Location { line, column: None },
            problem,
        }
    }
    fn at(line: usize, column: usize, name: &str, problem: Problem) -> Self {
        let column = Some((column + 1, name.to_string()));
        Self {
            location: Location { line, column },
            problem,
        }
    }
}

/// How a property's value is interpolated between keys (spec §1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Space {
    #[default]
    Linear,
    /// Interpolate ln(max(v, 1e-10)), then exponentiate back.
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timing {
    #[default]
    MinJerk,
    Linear,
    /// Hold the value, then jump on the next key.
    StepEnd,
}

/// A property column: its name and how to interpolate it.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub space: Space,
    pub timing: Timing,
}

/// One row of the resolved sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyframe {
    pub step: u64,
    /// The CSV line the row came from, for messages.
    pub line: usize,
    pub phase: Option<String>,
    /// Split on `,` without trimming, as the reference does.
    pub actions: Vec<String>,
    /// One entry per property, `None` where the cell is blank.
    pub values: Vec<Option<f64>>,
}

/// A parsed and resolved dopesheet: keyframes sorted by step.
#[derive(Debug, Clone, PartialEq)]
pub struct Dopesheet {
    // Private: a sheet is only ever made by the parser, so its invariants (keyframes sorted
    // by step, one value per property, lr keyed) hold wherever one is passed.
    properties: Vec<Property>,
    keyframes: Vec<Keyframe>,
}

/// The ex-1.5 curriculum, compiled in so the CLI and the page work with no files.
pub const EX_1_5: &str = include_str!("../dopesheets/ex-1.5.csv");

enum RawStep {
    Absolute(u64),
    /// `+N` / `-N`: whole steps after the anchor above / before the anchor below.
    Offset(i64),
    /// `+F` / `-F`: a fraction of the gap between the anchors above and below.
    Fraction {
        from_end: bool,
        f: f64,
    },
}

impl Dopesheet {
    pub fn parse(text: &str) -> Result<Self, DopesheetError> {
        if text.len() > MAX_BYTES {
            return Err(DopesheetError::at_line(1, Problem::TooLarge(text.len())));
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        let mut records = reader.records();
        let header = match records.next() {
            None => return Err(DopesheetError::at_line(1, Problem::Empty)),
            Some(r) => r.map_err(|e| csv_error(&e, 1))?,
        };
        let columns = Columns::from_header(&header)?;

        let mut rows = Vec::new();
        for record in records {
            let record = record.map_err(|e| csv_error(&e, 0))?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            if record.len() != header.len() {
                let problem = Problem::FieldCount {
                    expected: header.len(),
                    found: record.len(),
                };
                return Err(DopesheetError::at_line(line, problem));
            }
            rows.push((line, record));
        }
        if rows.is_empty() {
            return Err(DopesheetError::at_line(2, Problem::NoRows));
        }

        let raw_steps = rows
            .iter()
            .map(|(line, r)| parse_step(&r[columns.step], *line, columns.step))
            .collect::<Result<Vec<_>, _>>()?;
        let steps = resolve_steps(&raw_steps, &rows, columns.step)?;

        let mut keyframes = Vec::with_capacity(rows.len());
        for ((line, record), step) in rows.iter().zip(steps) {
            let phase = Some(record[columns.phase].to_string()).filter(|p| !p.is_empty());
            let action = &record[columns.action];
            let actions = if action.is_empty() {
                Vec::new()
            } else {
                action.split(',').map(str::to_string).collect()
            };
            let values = columns
                .properties
                .iter()
                .map(|(index, prop)| parse_value(&record[*index], *line, *index, &prop.name))
                .collect::<Result<Vec<_>, _>>()?;
            keyframes.push(Keyframe {
                step,
                line: *line,
                phase,
                actions,
                values,
            });
        }

        // By step, then in the file's order.
        let keyframes =
            crate::order::sorted_by(&keyframes, &|a, b| (a.step, a.line).cmp(&(b.step, b.line)));
        for pair in keyframes.windows(2) {
            if pair[0].step == pair[1].step {
                let (first, second) = (&pair[0], &pair[1]);
                let (line, other_line) = (first.line.max(second.line), first.line.min(second.line));
                let problem = Problem::DuplicateStep {
                    step: first.step,
                    other_line,
                };
                return Err(DopesheetError::at(line, columns.step, "STEP", problem));
            }
        }
        let first = &keyframes[0];
        if first.phase.is_none() {
            let problem = Problem::FirstRowWithoutPhase(first.step);
            return Err(DopesheetError::at(
                first.line,
                columns.phase,
                "PHASE",
                problem,
            ));
        }

        let properties: Vec<Property> = columns.properties.into_iter().map(|(_, p)| p).collect();
        let sheet = Dopesheet {
            properties,
            keyframes,
        };
        let lr = sheet.property_index("lr").expect("checked with the header");
        if sheet.keyframes.iter().all(|k| k.values[lr].is_none()) {
            return Err(DopesheetError::at(
                1,
                columns.lr,
                "lr",
                Problem::NoLearningRate,
            ));
        }
        Ok(sheet)
    }

    pub fn properties(&self) -> &[Property] {
        &self.properties
    }

    /// Sorted by step.
    pub fn keyframes(&self) -> &[Keyframe] {
        &self.keyframes
    }

    pub fn property_index(&self, name: &str) -> Option<usize> {
        self.properties.iter().position(|p| p.name == name)
    }

    /// Steps in the curriculum: the last keyframe's step is included.
    pub fn len(&self) -> u64 {
        self.keyframes.last().map_or(0, |k| k.step + 1)
    }

    pub fn is_empty(&self) -> bool {
        self.keyframes.is_empty()
    }

    /// This sheet with property `property`'s value at the keyframe of step `step` set to
    /// `value` (a blank cell becomes a key), and nothing else changed; `None` when no keyframe
    /// has that step. The caller checks that `value` is finite, as the parser does.
    pub fn with_value(&self, property: usize, step: u64, value: f64) -> Option<Dopesheet> {
        debug_assert!(value.is_finite());
        let mut sheet = self.clone();
        let keyframe = sheet.keyframes.iter_mut().find(|k| k.step == step)?;
        *keyframe.values.get_mut(property)? = Some(value);
        Some(sheet)
    }

    /// The resolved table as CSV, in the form pandas writes it (the golden
    /// `dopesheet_resolved.csv`): blanks stay blank, numbers in Python's `repr`.
    pub fn resolved_csv(&self) -> String {
        let mut out = String::from("STEP,PHASE,ACTION");
        for p in &self.properties {
            out.push(',');
            out.push_str(&csv_field(&header_name(p)));
        }
        out.push('\n');
        for k in &self.keyframes {
            out.push_str(&k.step.to_string());
            out.push(',');
            out.push_str(&csv_field(k.phase.as_deref().unwrap_or("")));
            out.push(',');
            out.push_str(&csv_field(&k.actions.join(",")));
            for v in &k.values {
                out.push(',');
                if let Some(v) = v {
                    out.push_str(&python_repr(*v));
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Quotes a CSV field when it needs quoting (RFC 4180). The resolved table reads back as the
/// same sheet, so text is written as it is: `check` guards it for spreadsheets
/// ([`crate::escape::csv_cell`]) as it prints it.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The header text that round-trips a property's modifiers.
fn header_name(p: &Property) -> String {
    match (p.space, p.timing) {
        (Space::Linear, Timing::MinJerk) => p.name.clone(),
        (Space::Log, Timing::MinJerk) => format!("{}:log", p.name),
        (space, timing) => {
            let space = if space == Space::Log { "log" } else { "" };
            let timing = if timing == Timing::Linear {
                "linear"
            } else {
                "step-end"
            };
            format!("{}:{space}:{timing}", p.name)
        }
    }
}

/// Formats an f64 the way Python's `repr` does: shortest round-trip digits, positional
/// notation for exponents -4..16, otherwise `d.ddde-XX`.
pub fn python_repr(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest round-trip digits, e.g. "1.7339416956018489e-9".
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if v < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

struct Columns {
    step: usize,
    phase: usize,
    action: usize,
    lr: usize,
    properties: Vec<(usize, Property)>,
}

impl Columns {
    fn from_header(header: &csv::StringRecord) -> Result<Self, DopesheetError> {
        let find = |name: &'static str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| DopesheetError::at_line(1, Problem::MissingColumn(name)))
        };
        let (step, phase, action) = (find("STEP")?, find("PHASE")?, find("ACTION")?);
        let mut properties: Vec<(usize, Property)> = Vec::new();
        // A set, not a scan of the columns so far: a header may have thousands.
        let mut names = std::collections::HashSet::new();
        for (index, text) in header.iter().enumerate() {
            let at = |problem| DopesheetError::at(1, index, text, problem);
            if RESERVED.contains(&text) {
                if header.iter().filter(|h| *h == text).count() > 1 {
                    return Err(at(Problem::DuplicateColumn(text.to_string())));
                }
                continue;
            }
            let prop = parse_property(text).map_err(at)?;
            if !names.insert(prop.name.clone()) {
                return Err(at(Problem::DuplicateColumn(prop.name)));
            }
            properties.push((index, prop));
        }
        let lr = properties
            .iter()
            .find(|(_, p)| p.name == "lr")
            .map(|(i, _)| *i)
            .ok_or_else(|| DopesheetError::at_line(1, Problem::MissingColumn("lr")))?;
        Ok(Columns {
            step,
            phase,
            action,
            lr,
            properties,
        })
    }
}

fn parse_property(text: &str) -> Result<Property, Problem> {
    let mut parts = text.split(':');
    let name = parts.next().unwrap_or_default();
    if name.is_empty() {
        return Err(Problem::EmptyColumnName);
    }
    let space = match parts.next() {
        None | Some("") | Some("linear") => Space::Linear,
        Some("log") => Space::Log,
        Some(other) => return Err(Problem::UnknownSpace(other.to_string())),
    };
    let timing = match parts.next() {
        None | Some("") | Some("minjerk") => Timing::MinJerk,
        Some("linear") => Timing::Linear,
        Some("step") | Some("step-end") => Timing::StepEnd,
        Some(other) => return Err(Problem::UnknownTiming(other.to_string())),
    };
    if parts.next().is_some() {
        return Err(Problem::TooManyModifiers(text.to_string()));
    }
    Ok(Property {
        name: name.to_string(),
        space,
        timing,
    })
}

fn csv_error(e: &csv::Error, fallback_line: usize) -> DopesheetError {
    let line = e.position().map_or(fallback_line, |p| p.line() as usize);
    if let csv::ErrorKind::UnequalLengths {
        expected_len, len, ..
    } = e.kind()
    {
        let problem = Problem::FieldCount {
            expected: *expected_len as usize,
            found: *len as usize,
        };
        return DopesheetError::at_line(line, problem);
    }
    DopesheetError::at_line(line, Problem::Csv(e.to_string()))
}

fn parse_step(cell: &str, line: usize, column: usize) -> Result<RawStep, DopesheetError> {
    let err = |problem| DopesheetError::at(line, column, "STEP", problem);
    let text = cell.trim();
    if text.is_empty() {
        return Err(err(Problem::BlankStep));
    }
    let (sign, body) = match text.as_bytes()[0] {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => (0, text),
    };
    let is_integer = |s: &str| {
        // Python's int() takes underscores between digits, as in 1_000.
        !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit() || b == b'_')
            && !s.starts_with('_')
            && !s.ends_with('_')
            && !s.contains("__")
    };
    if sign == 0 {
        if is_integer(body) {
            let step: u64 = body
                .replace('_', "")
                .parse()
                .map_err(|_| err(Problem::TooLong { step: u64::MAX }))?;
            if step >= MAX_STEPS {
                return Err(err(Problem::TooLong { step }));
            }
            return Ok(RawStep::Absolute(step));
        }
        return Err(err(match body.parse::<f64>() {
            Ok(_) => Problem::NotAnInteger(text.to_string()),
            Err(_) => Problem::BadStep(text.to_string()),
        }));
    }
    if is_integer(body) && !body.starts_with('0') {
        let n: i64 = body
            .replace('_', "")
            .parse()
            .map_err(|_| err(Problem::TooLong { step: u64::MAX }))?;
        if n as u64 >= MAX_STEPS {
            return Err(err(Problem::TooLong { step: n as u64 }));
        }
        return Ok(RawStep::Offset(sign * n));
    }
    if body.contains('.') {
        if let Ok(f) = body.parse::<f64>() {
            if !(f > 0.0 && f < 1.0) {
                return Err(err(Problem::FractionRange(text.to_string())));
            }
            return Ok(RawStep::Fraction {
                from_end: sign < 0,
                f,
            });
        }
    }
    Err(err(Problem::BadStep(text.to_string())))
}

/// Turns offsets into absolute steps using the nearest absolute rows above and below,
/// in file order (not step order), as the reference does.
fn resolve_steps(
    raw: &[RawStep],
    rows: &[(usize, csv::StringRecord)],
    column: usize,
) -> Result<Vec<u64>, DopesheetError> {
    let absolute = |i: usize| match raw[i] {
        RawStep::Absolute(s) => Some(s),
        _ => None,
    };
    let mut steps = Vec::with_capacity(raw.len());
    for (i, step) in raw.iter().enumerate() {
        let line = rows[i].0;
        let text = rows[i].1[column].trim().to_string();
        let err = |problem| DopesheetError::at(line, column, "STEP", problem);
        let above = (0..i).rev().find_map(absolute);
        let below = (i + 1..raw.len()).find_map(absolute);
        let resolved = match *step {
            RawStep::Absolute(s) => s as i64,
            RawStep::Offset(n) if n > 0 => {
                above.ok_or_else(|| err(Problem::NoAnchorAbove(text.clone())))? as i64 + n
            }
            RawStep::Offset(n) => {
                below.ok_or_else(|| err(Problem::NoAnchorBelow(text.clone())))? as i64 + n
            }
            RawStep::Fraction { from_end, f } => {
                let prev = above.ok_or_else(|| err(Problem::NoAnchorAbove(text.clone())))? as f64;
                let next = below.ok_or_else(|| err(Problem::NoAnchorBelow(text.clone())))? as f64;
                let at = if from_end {
                    next - f * (next - prev)
                } else {
                    prev + f * (next - prev)
                };
                at.round_ties_even() as i64
            }
        };
        if resolved < 0 {
            return Err(err(Problem::NegativeStep(format!("{text} = {resolved}"))));
        }
        let resolved = resolved as u64;
        if resolved >= MAX_STEPS {
            return Err(err(Problem::TooLong { step: resolved }));
        }
        steps.push(resolved);
    }
    Ok(steps)
}

fn parse_value(
    cell: &str,
    line: usize,
    column: usize,
    name: &str,
) -> Result<Option<f64>, DopesheetError> {
    let text = cell.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let err = |problem| DopesheetError::at(line, column, name, problem);
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        Ok(_) => Err(err(Problem::NotFinite(text.to_string()))),
        Err(_) => Err(err(Problem::NotANumber(text.to_string()))),
    }
}
