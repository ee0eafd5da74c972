//! Broken sheets: each must fail with a typed error that names the line and column.

use color_bottleneck::dopesheet::{Dopesheet, Problem, Space, Timing, MAX_STEPS};
use color_bottleneck::timeline::Timeline;

const HEADER: &str = "STEP,PHASE,ACTION,lr,loss-recon";

/// Parses `body` under the standard header and returns (line, column name, problem).
fn fail(sheet: &str) -> (usize, Option<String>, Problem) {
    let err = Dopesheet::parse(sheet).expect_err("sheet should be rejected");
    let message = err.to_string();
    assert!(
        message.contains(&format!("line {}", err.location.line)),
        "{message}"
    );
    if let Some((_, name)) = &err.location.column {
        assert!(message.contains(name.as_str()), "{message}");
    }
    (
        err.location.line,
        err.location.column.map(|(_, n)| n),
        err.problem,
    )
}

fn with_header(body: &str) -> String {
    format!("{HEADER}\n{body}")
}

fn col(name: &str) -> Option<String> {
    Some(name.to_string())
}

#[test]
fn empty_text() {
    assert_eq!(fail(""), (1, None, Problem::Empty));
}

#[test]
fn header_only() {
    assert_eq!(fail(HEADER), (2, None, Problem::NoRows));
}

#[test]
fn missing_step_column() {
    assert_eq!(
        fail("PHASE,ACTION,lr\nA,,0.1\n"),
        (1, None, Problem::MissingColumn("STEP"))
    );
}

#[test]
fn missing_phase_column() {
    assert_eq!(
        fail("STEP,ACTION,lr\n0,,0.1\n"),
        (1, None, Problem::MissingColumn("PHASE"))
    );
}

#[test]
fn missing_action_column() {
    assert_eq!(
        fail("STEP,PHASE,lr\n0,A,0.1\n"),
        (1, None, Problem::MissingColumn("ACTION"))
    );
}

#[test]
fn missing_lr_column() {
    assert_eq!(
        fail("STEP,PHASE,ACTION,loss-recon\n0,A,,1\n"),
        (1, None, Problem::MissingColumn("lr"))
    );
}

#[test]
fn lr_never_keyed() {
    assert_eq!(
        fail(&with_header("0,A,,,1\n10,,,,1\n")),
        (1, col("lr"), Problem::NoLearningRate)
    );
}

#[test]
fn duplicate_property_column() {
    assert_eq!(
        fail("STEP,PHASE,ACTION,lr,lr\n0,A,,1,1\n"),
        (1, col("lr"), Problem::DuplicateColumn("lr".into()))
    );
}

#[test]
fn unknown_space_modifier() {
    let (line, column, problem) = fail("STEP,PHASE,ACTION,lr:cubic\n0,A,,1\n");
    assert_eq!(
        (line, column, problem),
        (1, col("lr:cubic"), Problem::UnknownSpace("cubic".into()))
    );
}

#[test]
fn unknown_timing_modifier() {
    let (line, column, problem) = fail("STEP,PHASE,ACTION,lr:log:bounce\n0,A,,1\n");
    assert_eq!(
        (line, column, problem),
        (
            1,
            col("lr:log:bounce"),
            Problem::UnknownTiming("bounce".into())
        )
    );
}

#[test]
fn too_many_modifiers() {
    let (line, column, _) = fail("STEP,PHASE,ACTION,lr:log:linear:x\n0,A,,1\n");
    assert_eq!((line, column), (1, col("lr:log:linear:x")));
}

#[test]
fn wrong_field_count() {
    assert_eq!(
        fail(&with_header("0,A,,0.1,1\n10,,,0.1\n")),
        (
            3,
            None,
            Problem::FieldCount {
                expected: 5,
                found: 4
            }
        )
    );
}

#[test]
fn blank_step() {
    assert_eq!(
        fail(&with_header("0,A,,0.1,1\n,,,0.2,\n")),
        (3, col("STEP"), Problem::BlankStep)
    );
}

