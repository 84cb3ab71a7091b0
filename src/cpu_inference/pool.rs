//! Buffers of maps that are done with, handed to the next maps: a forward pass's later maps
//! reuse its earlier ones', the next tile's reuse this tile's, instead of fresh memory that the
//! system faults in and zeroes page by page.

use std::sync::Mutex;

/// Buffers kept at most.
const KEPT: usize = 16;

/// Freed buffers, by capacity.
#[derive(Default)]
pub struct BufferPool {
    free: Mutex<Vec<Vec<f32>>>,
}

impl BufferPool {
    /// `len` zeros, in the smallest free buffer that holds them, else in a new one whose
    /// capacity is rounded up (to 4 significant bits, at most 1/8 more) so that maps of nearly
    /// the same size can take each other's buffers.
    pub fn zeros(&self, len: usize) -> Vec<f32> {
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, buffer)| buffer.capacity() >= len)
                .min_by_key(|(_, buffer)| buffer.capacity())
                .map(|(index, _)| index);
            best.map(|index| free.swap_remove(index))
        };
        let mut buffer = reused.unwrap_or_else(|| Vec::with_capacity(size_class(len)));
        buffer.clear();
        buffer.resize(len, 0.0);
        buffer
    }

    /// Takes `buffer` back for later maps (the largest [`KEPT`] are kept).
    pub fn give(&self, buffer: Vec<f32>) {
        let mut free = self.free.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        free.push(buffer);
        if free.len() > KEPT {
            free.sort_by_key(|buffer| std::cmp::Reverse(buffer.capacity()));
            free.truncate(KEPT);
        }
    }
}

impl Clone for BufferPool {
    /// A clone starts with no buffers of its own.
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let free = self.free.lock().map(|free| free.len()).unwrap_or(0);
        write!(f, "BufferPool({free} free)")
    }
}

/// `len` rounded up to its 4 leading bits.
fn size_class(len: usize) -> usize {
    let bits = usize::BITS - len.leading_zeros();
    let shift = bits.saturating_sub(4);
    len.div_ceil(1 << shift) << shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_zeroed_and_nearly_equal_sizes_share_them() {
        let pool = BufferPool::default();
        let mut first = pool.zeros(1000);
        assert!(first.capacity() >= 1000 && first.capacity() <= 1125, "{}", first.capacity());
        first.iter_mut().for_each(|v| *v = 7.0);
        let address = first.as_ptr();
        pool.give(first);
        // A slightly larger map takes the same buffer, all zeros.
        let second = pool.zeros(1010);
        assert_eq!(second.as_ptr(), address);
        assert!(second.len() == 1010 && second.iter().all(|&v| v == 0.0));
        // A much larger one gets a new buffer; the smallest that fits is taken.
        pool.give(second);
        pool.give(Vec::with_capacity(5000));
        let (large, small) = (pool.zeros(2000), pool.zeros(10));
        assert_ne!(large.as_ptr(), address);
        assert_eq!(small.as_ptr(), address);
        assert_eq!((size_class(15), size_class(17), size_class(1 << 20)), (15, 18, 1 << 20));
    }
}
