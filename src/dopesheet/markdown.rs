//! The resolved sheet as a Markdown table, cell for cell as the seed prints it: Python's
//! `tabulate` in its "pipe" format, then every cell without a value blanked.
//!
//! tabulate's rules, as far as a dopesheet reaches them: a column whose every value is a
//! number is right-aligned with the decimal points lined up, any other column is left-aligned;
//! floats print as Python's `format(v, "g")`; a column is at least its header plus two wide.
//! A missing value takes part in the widths as the text `nan`, which the seed then blanks.
//!
//! Names come from the sheet: each is escaped for a table cell ([`markdown_cell`]) before it
//! is measured, so a `|` or a tag in one shows as text and the columns still line up.

use super::{header_name, Dopesheet};
use crate::escape::markdown_cell;

/// tabulate's `MIN_PADDING`: a header is padded by at least this much.
const HEADER_PADDING: usize = 2;

struct Column {
    /// Escaped, as the table shows it.
    header: String,
    /// Escaped; `None` where the table has no value.
    cells: Vec<Option<String>>,
    numeric: bool,
}

impl Dopesheet {
    pub fn to_markdown(&self) -> String {
        let text = |values: Vec<Option<String>>, header: &str| Column {
            header: header.into(),
            cells: values,
            numeric: false,
        };
        let mut columns = vec![
            Column {
                header: "STEP".into(),
                cells: self
                    .keyframes
                    .iter()
                    .map(|k| Some(k.step.to_string()))
                    .collect(),
                numeric: true,
            },
            text(
                (self.keyframes.iter())
                    .map(|k| k.phase.as_deref().map(markdown_cell))
                    .collect(),
                "PHASE",
            ),
            text(
                (self.keyframes.iter())
                    .map(|k| (!k.actions.is_empty()).then(|| markdown_cell(&k.actions.join(","))))
                    .collect(),
                "ACTION",
            ),
        ];
        for (i, property) in self.properties.iter().enumerate() {
            columns.push(Column {
                header: markdown_cell(&header_name(property)),
                cells: (self.keyframes.iter())
                    .map(|k| k.values[i].map(python_general))
                    .collect(),
                numeric: true,
            });
        }
        render(&columns, self.keyframes.len())
    }
}

fn render(columns: &[Column], rows: usize) -> String {
    let laid_out: Vec<(usize, Vec<String>)> = columns.iter().map(lay_out).collect();
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = String>| {
        out.push('|');
        for cell in cells {
            out.push_str(&cell);
            out.push('|');
        }
        out.push('\n');
    };
    line(&mut columns.iter().zip(&laid_out).map(|(c, (width, _))| {
        if c.numeric {
            format!(" {:>width$} ", c.header)
        } else {
            format!(" {:<width$} ", c.header)
        }
    }));
    line(&mut columns.iter().zip(&laid_out).map(|(c, (width, _))| {
        let dashes = "-".repeat(width + 1);
        if c.numeric {
            format!("{dashes}:")
        } else {
            format!(":{dashes}")
        }
    }));
    for row in 0..rows {
        line(
            &mut laid_out
                .iter()
                .map(|(_, cells)| format!(" {} ", cells[row])),
        );
    }
    out
}

/// The column's width and its cells padded to it (blank where there is no value).
fn lay_out(column: &Column) -> (usize, Vec<String>) {
    let shown: Vec<&str> = (column.cells.iter())
        .map(|c| c.as_deref().unwrap_or("nan"))
        .collect();
    let aligned: Vec<String> = if column.numeric {
        let decimals = shown.iter().map(|s| after_point(s));
        let most = decimals.clone().max().unwrap_or(-1);
        shown
            .iter()
            .zip(decimals)
            .map(|(s, d)| format!("{s}{}", " ".repeat((most - d) as usize)))
            .collect()
    } else {
        shown.iter().map(|s| s.to_string()).collect()
    };
    let widest = aligned.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let width = widest.max(column.header.chars().count() + HEADER_PADDING);
    let cells = (aligned.iter().zip(&column.cells))
        .map(|(s, value)| match value {
            None => " ".repeat(width),
            Some(_) if column.numeric => format!("{s:>width$}"),
            Some(_) => format!("{s:<width$}"),
        })
        .collect();
    (width, cells)
}

/// How many characters follow the decimal point (or the exponent's `e`) of a number as
/// tabulate counts them; -1 for an integer or something that has neither.
fn after_point(s: &str) -> isize {
    if s.parse::<i64>().is_ok() {
        return -1;
    }
    match s.rfind('.').or_else(|| s.rfind(['e', 'E'])) {
        Some(at) => (s.len() - at - 1) as isize,
        None => -1,
    }
}

/// Python's `format(v, "g")`: six significant digits, trailing zeros dropped, an exponent
/// below 1e-4 and from 1e6 on.
pub fn python_general(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{v:.5e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if (-4..6).contains(&exp) {
        trim(&format!("{v:.*}", (5 - exp) as usize))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn general_format_matches_python() {
        for (v, python) in [
            (1.0, "1"),
            (0.2, "0.2"),
            (0.001, "0.001"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (0.1 + 0.2, "0.3"),
            (-2.5, "-2.5"),
            (1e300, "1e+300"),
            (1.23456789, "1.23457"),
        ] {
            assert_eq!(python_general(v), python, "{v}");
        }
    }

    #[test]
    fn decimal_points_line_up() {
        assert_eq!(after_point("1"), -1);
        assert_eq!(after_point("0.25"), 2);
        assert_eq!(after_point("nan"), -1);
        assert_eq!(after_point("1e-05"), 3);
    }
}
