//! The splitting rule. A run is its batch items (frames); one item's graph always runs whole
//! on one machine, so everything an item computes locally (an ONNX chain's intermediate
//! images) stays in that worker's memory, and its paid calls are made and recorded there.
//! Items are cut into tasks of `chunk` consecutive items (the last one may be shorter):
//! large enough that a task amortises its claim and its cache warm-up, small enough that a
//! lost worker costs little and many workers share a batch.

/// One task's items: `[from, to)`, and its place in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// The task's index in the run.
    pub seq: u32,
    /// Its first item.
    pub from: u32,
    /// One past its last item.
    pub to: u32,
}

/// `items` cut into tasks of `chunk` (at least 1) consecutive items.
pub fn split(items: u32, chunk: u32) -> Vec<Split> {
    let chunk = chunk.max(1);
    (0..items.div_ceil(chunk)).map(|seq| Split { seq, from: seq * chunk, to: ((seq + 1) * chunk).min(items) }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_cut_into_whole_chunks_and_a_short_last_one() {
        type Case = (u32, u32, &'static [(u32, u32)]);
        let cases: [Case; 5] = [
            (10, 4, &[(0, 4), (4, 8), (8, 10)]),
            (8, 4, &[(0, 4), (4, 8)]),
            (3, 10, &[(0, 3)]),
            (0, 4, &[]),
            (2, 0, &[(0, 1), (1, 2)]),
        ];
        for (items, chunk, want) in cases {
            let got: Vec<(u32, u32)> = split(items, chunk).iter().map(|s| (s.from, s.to)).collect();
            assert_eq!(got, want, "{items} items by {chunk}");
            assert!(split(items, chunk).iter().enumerate().all(|(i, s)| s.seq == i as u32));
        }
    }

    #[test]
    fn every_item_is_in_exactly_one_task() {
        for items in 0..50 {
            for chunk in 1..12 {
                let tasks = split(items, chunk);
                let covered: Vec<u32> = tasks.iter().flat_map(|s| s.from..s.to).collect();
                assert_eq!(covered, (0..items).collect::<Vec<_>>(), "{items} by {chunk}");
                assert!(tasks.iter().all(|s| s.to - s.from <= chunk && s.from < s.to));
            }
        }
    }
}
