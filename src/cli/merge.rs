//! `color-bottleneck merge`: one sweep.csv from the shards of a sweep (`sweep --shard I/N`),
//! byte for byte the table one sweep of all the seeds writes, since every run is independent
//! of the others. A scheduler (a Slurm array, a Kubernetes Indexed Job) runs the shards; this
//! only joins them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::sweep::{summary_of, TABLE_HEADER};
use super::{io, print_out, CliError};

pub(super) fn merge(parts: &[PathBuf], out: &Path) -> Result<(), CliError> {
    // seed → (the row as written, the file it came from)
    let mut rows: BTreeMap<u64, (Vec<u8>, PathBuf)> = BTreeMap::new();
    for dir in parts {
        let path = dir.join("sweep.csv");
        let bytes = std::fs::read(&path).map_err(|source| CliError::Read {
            path: path.clone(),
            source,
        })?;
        for (seed, row) in table_rows(&path, &bytes)? {
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
    let crumpled = rows
        .values()
        .filter(|(row, _)| row.split(|&b| b == b',').nth(1) == Some(b"crumpled"))
        .count();
    std::fs::create_dir_all(out).map_err(io(out))?;
    let path = out.join("sweep.csv");
    let mut table = format!("{TABLE_HEADER}\n").into_bytes();
    for (row, _) in rows.values() {
        table.extend_from_slice(row);
    }
    std::fs::write(&path, table).map_err(io(&path))?;
    print_out(&format!("{}\n", summary_of(crumpled, rows.len())))?;
    eprintln!(
        "merged {} runs from {} parts into {}",
        rows.len(),
        parts.len(),
        path.display()
    );
    Ok(())
}

/// Each row of a sweep.csv with its seed, as the bytes it was written with (a quoted failure
/// message may hold commas), after checking the header.
fn table_rows(path: &Path, bytes: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, CliError> {
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
            if record.as_slice() != TABLE_HEADER.replace(',', "").as_bytes()
                || record.len() != TABLE_HEADER.split(',').count()
            {
                return Err(bad(line, "not a sweep.csv (its header differs)".into()));
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
