//! Phase diagrams: one or two values of a sheet, each addressed by its column and keyframe
//! step, varied over a grid of cells. Every cell trains the base sheet with exactly those
//! keyframe values replaced, so a cell's sheet reproduces it anywhere a sheet is read.
//!
//! An axis is written `COLUMN@STEP=FROM..TO/COUNT`, with `:log` after the count for
//! logarithmic spacing, or `COLUMN@STEP=V1,V2,…` for a list. STEP is the keyframe's resolved
//! step, as `color-bottleneck check` prints it; a blank cell at that keyframe becomes a key.

use std::fmt;

use crate::dopesheet::Dopesheet;

/// Values one axis may take.
pub const MAX_VALUES: usize = 64;
/// Axes a grid may vary: a heatmap has two.
pub const MAX_AXES: usize = 2;

/// One varied value: where it is in the sheet and the values it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The column's name (without its `:log` and timing modifiers).
    pub column: String,
    pub property: usize,
    /// The keyframe's resolved step.
    pub step: u64,
    pub values: Vec<f64>,
    /// Spaced logarithmically (`:log`), as the axis of a chart should be too.
    pub log: bool,
}

impl Axis {
    /// `column@step`, the address as it was written.
    pub fn address(&self) -> String {
        format!("{}@{}", self.column, self.step)
    }

    /// The axis's name on a chart: its address, and `(log)` for log spacing.
    pub fn label(&self) -> String {
        format!("{}{}", self.address(), if self.log { " (log)" } else { "" })
    }

    /// Its values to three significant digits, for ticks (tables have them whole).
    pub fn tick_labels(&self) -> Vec<String> {
        let short = |v: f64| {
            format!("{v:.2e}")
                .parse::<f64>()
                .map_or(v.to_string(), |s| s.to_string())
        };
        self.values.iter().map(|&v| short(v)).collect()
    }

    /// Reads one axis of `sheet`.
    pub fn parse(spec: &str, sheet: &Dopesheet) -> Result<Axis, VaryError> {
        let fail = |part: Part, problem: VaryProblem| VaryError {
            spec: spec.to_string(),
            part,
            problem,
        };
        let (address, range) = spec
            .rsplit_once('=')
            .ok_or_else(|| fail(Part::Whole, VaryProblem::Syntax))?;
        let (column, step) = address
            .rsplit_once('@')
            .ok_or_else(|| fail(Part::Whole, VaryProblem::Syntax))?;
        let column = column.trim();
        let property = sheet.property_index(column).ok_or_else(|| {
            let columns = sheet.properties().iter().map(|p| p.name.clone()).collect();
            fail(
                Part::Column(column.to_string()),
                VaryProblem::UnknownColumn(columns),
            )
        })?;
        let step_part = || Part::Step(step.trim().to_string());
        let step: u64 = step
            .trim()
            .parse()
            .map_err(|_| fail(step_part(), VaryProblem::NotAStep))?;
        if !sheet.keyframes().iter().any(|k| k.step == step) {
            let steps = sheet.keyframes().iter().map(|k| k.step).collect();
            return Err(fail(step_part(), VaryProblem::NoKeyframe(steps)));
        }
        let range_part = || Part::Range(range.trim().to_string());
        let (values, log) =
            parse_range(range.trim()).map_err(|problem| fail(range_part(), problem))?;
        Ok(Axis {
            column: column.to_string(),
            property,
            step,
            values,
            log,
        })
    }
}

