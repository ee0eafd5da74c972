//! Fuzzes the dopesheet parser, the resolver and the timeline with generated and mutated
//! sheets: `cargo xtask fuzz [--seconds N]` runs it in release mode on every core.
//!
//! Inputs start from every shipped sheet and the golden one, and are mutated: bytes flipped,
//! inserted and deleted, lines cut, doubled and swapped, cells replaced by huge, tiny and
//! malformed numbers, unicode, a BOM, CRLF line ends, thousands of columns and 10⁷-step gaps.
//! For each input it checks that
//! - nothing panics;
//! - an error names a line that exists (1 to the input's line count + 1);
//! - a sheet that parses round-trips: writing it out and parsing that gives the same
//!   resolved table and the same timeline values.
//!
//! It prints the inputs tried per second and exits non-zero with the failing input on a
//! finding.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use color_bottleneck::dopesheet::Dopesheet;
use color_bottleneck::timeline::Timeline;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SEEDS: [&str; 5] = [
    include_str!("../dopesheets/ex-1.5.csv"),
    include_str!("../dopesheets/demo-short.csv"),
    include_str!("../dopesheets/ablation-no-anchor.csv"),
    include_str!("../dopesheets/bottleneck-3d.csv"),
    "STEP,PHASE,ACTION,lr:log,x::step-end,y:log:linear\n0,A,anchor,0.1,1,2\n+5,,,,,\n-0.5,B,\"a,b\",,3,\n100,,,0.001,,4\n",
];

const CELLS: [&str; 28] = [
    "",
    "0",
    "-0",
    "1e308",
    "-1e308",
    "1e-320",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "+0.999999",
    "-0.0000001",
    "+1",
    "-1",
    "+0.5",
    "-0.5",
    "99999999999999999999",
    "10000000",
    "9999999",
    "+9999999",
    "0x10",
    "1_000",
    " 1 ",
    "🎨",
    "\u{202e}evil",
    "e\u{301}",
    "\"",
    "a,b",
];

fn mutate(rng: &mut ChaCha8Rng, input: &str) -> String {
    let mut bytes = input.as_bytes().to_vec();
    let lines: Vec<&str> = input.split('\n').collect();
    match rng.random_range(0..12) {
        0 if !bytes.is_empty() => {
            let i = rng.random_range(0..bytes.len());
            bytes[i] ^= 1 << rng.random_range(0..8);
        }
        1 => {
            let i = rng.random_range(0..=bytes.len());
            bytes.insert(i, rng.random());
        }
        2 if !bytes.is_empty() => {
            let i = rng.random_range(0..bytes.len());
            bytes.remove(i);
        }
        3 => bytes.truncate(rng.random_range(0..=bytes.len())),
        4 => {
            let i = rng.random_range(0..lines.len());
            let mut l = lines.clone();
            l.insert(i, lines[i]);
            return l.join("\n");
        }
        5 if lines.len() > 2 => {
            let mut l = lines.clone();
            let (a, b) = (rng.random_range(1..l.len()), rng.random_range(1..l.len()));
            l.swap(a, b);
            return l.join("\n");
        }
        6 | 7 => {
            // A cell replaced by an interesting token.
            let i = rng.random_range(0..lines.len());
            let mut cells: Vec<String> = lines[i].split(',').map(String::from).collect();
            let j = rng.random_range(0..cells.len());
            cells[j] = CELLS[rng.random_range(0..CELLS.len())].to_string();
            let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            l[i] = cells.join(",");
            return l.join("\n");
        }
        8 => return format!("\u{feff}{input}"),
        9 => return input.replace('\n', "\r\n"),
        10 => {
            // Thousands of columns.
            let extra = rng.random_range(1..10_000);
            let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            l[0].push_str(&(0..extra).map(|c| format!(",c{c}")).collect::<String>());
            return l.join("\n");
        }
        _ => {
            // A 10⁷-step gap before the last row.
            let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            l.push(format!("{},,,", 10_000_000 - rng.random_range(0..3)));
            return l.join("\n");
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One input through the parser, the resolver and the timeline. `Err` is a finding.
fn check(input: &str) -> Result<(), String> {
    match Dopesheet::parse(input) {
        Err(e) => {
            let lines = input.split('\n').count().max(1);
            let line = e.location.line;
            if line == 0 || line > lines + 1 {
                return Err(format!("error names line {line} of {lines}: {e}"));
            }
            Ok(())
        }
        Ok(sheet) => {
            let written = sheet.resolved_csv();
            let again = Dopesheet::parse(&written)
                .map_err(|e| format!("the written sheet does not parse: {e}\n{written}"))?;
            if again.resolved_csv() != written {
                return Err(format!("round trip changed the table:\n{written}"));
            }
            let (a, b) = (Timeline::new(&sheet), Timeline::new(&again));
            if a.len() != b.len() {
                return Err("round trip changed the length".into());
            }
            for step in [
                0,
                a.len() / 3,
                a.len() / 2,
                a.len().saturating_sub(1),
                a.len(),
            ] {
                let (x, y) = (a.state(step), b.state(step));
                let same = x.phase == y.phase
                    && x.actions == y.actions
                    && x.values
                        .iter()
                        .zip(&y.values)
                        .all(|(p, q)| p.to_bits() == q.to_bits());
                if !same {
                    return Err(format!("round trip changed step {step}: {x:?} vs {y:?}"));
                }
            }
            Ok(())
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tried = AtomicU64::new(0);
    let found = AtomicBool::new(false);
    // Panics are findings, reported below with their input; keep the default hook quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (tried, found) = (&tried, &found);
            scope.spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(0xf022 + t as u64);
                while Instant::now() < deadline && !found.load(Ordering::Relaxed) {
                    let mut input = SEEDS[rng.random_range(0..SEEDS.len())].to_string();
                    for _ in 0..rng.random_range(1..4) {
                        input = mutate(&mut rng, &input);
                    }
                    let outcome =
                        catch_unwind(AssertUnwindSafe(|| check(&input))).unwrap_or_else(|p| {
                            let what = p
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
                            Err(format!("panicked: {}", what.unwrap_or_default()))
                        });
                    if let Err(finding) = outcome {
                        found.store(true, Ordering::Relaxed);
                        eprintln!(
                            "FINDING: {finding}\ninput ({} bytes): {input:?}",
                            input.len()
                        );
                    }
                    tried.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let n = tried.into_inner();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz: {n} inputs in {secs:.1} s on {threads} threads ({:.0} inputs/s)",
        n as f64 / secs
    );
    if found.into_inner() {
        std::process::exit(1);
    }
}
