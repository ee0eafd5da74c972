//! Every export is safe in its format: a sheet's phase, action and column names come out as
//! the text they are, never as table structure, markup or a spreadsheet formula.

use std::path::{Path, PathBuf};
use std::process::Command;

use color_bottleneck::dopesheet::{Dopesheet, EX_1_5};
use color_bottleneck::run::RunSpec;
use color_bottleneck::share::{embed_snippets, SharedRun};

/// A phase that breaks a table, carries HTML, emphasis and a formula, and needs quoting in a
/// CSV.
const PHASE: &str =
    r#"a|b\c <img src=x onerror=alert(1)> & *em* __u__ ~~s~~ =HYPERLINK("http://x","y")"#;
/// A phase that is a formula and nothing else.
const FORMULA_PHASE: &str = "=1+2";
/// A property column: a pipe, a tag and a character reference, and one that is a formula.
const COLUMN: &str = "p|q<b>&amp;";
const FORMULA_COLUMN: &str = "=SUM(A1)";

/// Phases, actions and columns as hostile as the parser lets through. Actions are split on
/// `,`, so `@SUM(A1)` and `-2+3` are two of them.
fn hostile_sheet() -> String {
    let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    format!(
        "STEP,PHASE,ACTION,lr,{},{FORMULA_COLUMN}:log\n\
         0,{},\"@SUM(A1),-2+3\",0.01,1,0.5\n\
         5,{FORMULA_PHASE},-2+3,,-0.5,\n\
         10,,,0.001,,-1e-3\n",
        quoted(COLUMN),
        quoted(PHASE),
    )
}

fn parse(text: &str) -> Dopesheet {
    Dopesheet::parse(text).expect("the hostile sheet parses")
}

// ---- Markdown ----

/// A row's cells, split on the pipes that are not escaped, with their escapes undone.
fn markdown_cells(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next().expect("an escape escapes something");
                cells.last_mut().unwrap().push(next);
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    // The text before the first pipe and after the last.
    assert_eq!(cells.first().map(String::as_str), Some(""), "{line}");
    assert_eq!(cells.last().map(String::as_str), Some(""), "{line}");
    cells[1..cells.len() - 1]
        .iter()
        .map(|c| {
            c.trim()
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

#[test]
fn markdown_keeps_its_table_and_shows_names_as_text() {
    let table = parse(&hostile_sheet()).to_markdown();
    let rows: Vec<Vec<String>> = table.lines().map(markdown_cells).collect();
    assert_eq!(rows.len(), 2 + 3, "{table}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 6, "row {i} of\n{table}");
    }
    assert_eq!(
        rows[0],
        ["STEP", "PHASE", "ACTION", "lr", COLUMN, "=SUM(A1):log"].map(String::from)
    );
    assert_eq!(rows[2][1], PHASE);
    assert_eq!(rows[2][2], "@SUM(A1),-2+3");
    assert_eq!(rows[3][1], FORMULA_PHASE);
    assert!(
        !table.contains(['<', '>']),
        "a tag gets through to the post:\n{table}"
    );
    // Emphasis and strikethrough delimiters all come escaped.
    let mut before = ' ';
    for c in table.chars() {
        assert!(
            !matches!(c, '*' | '_' | '~') || before == '\\',
            "an unescaped {c:?} in\n{table}"
        );
        before = if before == '\\' { ' ' } else { c };
    }
}

#[test]
fn markdown_of_the_seed_is_byte_for_byte_the_golden_table() {
    let golden = include_str!("golden/dopesheet_markdown.md");
    assert_eq!(parse(EX_1_5).to_markdown(), golden);
}

// ---- CSV ----

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_color-bottleneck"))
}

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("exports-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn hostile_sheet_file(dir: &Path) -> PathBuf {
    let path = dir.join("hostile.csv");
    std::fs::write(&path, hostile_sheet()).unwrap();
    path
}

/// The records of `csv`, read as a spreadsheet program would get them. Every field that
/// would start a formula must be a finite number.
fn read_csv(csv: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv.as_bytes());
    let records: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    for field in records.iter().flatten() {
        if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            assert!(
                field.parse::<f64>().is_ok_and(f64::is_finite),
                "{field:?} is a formula in\n{csv}"
            );
        }
    }
    records
}

/// A name as the CSV holds it: the name, after a `'` where it would be a formula.
fn as_text(name: &str) -> String {
    if name.starts_with(['=', '+', '-', '@']) {
        format!("'{name}")
    } else {
        name.to_string()
    }
}