/// `FROM..TO/COUNT[:log]` or `V1,V2,…`.
fn parse_range(text: &str) -> Result<(Vec<f64>, bool), VaryProblem> {
    let number = |t: &str| -> Result<f64, VaryProblem> {
        let t = t.trim();
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(VaryProblem::NotFinite(t.to_string())),
            Err(_) => Err(VaryProblem::NotANumber(t.to_string())),
        }
    };
    let Some((from, rest)) = text.split_once("..") else {
        if text.is_empty() {
            return Err(VaryProblem::EmptyRange);
        }
        let values = text.split(',').map(number).collect::<Result<Vec<_>, _>>()?;
        if values.len() > MAX_VALUES {
            return Err(VaryProblem::TooManyValues(values.len()));
        }
        return Ok((values, false));
    };
    let (to, count) = rest.split_once('/').ok_or(VaryProblem::Syntax)?;
    let (count, log) = match count.split_once(':') {
        None => (count, false),
        Some((count, "log")) => (count, true),
        Some((_, other)) => return Err(VaryProblem::UnknownSpacing(other.to_string())),
    };
    let (from, to) = (number(from)?, number(to)?);
    let count: usize = count
        .trim()
        .parse()
        .map_err(|_| VaryProblem::NotACount(count.trim().to_string()))?;
    match count {
        0 => return Err(VaryProblem::EmptyRange),
        n if n > MAX_VALUES => return Err(VaryProblem::TooManyValues(n)),
        1 if from != to => return Err(VaryProblem::OneValueTwoEnds),
        _ => {}
    }
    if log && (from <= 0.0 || to <= 0.0) {
        return Err(VaryProblem::LogOfNonPositive);
    }
    let at = |t: f64| {
        if log {
            (from.ln() + (to.ln() - from.ln()) * t).exp()
        } else {
            from + (to - from) * t
        }
    };
    let values = (0..count)
        .map(|i| {
            if i + 1 == count {
                return to;
            }
            let t = if count == 1 {
                0.0
            } else {
                i as f64 / (count - 1) as f64
            };
            round_to_significant(at(t))
        })
        .collect();
    Ok((values, log))
}

/// `v` to 12 significant digits, so that a step of a linear range prints as its user wrote
/// it would (0.3, not 0.30000000000000004).
fn round_to_significant(v: f64) -> f64 {
    format!("{v:.11e}").parse().unwrap_or(v)
}

/// Which piece of an axis a problem is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Whole,
    Column(String),
    Step(String),
    Range(String),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VaryProblem {
    #[error("expected COLUMN@STEP=FROM..TO/COUNT (`:log` after COUNT for log spacing) or COLUMN@STEP=V1,V2,…")]
    Syntax,
    #[error("no such column; the sheet's columns are {}", .0.join(", "))]
    UnknownColumn(Vec<String>),
    #[error("not a whole step")]
    NotAStep,
    #[error("no keyframe has this step; the sheet's keyframes are at steps {}", list(.0))]
    NoKeyframe(Vec<u64>),
    #[error("{0:?} is not a number")]
    NotANumber(String),
    #[error("{0:?} is not a finite number")]
    NotFinite(String),
    #[error("{0:?} is not a whole count of values")]
    NotACount(String),
    #[error("the range is empty: it needs at least one value")]
    EmptyRange,
    #[error("{0} values; an axis takes at most {MAX_VALUES}")]
    TooManyValues(usize),
    #[error("a range of one value must start and end at it (e.g. 0.2..0.2/1)")]
    OneValueTwoEnds,
    #[error("unknown spacing {0:?}: expected `log` (or nothing, for linear)")]
    UnknownSpacing(String),
    #[error("a log range needs both ends above 0")]
    LogOfNonPositive,
}

fn list(steps: &[u64]) -> String {
    let steps: Vec<String> = steps.iter().map(u64::to_string).collect();
    steps.join(", ")
}

/// A problem with one axis, located in its text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct VaryError {
    pub spec: String,
    pub part: Part,
    pub problem: VaryProblem,
}

