//! `color-bottleneck merge`: one table from the shards of a sweep, a comparison or a grid
//! (`sweep --shard I/N`, `compare --shard I/N`, `grid --shard I/N`), byte for byte the table
//! one run over all the seeds writes, since every run is independent of the others; a grid's
//! `grid.csv` and heatmap are drawn again from the joined runs. A scheduler (a Slurm array, a
//! Kubernetes Indexed Job) runs the shards; this only joins them.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::grid::{write_grid, CellSummary, GridSpec, RUNS_HEADER};
use super::{compare, io, print_out, sweep, CliError, FigureFormat, Seeds, Shard};
use crate::dopesheet::Dopesheet;
use crate::stats::PairedTable;

/// What whole a sweep's or a comparison's shard is a part of (a grid's says it in
/// `grid-spec.txt`): `sweep` or `compare`; the seeds, model, cut and backend
/// (`Seeds::spec_lines`); `shard I/N`; then a `sheet` line before each sheet as trained
/// (resolved). `merge` joins only parts of one whole, each once, all of them.
pub(super) const SHARD_FILE: &str = "shard.txt";

/// Writes `out`'s shard file where `seeds` trains a shard, and removes one an earlier shard
/// left there where it does not: a whole run's folder is no part.
pub(super) fn write_shard_file(
    out: &Path,
    kind: Kind,
    seeds: &Seeds,
    sheets: &[&Dopesheet],
) -> Result<(), CliError> {
    let path = out.join(SHARD_FILE);
    let Some(shard) = seeds.shard else {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path)(e)),
            _ => Ok(()),
        };
    };
    let mut text = format!("{}\n{}shard {shard}\n", kind.name(), seeds.spec_lines());
    for sheet in sheets {
        text.push_str("sheet\n");
        text.push_str(&sheet.resolved_csv());
    }
    std::fs::write(&path, text).map_err(io(&path))
}

/// A shard's file as read back.
struct ShardSpec {
    kind: Kind,
    shard: Shard,
    /// The seeds this shard trains.
    seeds: Range<u64>,
    /// Everything but the shard line, to check that parts are of one whole.
    text: String,
}

impl ShardSpec {
    /// `dir`'s shard file; `None` where it has none.
    fn read(dir: &Path) -> Result<Option<ShardSpec>, CliError> {
        let path = dir.join(SHARD_FILE);
        let text = match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            read => read.map_err(|source| CliError::Read {
                path: path.clone(),
                source,
            })?,
        };
        let bad = |line: usize, message: &str| CliError::Merge {
            path: path.clone(),
            message: format!("line {line}: {message}"),
        };
        let (head, sheets) = text.split_once("\nsheet\n").ok_or_else(|| {
            bad(
                1,
                "no sheet: not a file sweep --shard or compare --shard writes",
            )
        })?;
        let first_line = head.lines().next();
        let Some(kind) = [Kind::Sweep, Kind::Compare]
            .into_iter()
            .find(|k| first_line == Some(k.name()))
        else {
            return Err(bad(1, "not a file sweep --shard or compare --shard writes"));
        };
        let (mut runs, mut first, mut shard, mut rest) = (None, None, None, String::new());
        for (i, line) in head.lines().enumerate() {
            let n = i + 1;
            match (i, line.split_once(' ')) {
                (0, _) => {}
                (_, Some(("shard", s))) => {
                    shard = Some(s.parse::<Shard>().map_err(|e| bad(n, &e))?);
                    continue;
                }
                (_, Some(("runs", v))) => {
                    runs = Some(v.parse::<usize>().map_err(|_| bad(n, "not a run count"))?)
                }
                (_, Some(("first-seed", v))) => {
                    first = Some(v.parse::<u64>().map_err(|_| bad(n, "not a seed"))?)
                }
                (_, Some(("latent-dims" | "batch-size" | "backend" | "until", _))) => {}
                _ => return Err(bad(n, "not a line sweep --shard or compare --shard writes")),
            }
            rest.push_str(line);
            rest.push('\n');
        }
        let (Some(runs), Some(first), Some(shard)) = (runs, first, shard) else {
            return Err(bad(1, "it needs a runs, a first-seed and a shard line"));
        };
        if shard.count > runs {
            return Err(bad(1, &format!("{} shards of {runs} runs", shard.count)));
        }
        let part = crate::sweep::split_runs(runs, shard.count)[shard.index].clone();
        Ok(Some(ShardSpec {
            kind,
            shard,
            seeds: first.saturating_add(part.start as u64)..first.saturating_add(part.end as u64),
            text: format!("{rest}sheet\n{sheets}"),
        }))
    }
}