#[test]
fn non_integer_step() {
    assert_eq!(
        fail(&with_header("0,A,,0.1,1\n2.5,,,0.2,\n")),
        (3, col("STEP"), Problem::NotAnInteger("2.5".into()))
    );
}

#[test]
fn garbage_step() {
    assert_eq!(
        fail(&with_header("0,A,,0.1,1\nten,,,0.2,\n")),
        (3, col("STEP"), Problem::BadStep("ten".into()))
    );
}

#[test]
fn comment_line_is_not_a_comment() {
    // The reference has no comment syntax: `#` starts a row with a bogus STEP.
    let (line, column, _) = fail(&with_header("0,A,,0.1,1\n# note,,,,\n"));
    assert_eq!((line, column), (3, col("STEP")));
}

#[test]
fn negative_resolved_step() {
    let (line, column, problem) = fail(&with_header("-50,A,,0.1,1\n10,,,0.2,\n"));
    assert_eq!((line, column), (2, col("STEP")));
    assert!(matches!(problem, Problem::NegativeStep(_)), "{problem:?}");
}

#[test]
fn duplicate_steps() {
    let sheet = with_header("0,A,,0.1,1\n10,,,0.2,\n-10,,,0.3,\n20,,,0.1,\n");
    assert_eq!(
        fail(&sheet),
        (
            4,
            col("STEP"),
            Problem::DuplicateStep {
                step: 10,
                other_line: 3
            }
        )
    );
}

#[test]
fn fraction_without_anchor_below() {
    let sheet = with_header("0,A,,0.1,1\n+0.5,,,0.2,\n");
    assert_eq!(
        fail(&sheet),
        (3, col("STEP"), Problem::NoAnchorBelow("+0.5".into()))
    );
}

#[test]
fn fraction_without_anchor_above() {
    let sheet = with_header("-0.5,A,,0.1,1\n10,,,0.2,\n");
    assert_eq!(
        fail(&sheet),
        (2, col("STEP"), Problem::NoAnchorAbove("-0.5".into()))
    );
}

#[test]
fn offset_without_anchor_above() {
    let sheet = with_header("+10,A,,0.1,1\n");
    assert_eq!(
        fail(&sheet),
        (2, col("STEP"), Problem::NoAnchorAbove("+10".into()))
    );
}

#[test]
fn fraction_out_of_range() {
    let sheet = with_header("0,A,,0.1,1\n+1.5,,,0.2,\n10,,,0.1,\n");
    assert_eq!(
        fail(&sheet),
        (3, col("STEP"), Problem::FractionRange("+1.5".into()))
    );
}

#[test]
fn zero_offset() {
    let sheet = with_header("0,A,,0.1,1\n+0,,,0.2,\n10,,,0.1,\n");
    assert_eq!(
        fail(&sheet),
        (3, col("STEP"), Problem::BadStep("+0".into()))
    );
}

#[test]
fn non_numeric_cell() {
    let sheet = with_header("0,A,,0.1,1\n10,,,fast,\n");
    assert_eq!(
        fail(&sheet),
        (3, col("lr"), Problem::NotANumber("fast".into()))
    );
}

#[test]
fn nan_cell() {
    let sheet = with_header("0,A,,0.1,1\n10,,,0.1,NaN\n");
    assert_eq!(
        fail(&sheet),
        (3, col("loss-recon"), Problem::NotFinite("NaN".into()))
    );
}

#[test]
fn infinite_cell() {
    let sheet = with_header("0,A,,inf,1\n10,,,0.1,\n");
    assert_eq!(
        fail(&sheet),
        (2, col("lr"), Problem::NotFinite("inf".into()))
    );
}

#[test]
fn absurd_length() {
    let sheet = with_header(&format!("0,A,,0.1,1\n{},,,0.2,\n", MAX_STEPS * 100));
    let (line, column, problem) = fail(&sheet);
    assert_eq!((line, column), (3, col("STEP")));
    assert!(matches!(problem, Problem::TooLong { .. }), "{problem:?}");
}