#[test]
fn check_csv_holds_the_names_as_text() {
    let dir = tempdir("check");
    let csv = run(cli().arg("check").arg(hostile_sheet_file(&dir)));
    let records = read_csv(&csv);
    assert_eq!(
        records[0],
        [
            "STEP".into(),
            "PHASE".into(),
            "ACTION".into(),
            "lr".into(),
            COLUMN.to_string(),
            as_text(&format!("{FORMULA_COLUMN}:log")),
        ]
    );
    assert_eq!(records.len(), 4, "{csv}");
    assert_eq!(records[1][1], PHASE);
    assert_eq!(records[1][2], as_text("@SUM(A1),-2+3"));
    assert_eq!(records[2][1], as_text(FORMULA_PHASE));
    assert_eq!(records[2][2], as_text("-2+3"));
    // Numbers stay numbers.
    assert_eq!(records[2][4], "-0.5");
    assert_eq!(records[3][5], "-0.001");
}

#[test]
fn check_csv_of_the_seed_is_byte_for_byte_the_golden_table() {
    let csv = run(cli().arg("check").arg(format!(
        "{}/dopesheets/ex-1.5.csv",
        env!("CARGO_MANIFEST_DIR")
    )));
    assert_eq!(csv, include_str!("golden/dopesheet_resolved.csv"));
}

#[test]
fn timeline_csv_holds_the_names_as_text() {
    let dir = tempdir("timeline");
    let csv = run(cli().arg("timeline").arg(hostile_sheet_file(&dir)));
    let records = read_csv(&csv);
    assert_eq!(
        records[0][5..],
        ["lr".into(), COLUMN.to_string(), as_text(FORMULA_COLUMN)]
    );
    assert_eq!(records.len(), 1 + 12, "{csv}");
    assert_eq!(records[1][1], PHASE);
    assert_eq!(records[1][2], as_text("@SUM(A1);-2+3"));
    assert_eq!(records[6][1], as_text(FORMULA_PHASE));
    assert_eq!(records[6][2], as_text("-2+3"));
}

#[test]
fn losses_csv_holds_the_phase_names_as_text() {
    let dir = tempdir("train");
    let out = dir.join("out");
    run(cli()
        .arg("train")
        .arg(hostile_sheet_file(&dir))
        .args([
            "--quiet",
            "--latent-dims",
            "2",
            "--batch-size",
            "8",
            "--out",
        ])
        .arg(&out));
    let csv = std::fs::read_to_string(out.join("losses.csv")).unwrap();
    let records = read_csv(&csv);
    assert_eq!(records.len(), 1 + 11, "{csv}");
    assert!(records[1..6].iter().all(|r| r[1] == PHASE), "{csv}");
    assert!(
        (records[6..].iter()).all(|r| r[1] == as_text(FORMULA_PHASE)),
        "{csv}"
    );
}

// ---- Embed snippets ----

/// The attribute values of `html`, in order, with their character references undone; `html`
/// must have no `"` but those that delimit them.
fn attribute_values(html: &str) -> Vec<String> {
    (html.split('"').skip(1).step_by(2))
        .map(|v| {
            v.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&")
        })
        .collect()
}

