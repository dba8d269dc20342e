//! An external sort of usage rows by key: rows are kept in memory up to a chunk, each full
//! chunk is sorted and spilled to a temporary file, and the files are merged back in key
//! order. Memory is one chunk plus one row per spilled file, whatever the export's size.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};

use super::formats::UsageRow;

/// Rows kept in memory before a chunk spills (about 10 MB of short ids).
pub const CHUNK_ROWS: usize = 100_000;

/// Sorts rows pushed in any order.
pub struct Sorter {
    chunk: Vec<UsageRow>,
    chunk_rows: usize,
    runs: Vec<File>,
}

impl Sorter {
    /// A sorter spilling every `chunk_rows` rows (at least 1).
    pub fn new(chunk_rows: usize) -> Self {
        Self { chunk: Vec::new(), chunk_rows: chunk_rows.max(1), runs: Vec::new() }
    }

    /// Adds a row.
    pub fn push(&mut self, row: UsageRow) -> io::Result<()> {
        self.chunk.push(row);
        if self.chunk.len() >= self.chunk_rows {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> io::Result<()> {
        self.chunk.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        let mut out = BufWriter::with_capacity(1 << 16, tempfile::tempfile()?);
        for row in self.chunk.drain(..) {
            write_row(&mut out, &row)?;
        }
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        std::io::Seek::rewind(&mut file)?;
        self.runs.push(file);
        Ok(())
    }

    /// The rows in byte order of their keys.
    pub fn finish(mut self) -> io::Result<Sorted> {
        if self.runs.is_empty() {
            self.chunk.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            return Ok(Sorted::Memory(self.chunk.into_iter()));
        }
        if !self.chunk.is_empty() {
            self.spill()?;
        }
        let mut readers: Vec<BufReader<File>> =
            self.runs.into_iter().map(|f| BufReader::with_capacity(1 << 16, f)).collect();
        let mut heads = Vec::with_capacity(readers.len());
        let mut heap = BinaryHeap::with_capacity(readers.len());
        for (i, reader) in readers.iter_mut().enumerate() {
            let head = read_row(reader)?;
            if let Some(row) = &head {
                heap.push(Reverse((row.key.clone(), i)));
            }
            heads.push(head);
        }
        Ok(Sorted::Files { readers, heads, heap })
    }
}

/// Rows in key order.
pub enum Sorted {
    /// All rows fitted one chunk.
    Memory(std::vec::IntoIter<UsageRow>),
    /// Spilled runs, merged.
    Files {
        /// Each run's reader.
        readers: Vec<BufReader<File>>,
        /// Each run's next row.
        heads: Vec<Option<UsageRow>>,
        /// Runs by their next key.
        heap: BinaryHeap<Reverse<(String, usize)>>,
    },
}

impl Iterator for Sorted {
    type Item = io::Result<UsageRow>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Sorted::Memory(rows) => rows.next().map(Ok),
            Sorted::Files { readers, heads, heap } => {
                let Reverse((_, i)) = heap.pop()?;
                let row = heads[i].take()?;
                match read_row(&mut readers[i]) {
                    Ok(next) => {
                        if let Some(n) = &next {
                            heap.push(Reverse((n.key.clone(), i)));
                        }
                        heads[i] = next;
                        Some(Ok(row))
                    }
                    Err(e) => Some(Err(e)),
                }
            }
        }
    }
}

fn write_row(out: &mut impl Write, row: &UsageRow) -> io::Result<()> {
    let key = row.key.as_bytes();
    out.write_all(&(key.len() as u32).to_le_bytes())?;
    out.write_all(key)?;
    out.write_all(&row.usd.to_le_bytes())?;
    out.write_all(&[u8::from(row.failed)])
}

fn read_row(input: &mut impl Read) -> io::Result<Option<UsageRow>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut key = vec![0u8; u32::from_le_bytes(len) as usize];
    input.read_exact(&mut key)?;
    let mut usd = [0u8; 8];
    input.read_exact(&mut usd)?;
    let mut failed = [0u8; 1];
    input.read_exact(&mut failed)?;
    let key = String::from_utf8(key).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Some(UsageRow { key, usd: f64::from_le_bytes(usd), failed: failed[0] == 1 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_back_in_key_order_across_spilled_chunks() {
        for chunk in [1, 3, 7, 1000] {
            let mut sorter = Sorter::new(chunk);
            let keys: Vec<String> = (0..50).map(|i| format!("id-{:03}", (i * 37) % 50)).collect();
            for (i, key) in keys.iter().enumerate() {
                sorter.push(UsageRow { key: key.clone(), usd: i as f64, failed: i % 2 == 0 }).unwrap();
            }
            let out: Vec<UsageRow> = sorter.finish().unwrap().map(Result::unwrap).collect();
            let mut expected = keys.clone();
            expected.sort();
            assert_eq!(out.iter().map(|r| r.key.clone()).collect::<Vec<_>>(), expected, "chunk {chunk}");
            let sum: f64 = out.iter().map(|r| r.usd).sum();
            assert_eq!(sum, (0..50).sum::<i32>() as f64, "chunk {chunk}: no row lost");
        }
    }
}