/// Checks that `parts` (with their shard files, `specs`) are every shard of one whole, each
/// once. Parts with no shard file (written before shards said what they were part of) are
/// joined as they are, with a warning.
fn check_shards(parts: &[PathBuf], specs: &[Option<ShardSpec>]) -> Result<(), CliError> {
    let Some(Some(whole)) = specs.first() else {
        if let Some(i) = specs.iter().position(Option::is_some) {
            return Err(CliError::Merge {
                path: parts[0].clone(),
                message: format!(
                    "no {SHARD_FILE}, unlike {}: not shards of one run",
                    parts[i].display()
                ),
            });
        }
        eprintln!(
            "warning: the parts have no {SHARD_FILE} (shards written by an older \
             color-bottleneck): merge cannot check that they are all the shards of one run"
        );
        return Ok(());
    };
    let count = whole.shard.count;
    let mut shards = ShardSet::new(count);
    for (dir, spec) in parts.iter().zip(specs) {
        let path = dir.join(SHARD_FILE);
        let bad = |message: String| CliError::Merge {
            path: path.clone(),
            message,
        };
        let Some(spec) = spec else {
            return Err(bad(format!(
                "missing, unlike {}'s: not shards of one run",
                parts[0].display()
            )));
        };
        if spec.text != whole.text || spec.shard.count != count {
            return Err(bad(format!(
                "another run than {}'s (its sheets, seeds, --until, model, backend or shard \
                 count differ)",
                parts[0].display()
            )));
        }
        shards.add(spec.shard.index, dir).map_err(bad)?;
    }
    shards.all(&parts[0].join(SHARD_FILE))
}

/// The shards of one whole as they are given: each index of `count` once.
struct ShardSet<'a> {
    count: usize,
    given: BTreeMap<usize, &'a PathBuf>,
}

impl<'a> ShardSet<'a> {
    fn new(count: usize) -> Self {
        ShardSet {
            count,
            given: BTreeMap::new(),
        }
    }

    /// Shard `index`, in `dir`; what is wrong where it was given already.
    fn add(&mut self, index: usize, dir: &'a PathBuf) -> Result<(), String> {
        match self.given.insert(index, dir) {
            Some(first) => Err(format!(
                "shard {index}/{} again: {} is that shard too",
                self.count,
                first.display()
            )),
            None => Ok(()),
        }
    }

    /// Whether every shard was given; the missing ones named, at `path` (the first part's
    /// spec file), where not.
    fn all(&self, path: &Path) -> Result<(), CliError> {
        let missing: Vec<String> = (0..self.count)
            .filter(|i| !self.given.contains_key(i))
            .map(|i| format!("{i}/{}", self.count))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(CliError::Merge {
            path: path.to_path_buf(),
            message: format!("shards missing: {}", missing.join(", ")),
        })
    }
}

/// What the shards hold: each part is a folder with this file.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Sweep,
    Compare,
}

impl Kind {
    /// The command that writes such parts, which names their shard files and, by default,
    /// the folder they are merged into.
    fn name(self) -> &'static str {
        match self {
            Kind::Sweep => "sweep",
            Kind::Compare => "compare",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Kind::Sweep => "sweep.csv",
            Kind::Compare => "compare.csv",
        }
    }

    fn header(self) -> &'static str {
        match self {
            Kind::Sweep => sweep::TABLE_HEADER,
            Kind::Compare => compare::TABLE_HEADER,
        }
    }

    /// The part's kind: a sweep.csv, else a compare.csv.
    fn of(dir: &Path) -> Kind {
        if dir.join(Kind::Sweep.file()).exists() || !dir.join(Kind::Compare.file()).exists() {
            Kind::Sweep
        } else {
            Kind::Compare
        }
    }
}