impl fmt::Display for VaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: ", self.spec)?;
        match &self.part {
            Part::Whole => {}
            Part::Column(c) => write!(f, "column `{c}`: ")?,
            Part::Step(s) => write!(f, "step `{s}`: ")?,
            Part::Range(r) => write!(f, "values `{r}`: ")?,
        }
        write!(f, "{}", self.problem)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GridError {
    #[error(transparent)]
    Vary(#[from] VaryError),
    #[error("nothing to vary: give one or two axes")]
    NoAxes,
    #[error("{0} axes; a grid varies at most {MAX_AXES}")]
    TooManyAxes(usize),
    #[error("`{0}` is varied twice")]
    SameValueTwice(String),
}

/// A base sheet and the values varied over it.
#[derive(Debug, Clone)]
pub struct Grid {
    base: Dopesheet,
    axes: Vec<Axis>,
}

/// One cell: where it is on each axis, its values, and the sheet it trains.
#[derive(Debug, Clone)]
pub struct Cell {
    pub index: usize,
    /// The index into each axis's values.
    pub coordinates: Vec<usize>,
    pub values: Vec<f64>,
    pub sheet: Dopesheet,
}

impl Grid {
    pub fn new(base: Dopesheet, specs: &[impl AsRef<str>]) -> Result<Grid, GridError> {
        match specs.len() {
            0 => return Err(GridError::NoAxes),
            n if n > MAX_AXES => return Err(GridError::TooManyAxes(n)),
            _ => {}
        }
        let axes = specs
            .iter()
            .map(|s| Axis::parse(s.as_ref(), &base))
            .collect::<Result<Vec<_>, _>>()?;
        if let [a, b] = &axes[..] {
            if (a.property, a.step) == (b.property, b.step) {
                return Err(GridError::SameValueTwice(a.address()));
            }
        }
        Ok(Grid { base, axes })
    }

    /// The first axis runs along a heatmap's columns, the second along its rows.
    pub fn axes(&self) -> &[Axis] {
        &self.axes
    }

    pub fn base(&self) -> &Dopesheet {
        &self.base
    }

    /// Cells in all.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cells in row-major order: the first axis varies fastest.
    pub fn cell(&self, index: usize) -> Cell {
        let mut rest = index;
        let coordinates: Vec<usize> = (self.axes.iter())
            .map(|a| {
                let i = rest % a.values.len();
                rest /= a.values.len();
                i
            })
            .collect();
        let mut sheet = self.base.clone();
        let mut values = Vec::with_capacity(self.axes.len());
        for (axis, &i) in self.axes.iter().zip(&coordinates) {
            let value = axis.values[i];
            sheet = (sheet.with_value(axis.property, axis.step, value))
                .expect("an axis addresses a keyframe of the base sheet");
            values.push(value);
        }
        Cell {
            index,
            coordinates,
            values,
            sheet,
        }
    }

    pub fn cells(&self) -> impl Iterator<Item = Cell> + '_ {
        (0..self.len()).map(|i| self.cell(i))
    }
}

/// What the page's phase diagram says while cell `cell` (from 0) of `cells` trains.
pub fn progress_text(cell: usize, cells: usize) -> String {
    format!("cell {} of {cells}…", cell + 1)
}

/// What the page's phase diagram says when another run took the view while cell `cell`
/// trained: the cells before it keep their results.
pub fn stopped_text(cell: usize, cells: usize) -> String {
    format!(
        "stopped at cell {} of {cells}: another run took its place",
        cell + 1
    )
}