#[test]
fn absurd_offset() {
    let sheet = with_header("0,A,,0.1,1\n+99999999999,,,0.2,\n");
    let (line, column, problem) = fail(&sheet);
    assert_eq!((line, column), (3, col("STEP")));
    assert!(matches!(problem, Problem::TooLong { .. }), "{problem:?}");
}

#[test]
fn first_row_without_phase() {
    let sheet = with_header("0,,,0.1,1\n10,A,,0.2,\n");
    assert_eq!(
        fail(&sheet),
        (2, col("PHASE"), Problem::FirstRowWithoutPhase(0))
    );
}

#[test]
fn unterminated_quote() {
    let (line, _, problem) = fail(&with_header("0,\"A,,0.1,1\n"));
    assert_eq!(line, 2);
    assert!(
        matches!(problem, Problem::FieldCount { .. } | Problem::Csv(_)),
        "{problem:?}"
    );
}

#[test]
fn message_reads_well() {
    let err = Dopesheet::parse(&with_header("0,A,,0.1,1\n10,,,fast,\n")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dopesheet line 3, column 4 (lr): \"fast\" is not a number"
    );
}

// The later syntax (spec §1.8), which users paste from the follow-up experiments.

#[test]
fn integer_offsets_count_steps() {
    let sheet = Dopesheet::parse(&with_header(
        "0,A,,0.1,1\n+10,,,0.2,\n-1,B,,,\n100,,,0.3,\n",
    ))
    .unwrap();
    let steps: Vec<u64> = sheet.keyframes().iter().map(|k| k.step).collect();
    assert_eq!(steps, vec![0, 10, 99, 100]);
}

#[test]
fn fractional_offsets_round_half_to_even() {
    let sheet = Dopesheet::parse(&with_header(
        "0,A,,0.1,1\n+0.5,,,0.2,\n-0.25,,,,\n5,,,0.3,\n",
    ))
    .unwrap();
    let steps: Vec<u64> = sheet.keyframes().iter().map(|k| k.step).collect();
    // 0 + 0.5×5 = 2.5 → 2 (ties to even); 5 − 0.25×5 = 3.75 → 4.
    assert_eq!(steps, vec![0, 2, 4, 5]);
}

#[test]
fn header_modifiers() {
    let sheet = Dopesheet::parse(
        "STEP,PHASE,ACTION,lr:log,x::step-end,y:linear:linear\n0,A,,0.1,0,0\n10,,,0.001,1,1\n",
    )
    .unwrap();
    let kinds: Vec<(Space, Timing)> = sheet
        .properties()
        .iter()
        .map(|p| (p.space, p.timing))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Space::Log, Timing::MinJerk),
            (Space::Linear, Timing::StepEnd),
            (Space::Linear, Timing::Linear)
        ]
    );
    let timeline = Timeline::new(&sheet);
    assert_eq!(timeline.value(1, 9), 0.0, "step-end holds until the key");
    assert_eq!(timeline.value(1, 10), 1.0);
    assert!(
        (timeline.value(2, 5) - 0.5).abs() < 1e-15,
        "linear is halfway at the midpoint"
    );
    let mid = timeline.value(0, 5);
    assert!(
        (mid - 0.01).abs() < 1e-12,
        "log space meets at the geometric mean, got {mid}"
    );
}

#[test]
fn actions_split_without_trimming() {
    let sheet = Dopesheet::parse(&with_header("0,A,\"anchor, foo\",0.1,1\n")).unwrap();
    assert_eq!(
        sheet.keyframes()[0].actions,
        vec!["anchor".to_string(), " foo".to_string()]
    );
}

#[test]
fn a_sheet_past_a_megabyte_is_refused_before_it_is_read() {
    let huge = format!("STEP,PHASE,ACTION,lr\n{}", "0,A,,0.1\n".repeat(200_000));
    let e = Dopesheet::parse(&huge).unwrap_err();
    assert_eq!(e.location.line, 1);
    assert_eq!(e.problem, Problem::TooLarge(huge.len()));
    assert!(e.to_string().contains("at most 1048576 are read"), "{e}");
}
