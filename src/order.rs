//! The crate's sorts, through one routine: every `sort_unstable_by` with a key type of its own
//! is a separate copy of the sort in the page's wasm (several kilobytes each), so the few
//! sorts outside the hot path share this one.

use std::cmp::Ordering;

/// The indices `0..len` in the order `cmp` gives them; ties keep the smaller index first, as
/// a stable sort would.
pub fn order_by(len: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_unstable_by(|&a, &b| cmp(a, b).then(a.cmp(&b)));
    order
}

/// `items` in the order `cmp` gives them, ties in the order they came.
pub fn sorted_by<T: Clone>(items: &[T], cmp: &dyn Fn(&T, &T) -> Ordering) -> Vec<T> {
    (order_by(items.len(), &|a, b| cmp(&items[a], &items[b])).into_iter())
        .map(|i| items[i].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_keep_their_order_as_a_stable_sort_does() {
        let items = [(3, 'a'), (1, 'b'), (3, 'c'), (0, 'd'), (1, 'e')];
        let mut stable = items.to_vec();
        stable.sort_by_key(|p| p.0);
        assert_eq!(sorted_by(&items, &|a, b| a.0.cmp(&b.0)), stable);
        assert_eq!(
            order_by(items.len(), &|a, b| items[b].0.cmp(&items[a].0)),
            [0, 2, 1, 4, 3]
        );
    }

    #[test]
    fn floats_sort_in_total_order() {
        let values = [2.0, f64::NAN, -1.0, 0.5];
        let sorted = sorted_by(&values, &|a: &f64, b| a.total_cmp(b));
        assert_eq!(sorted[..3], [-1.0, 0.5, 2.0]);
        assert!(sorted[3].is_nan());
    }
}