/// What the page's phase diagram says when every cell has trained, after `seconds`.
pub fn finished_text(cells: usize, runs: usize, seconds: f64) -> String {
    format!("{cells} cells × {runs} seeds in {seconds:.1} s; click a cell to open its sheet")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_says_how_far_a_grid_is() {
        assert_eq!(progress_text(0, 9), "cell 1 of 9…");
        assert_eq!(
            stopped_text(2, 9),
            "stopped at cell 3 of 9: another run took its place"
        );
        assert_eq!(
            finished_text(9, 16, 12.345),
            "9 cells × 16 seeds in 12.3 s; click a cell to open its sheet"
        );
    }
    use crate::dopesheet::EX_1_5;

    fn ex_1_5() -> Dopesheet {
        Dopesheet::parse(EX_1_5).unwrap()
    }

    #[test]
    fn linear_and_log_ranges_take_their_ends_and_even_steps() {
        let sheet = ex_1_5();
        let a = Axis::parse("reg-separate@1200=0.1..0.5/5", &sheet).unwrap();
        assert_eq!(a.values, [0.1, 0.2, 0.3, 0.4, 0.5]);
        assert_eq!(
            (a.column.as_str(), a.step, a.log),
            ("reg-separate", 1200, false)
        );
        let lr = Axis::parse("lr@3350=0.001..0.1/3:log", &sheet).unwrap();
        assert_eq!(lr.values, [0.001, 0.01, 0.1]);
        assert!(lr.log);
        let list = Axis::parse("reg-norm@3000=0.1, 0.25,1", &sheet).unwrap();
        assert_eq!(list.values, [0.1, 0.25, 1.0]);
        let one = Axis::parse("reg-norm@3000=0.2..0.2/1", &sheet).unwrap();
        assert_eq!(one.values, [0.2]);
    }

    #[test]
    fn a_cell_is_the_base_sheet_with_exactly_its_values_replaced() {
        let base = ex_1_5();
        let grid = Grid::new(
            base.clone(),
            &["reg-separate@1200=0.1..0.5/5", "lr@0=0.003..0.03/2:log"],
        )
        .unwrap();
        assert_eq!(grid.len(), 10);
        let cell = grid.cell(7);
        assert_eq!(cell.coordinates, [2, 1]);
        assert_eq!(cell.values, [0.3, 0.03]);
        let separate = base.property_index("reg-separate").unwrap();
        let lr = base.property_index("lr").unwrap();
        for (k, (was, now)) in base
            .keyframes()
            .iter()
            .zip(cell.sheet.keyframes())
            .enumerate()
        {
            assert_eq!(
                (was.step, &was.phase, &was.actions),
                (now.step, &now.phase, &now.actions)
            );
            for p in 0..base.properties().len() {
                let expected = match (was.step, p) {
                    (1200, q) if q == separate => Some(0.3),
                    // lr at step 0 is blank in ex-1.5: the cell keys it.
                    (0, q) if q == lr => Some(0.03),
                    _ => was.values[p],
                };
                assert_eq!(now.values[p], expected, "keyframe {k}, property {p}");
            }
        }
        assert_eq!(base.properties(), cell.sheet.properties());
        // The written sheet reads back as the cell's sheet.
        assert_eq!(
            Dopesheet::parse(&cell.sheet.resolved_csv()).unwrap(),
            cell.sheet
        );
    }

    #[test]
    fn each_bad_address_says_which_part_is_wrong() {
        let sheet = ex_1_5();
        let problem = |spec: &str| Axis::parse(spec, &sheet).unwrap_err();
        let e = problem("reg-sep@1200=0.1..0.5/5");
        assert_eq!(e.part, Part::Column("reg-sep".into()));
        assert!(e.to_string().contains("reg-separate"), "{e}");
        let e = problem("reg-separate@400=0.1..0.5/5");
        assert_eq!(e.part, Part::Step("400".into()));
        assert!(e.to_string().contains("0, 1200, 1800, 3000"), "{e}");
        assert_eq!(problem("reg-separate@x=1").part, Part::Step("x".into()));
        for (spec, expected) in [
            ("reg-separate@1200=0.1..0.5/0", VaryProblem::EmptyRange),
            ("reg-separate@1200=", VaryProblem::EmptyRange),
            ("reg-separate@1200=0.1..0.5", VaryProblem::Syntax),
            (
                "reg-separate@1200=0.1..0.5/5:cubic",
                VaryProblem::UnknownSpacing("cubic".into()),
            ),
            (
                "reg-separate@1200=0..0.5/3:log",
                VaryProblem::LogOfNonPositive,
            ),
            ("reg-separate@1200=0.1..0.5/1", VaryProblem::OneValueTwoEnds),
            (
                "reg-separate@1200=0.1..nan/3",
                VaryProblem::NotFinite("nan".into()),
            ),
            (
                "reg-separate@1200=a..0.5/3",
                VaryProblem::NotANumber("a".into()),
            ),
            (
                "reg-separate@1200=0.1..0.5/x",
                VaryProblem::NotACount("x".into()),
            ),
            ("reg-separate@1200=0..1/65", VaryProblem::TooManyValues(65)),
        ] {
            let e = problem(spec);
            assert_eq!(
                (e.part.clone(), e.problem),
                (Part::Range(spec[18..].into()), expected)
            );
        }
        assert_eq!(problem("reg-separate=0.1").part, Part::Whole);
        assert_eq!(
            problem("reg-separate@1200=0.1..0.5/0").to_string(),
            "`reg-separate@1200=0.1..0.5/0`: values `0.1..0.5/0`: the range is empty: it \
             needs at least one value"
        );
    }

    #[test]
    fn a_grid_takes_one_or_two_different_axes() {
        let empty: [&str; 0] = [];
        assert_eq!(Grid::new(ex_1_5(), &empty).unwrap_err(), GridError::NoAxes);
        let three = ["lr@0=1", "reg-norm@3000=1", "reg-planar@0=1"];
        assert_eq!(
            Grid::new(ex_1_5(), &three).unwrap_err(),
            GridError::TooManyAxes(3)
        );
        let twice = ["lr@0=1,2", "lr@0=3"];
        assert_eq!(
            Grid::new(ex_1_5(), &twice).unwrap_err(),
            GridError::SameValueTwice("lr@0".into())
        );
    }
}