#[test]
fn snippets_hold_a_hostile_base_and_sheet_in_their_attributes() {
    let base = r#"https://x.org/"><script>alert(1)</script><a href='&amp;/"#;
    let run = SharedRun {
        sheet: hostile_sheet(),
        spec: RunSpec {
            seed: 7,
            latent_dims: 4,
            batch_size: 256,
            runs: 3,
        },
        engine: color_bottleneck::share::ENGINE_REVISION,
        parents: Vec::new(),
        versus: None,
    };
    let [module, iframe] = embed_snippets(base, &run);

    // Only the snippet's own tags and quotes.
    assert_eq!(module.matches('<').count(), 4, "{module}");
    assert_eq!(module.matches('>').count(), 4, "{module}");
    assert_eq!(iframe.matches('<').count(), 2, "{iframe}");
    assert_eq!(iframe.matches('>').count(), 2, "{iframe}");
    assert!(!module.contains('\'') && !iframe.contains('\''));
    assert!(module.starts_with("<script type=\"module\" src=\""));
    assert!(module.contains("></script>\n<color-bottleneck autoplay compact seed=\"7\""));
    assert!(module.ends_with("\"></color-bottleneck>"));
    assert!(iframe.starts_with("<iframe src=\""));
    assert!(iframe.ends_with("></iframe>"));

    let values = attribute_values(&module);
    assert_eq!(values.len(), 7, "{module}");
    assert_eq!(values[0], "module");
    assert_eq!(values[1], format!("{base}color-bottleneck.js"));
    assert_eq!(values[2..6], ["7", "4", "256", "3"]);
    assert_eq!(values[6], run.sheet);

    let values = attribute_values(&iframe);
    assert_eq!(values.len(), 5, "{iframe}");
    assert_eq!(
        values[4],
        "color-bottleneck: a colour wheel forming in a 4-D bottleneck"
    );
    let flat = SharedRun {
        spec: RunSpec {
            latent_dims: 3,
            ..run.spec
        },
        ..run.clone()
    };
    let [_, flat_iframe] = embed_snippets(base, &flat);
    assert!(
        flat_iframe.contains("in a 3-D bottleneck"),
        "the title says the run's bottleneck: {flat_iframe}"
    );
    let hash = values[0]
        .strip_prefix(&format!("{base}embed.html"))
        .expect("the iframe's page is under the base");
    assert_eq!(SharedRun::from_hash(hash), Ok(run.clone()));

    // A branched run's module snippet opens its link: the hostile parent stays inside it.
    let branched = SharedRun {
        parents: vec![color_bottleneck::share::Parent {
            sheet: hostile_sheet(),
            step: 5,
        }],
        ..run.clone()
    };
    let [module, _] = embed_snippets(base, &branched);
    assert_eq!(module.matches('<').count(), 4, "{module}");
    let values = attribute_values(&module);
    assert_eq!(values.len(), 3, "{module}");
    assert_eq!(SharedRun::from_hash(&values[2]), Ok(branched));

    // So does a comparison's: its hostile second sheet too.
    let compared = SharedRun {
        versus: Some(hostile_sheet()),
        ..run
    };
    let [module, _] = embed_snippets(base, &compared);
    assert_eq!(module.matches('<').count(), 4, "{module}");
    let values = attribute_values(&module);
    assert_eq!(values.len(), 3, "{module}");
    assert_eq!(SharedRun::from_hash(&values[2]), Ok(compared));
}

/// The text nodes of an SVG document, read by an XML parser (which fails on anything
/// malformed); and no element but the few the figures draw.
fn svg_texts(path: &Path) -> Vec<String> {
    let svg = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let allowed = ["svg", "rect", "line", "circle", "polyline", "text"];
    for node in doc.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        assert!(allowed.contains(&name), "{path:?} has a <{name}>");
        assert!(node.attributes().all(|a| !a.name().starts_with("on")));
    }
    (doc.descendants())
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

/// `train --format svg` writes its figures as SVG (and no PNG), with the hostile sheet's
/// phase and column names as text nodes, the very names.
#[test]
fn svg_figures_hold_the_names_as_text() {
    let dir = tempdir("svg");
    let out = dir.join("train");
    run(cli()
        .arg("train")
        .arg(hostile_sheet_file(&dir))
        .args(["--format", "svg", "--quiet", "--out"])
        .arg(&out));
    assert!(!out.join("phases.png").exists() && !out.join("timeline.png").exists());
    let timeline = svg_texts(&out.join("timeline.svg"));
    for name in [PHASE, FORMULA_PHASE, COLUMN, FORMULA_COLUMN] {
        assert!(
            timeline.iter().any(|t| t == name),
            "{name:?} not in {timeline:?}"
        );
    }
    let geometry = svg_texts(&out.join("geometry.svg"));
    assert!(
        geometry
            .iter()
            .any(|t| t.starts_with("participation ratio ")),
        "{geometry:?}"
    );
    let phases = svg_texts(&out.join("phases.svg"));
    assert!(phases.iter().any(|t| t == FORMULA_PHASE), "{phases:?}");
    assert!(
        phases.iter().any(|t| t.contains("<img src=x")),
        "{phases:?}"
    );

    let grid = dir.join("grid");
    run(cli()
        .arg("grid")
        .arg(hostile_sheet_file(&dir))
        .args([
            "--vary",
            &format!("{COLUMN}@0=0.5,1"),
            "--runs",
            "2",
            "--batch-size",
            "8",
        ])
        .args(["--format", "svg", "--quiet", "--out"])
        .arg(&grid));
    let texts = svg_texts(&grid.join("grid.svg"));
    assert!(
        texts.iter().any(|t| t == &format!("{COLUMN}@0")),
        "{texts:?}"
    );
}