/// `out`: where the joined tables go; `None`: the folder the command that wrote the parts
/// writes to by default.
pub(super) fn merge(parts: &[PathBuf], out: Option<&Path>) -> Result<(), CliError> {
    if parts[0].join(super::grid::SPEC_FILE).exists() {
        return merge_grid(parts, out.unwrap_or(Path::new("grid")));
    }
    let specs = (parts.iter())
        .map(|dir| ShardSpec::read(dir))
        .collect::<Result<Vec<_>, _>>()?;
    check_shards(parts, &specs)?;
    let kind = specs[0]
        .as_ref()
        .map_or_else(|| Kind::of(&parts[0]), |s| s.kind);
    let out = out.unwrap_or(Path::new(kind.name()));
    // seed → (the row as written, the file it came from)
    let mut rows: BTreeMap<u64, (Vec<u8>, PathBuf)> = BTreeMap::new();
    for (dir, spec) in parts.iter().zip(&specs) {
        let path = dir.join(kind.file());
        let bytes = std::fs::read(&path).map_err(|source| CliError::Read {
            path: path.clone(),
            source,
        })?;
        let part = table_rows(&path, &bytes, kind.header())?;
        if let Some(spec) = spec {
            let seeds = part.iter().map(|(seed, _)| *seed);
            if !seeds.eq(spec.seeds.clone()) {
                return Err(CliError::Merge {
                    path,
                    message: format!(
                        "shard {} trains seeds {}–{}, and this table does not hold each of \
                         them once, in order: it is incomplete or not that shard's",
                        spec.shard,
                        spec.seeds.start,
                        spec.seeds.end - 1
                    ),
                });
            }
        }
        for (seed, row) in part {
            if let Some((_, first)) = rows.get(&seed) {
                return Err(CliError::Merge {
                    path,
                    message: format!(
                        "seed {seed} is also in {}: the shards overlap",
                        first.display()
                    ),
                });
            }
            rows.insert(seed, (row, path.clone()));
        }
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let path = out.join(kind.file());
    let mut table = format!("{}\n", kind.header()).into_bytes();
    for (row, _) in rows.values() {
        table.extend_from_slice(row);
    }
    std::fs::write(&path, table).map_err(io(&path))?;
    let crumpled = |row: &[u8], column: usize| {
        row.split(|&b| b == b',').nth(column) == Some(b"crumpled".as_slice())
    };
    let summary = match kind {
        Kind::Sweep => {
            let k = rows.values().filter(|(row, _)| crumpled(row, 1)).count();
            format!("{}\n", crate::stats::crumple_summary(k, rows.len()))
        }
        Kind::Compare => {
            let side = |column| -> Vec<bool> {
                rows.values()
                    .map(|(row, _)| crumpled(row, column))
                    .collect()
            };
            compare::report(&PairedTable::from_crumpled(&side(1), &side(2)))
        }
    };
    print_out(&summary)?;
    eprintln!(
        "merged {} runs from {} parts into {}",
        rows.len(),
        parts.len(),
        path.display()
    );
    Ok(())
}

/// The shards of a grid: their `grid-runs.csv` rows joined by cell and seed, and `grid.csv`,
/// the heatmap and the cells' sheets written again from them.
fn merge_grid(parts: &[PathBuf], out: &Path) -> Result<(), CliError> {
    let spec = GridSpec::read(&parts[0])?;
    let count = spec.shard.1;
    let mut shards = ShardSet::new(count);
    let mut rows: BTreeMap<(usize, u64), GridRow> = BTreeMap::new();
    for dir in parts {
        let part = GridSpec::read(dir)?;
        let bad = |message: String| CliError::Merge {
            path: dir.join(super::grid::SPEC_FILE),
            message,
        };
        if part.text != spec.text || part.shard.1 != count {
            return Err(bad(format!(
                "another grid than {}'s (its seeds, --vary, --until, shard count or sheet \
                 differ)",
                parts[0].display()
            )));
        }
        shards.add(part.shard.0, dir).map_err(bad)?;
        let path = dir.join("grid-runs.csv");
        let bytes = std::fs::read(&path).map_err(|source| CliError::Read {
            path: path.clone(),
            source,
        })?;
        for Record { line, row, fields } in table_records(&path, &bytes, RUNS_HEADER)? {
            let bad = |message: String| CliError::Merge {
                path: path.clone(),
                message: format!("line {line}: {message}"),
            };
            let cell: usize = (fields[0].parse().ok())
                .filter(|&c| c < spec.grid.len())
                .ok_or_else(|| bad(format!("no cell {:?} in this grid", fields[0])))?;
            let seed: u64 =
                (fields[1].parse()).map_err(|_| bad(format!("{:?} is not a seed", fields[1])))?;
            if let Some(first) = rows.get(&(cell, seed)) {
                return Err(bad(format!(
                    "cell {cell}, seed {seed} is also in {}: the shards overlap",
                    first.file.display()
                )));
            }
            let mse = (fields[4].parse())
                .map_err(|_| bad(format!("{:?} is not a reconstruction error", fields[4])))?;
            let run = GridRow {
                crumpled: fields[2] == "crumpled",
                mse,
                row,
                file: path.clone(),
            };
            rows.insert((cell, seed), run);
        }
    }
    shards.all(&parts[0].join(super::grid::SPEC_FILE))?;
    std::fs::create_dir_all(out).map_err(io(out))?;
    let path = out.join("grid-runs.csv");
    let mut table = format!("{RUNS_HEADER}\n").into_bytes();
    for run in rows.values() {
        table.extend_from_slice(&run.row);
    }
    std::fs::write(&path, &table).map_err(io(&path))?;
    let mut summaries = Vec::new();
    for cell in 0..spec.grid.len() {
        let runs: Vec<(bool, f64)> = (rows.range((cell, 0)..=(cell, u64::MAX)))
            .map(|(_, run)| (run.crumpled, run.mse))
            .collect();
        if runs.is_empty() {
            return Err(CliError::Merge {
                path: parts[0].clone(),
                message: format!("no shard holds a run of cell {cell}"),
            });
        }
        summaries.push(CellSummary::of(runs.into_iter()));
    }
    let format = if parts[0].join("grid.svg").exists() {
        FigureFormat::Svg
    } else {
        FigureFormat::Png
    };
    let heatmap = write_grid(&spec.grid, &summaries, spec.until, out, format)?;
    eprintln!(
        "merged {} runs of {} cells from {} parts into grid-runs.csv, grid.csv, {heatmap} and \
         sheets/ in {}",
        rows.len(),
        spec.grid.len(),
        parts.len(),
        out.display()
    );
    Ok(())
}

/// Each row of a table with its seed, as the bytes it was written with (a quoted failure
/// message may hold commas), after checking the header.
fn table_rows(path: &Path, bytes: &[u8], header: &str) -> Result<Vec<(u64, Vec<u8>)>, CliError> {
    let mut rows = Vec::new();
    for Record { line, row, fields } in table_records(path, bytes, header)? {
        let seed = (fields[0].parse::<u64>()).map_err(|_| CliError::Merge {
            path: path.to_path_buf(),
            message: format!("line {line}: the first cell is not a seed"),
        })?;
        rows.push((seed, row));
    }
    Ok(rows)
}

/// A run of a grid's shard.
struct GridRow {
    crumpled: bool,
    mse: f64,
    /// As written.
    row: Vec<u8>,
    /// The file it came from.
    file: PathBuf,
}

/// A row of a table: its line, its bytes as written, its fields.
struct Record {
    line: u64,
    row: Vec<u8>,
    fields: Vec<String>,
}

/// Each row of a table as the bytes it was written with, beside its fields, after checking
/// the header.
fn table_records(path: &Path, bytes: &[u8], header: &str) -> Result<Vec<Record>, CliError> {
    let bad = |line: u64, message: String| CliError::Merge {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut rows = Vec::new();
    let mut start = 0usize;
    let mut line = 1u64;
    loop {
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|e| bad(line, e.to_string()))?;
        if !more {
            break;
        }
        let end = reader.position().byte() as usize;
        if line == 1 {
            if record.as_slice() != header.replace(',', "").as_bytes()
                || record.len() != header.split(',').count()
            {
                return Err(bad(
                    line,
                    "its header is not the one this version writes".into(),
                ));
            }
        } else {
            let fields = (record.iter())
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            let mut row = bytes[start..end].to_vec();
            if !row.ends_with(b"\n") {
                row.push(b'\n');
            }
            rows.push(Record { line, row, fields });
        }
        start = end;
        line = reader.position().line();
    }
    if line == 1 {
        return Err(bad(1, "empty".into()));
    }
    Ok(rows)
}
