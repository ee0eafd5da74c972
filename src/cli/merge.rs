//! `color-bottleneck merge`: one table from the shards of a sweep or a comparison
//! (`sweep --shard I/N`, `compare --shard I/N`), byte for byte the table one run over all the
//! seeds writes, since every run is independent of the others. A scheduler (a Slurm array, a
//! Kubernetes Indexed Job) runs the shards; this only joins them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{compare, io, print_out, sweep, CliError};
use crate::stats::PairedTable;

/// What the shards hold: each part is a folder with this file.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Sweep,
    Compare,
}

impl Kind {
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

pub(super) fn merge(parts: &[PathBuf], out: &Path) -> Result<(), CliError> {
    let kind = Kind::of(&parts[0]);
    // seed → (the row as written, the file it came from)
    let mut rows: BTreeMap<u64, (Vec<u8>, PathBuf)> = BTreeMap::new();
    for dir in parts {
        let path = dir.join(kind.file());
        let bytes = std::fs::read(&path).map_err(|source| CliError::Read {
            path: path.clone(),
            source,
        })?;
        for (seed, row) in table_rows(&path, &bytes, kind.header())? {
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
            format!("{}\n", sweep::summary_of(k, rows.len()))
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

/// Each row of a table with its seed, as the bytes it was written with (a quoted failure
/// message may hold commas), after checking the header.
fn table_rows(path: &Path, bytes: &[u8], header: &str) -> Result<Vec<(u64, Vec<u8>)>, CliError> {
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
            let seed = std::str::from_utf8(&record[0])
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| bad(line, "the first cell is not a seed".into()))?;
            let mut row = bytes[start..end].to_vec();
            if !row.ends_with(b"\n") {
                row.push(b'\n');
            }
            rows.push((seed, row));
        }
        start = end;
        line = reader.position().line();
    }
    if line == 1 {
        return Err(bad(1, "empty".into()));
    }
    Ok(rows)
}
