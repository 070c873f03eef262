//! The recurrent layers' per-step product `A·W` (A [M, K] = a step's B
//! streams, W [K, N] = the recurrent weight or its transpose) with W packed
//! once per chunk instead of once per step.
//!
//! Why: a general matrix product (the `gemm` crate, under flex's matmul)
//! re-packs its right operand at every call. At 2 × 512 that is a 4 MB copy
//! per step, forward and backward: 11% of an LSTM iteration, with the
//! product's driver around it another 11% (perf, one thread). The weight does
//! not change within a chunk, so [`Packed::new`] lays it out once in the
//! order the kernel reads it and the T steps reuse it.
//!
//! Layout: W's columns in panels of [`PANEL`] = 64 (the last one zero-padded);
//! panel p holds, for k = 0..K, the 64 values W[k, 64p .. 64p + 64] in a row.
//! The kernel keeps an R × 64 block of C (R ≤ 6 rows of A) in 24 AVX-512
//! registers and, for each k, loads the panel's 64 values once and
//! broadcasts R values of A.
//!
//! Every element of C is Σ_k A[m, k]·W[k, n] accumulated in k order with one
//! fused multiply-add per term, whatever M is and however the rows are
//! blocked: a row's product does not depend on the rows beside it, so the
//! streams split across threads give the same bits as one thread.
//! [`reference_matmul`] is that sum written as a scalar loop; the tests hold
//! the kernel to it bit for bit.

/// Columns per panel: four AVX-512 registers of f32.
pub const PANEL: usize = 64;
/// The most rows of A one kernel call holds in registers (6 × 4 accumulators).
const MAX_ROWS: usize = 6;
/// Terms of the sum per pass over a panel: 128 × 64 f32 = 32 KB, so the
/// panel's slice stays in L1 while every row block reads it.
const K_BLOCK: usize = 128;

/// W [K, N] packed into column panels (see the module doc).
#[derive(Clone, Debug)]
pub struct Packed {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl Packed {
    /// Packs W, given as its element at (k, n) = `w[k * row_stride + n * col_stride]`,
    /// so a transposed view packs without being copied first.
    pub fn new(w: &[f32], k: usize, n: usize, row_stride: usize, col_stride: usize) -> Self {
        let panels = n.div_ceil(PANEL);
        let mut data = vec![0.0; panels * k * PANEL];
        for (p, panel) in data.chunks_exact_mut(k * PANEL).enumerate() {
            let cols = p * PANEL..n.min((p + 1) * PANEL);
            for (kk, row) in panel.chunks_exact_mut(PANEL).enumerate() {
                for (dst, col) in row.iter_mut().zip(cols.clone()) {
                    *dst = w[kk * row_stride + col * col_stride];
                }
            }
        }
        Packed { k, n, data }
    }

    /// K, the inner size.
    pub fn k(&self) -> usize {
        self.k
    }

    /// N, the columns of the product.
    pub fn n(&self) -> usize {
        self.n
    }

    fn panel(&self, p: usize) -> &[f32] {
        &self.data[p * self.k * PANEL..(p + 1) * self.k * PANEL]
    }
}

/// Whether this CPU runs [`matmul`]'s kernel (AVX-512F, checked at run time,
/// so one binary serves AVX2 and AVX-512 machines).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// C [M, N] = A [M, K] · W, all row-major. Panics unless [`available`].
pub fn matmul(a: &[f32], m: usize, w: &Packed) -> Vec<f32> {
    let mut c = vec![0.0; m * w.n];
    matmul_into(a, m, w, &mut c);
    c
}

/// C [M, N] = A [M, K] · W into `c` (its values are overwritten).
pub fn matmul_into(a: &[f32], m: usize, w: &Packed, c: &mut [f32]) {
    assert!(available(), "packed::matmul needs AVX-512F");
    assert_eq!(a.len(), m * w.k, "A is [M, K]");
    assert_eq!(c.len(), m * w.n, "C is [M, N]");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is present (asserted above); the kernel reads A and
    // the panels and writes C only within the lengths asserted there.
    unsafe {
        avx512::matmul(a, m, w, c)
    };
}

/// The same sum as [`matmul`], one element at a time: Σ_k A[m, k]·W[k, n]
/// accumulated in k order with `mul_add`.
pub fn reference_matmul(a: &[f32], m: usize, w: &[f32], k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0.0; m * n];
    for (row, out) in c.chunks_exact_mut(n).enumerate() {
        for (col, out) in out.iter_mut().enumerate() {
            *out = (0..k).fold(0.0, |acc: f32, kk| {
                a[row * k + kk].mul_add(w[kk * n + col], acc)
            });
        }
    }
    c
}

/// Splits M rows into blocks of at most [`MAX_ROWS`], as even as possible
/// (50 → 6,6,6,6,6,5,5,5,5; 25 → 5 × 5), so no block is a lone row that
/// would load the panel for one broadcast.
fn row_blocks(m: usize) -> impl Iterator<Item = (usize, usize)> {
    let blocks = m.div_ceil(MAX_ROWS);
    (0..blocks).map(move |i| {
        let start = i * m / blocks;
        (start, (i + 1) * m / blocks - start)
    })
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{K_BLOCK, MAX_ROWS, PANEL, Packed, row_blocks};

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn matmul(a: &[f32], m: usize, w: &Packed, c: &mut [f32]) {
        let (k, n) = (w.k, w.n);
        let panels = n.div_ceil(PANEL);
        for k0 in (0..k).step_by(K_BLOCK) {
            let ks = k0..k.min(k0 + K_BLOCK);
            for p in 0..panels {
                let panel = &w.panel(p)[ks.start * PANEL..ks.end * PANEL];
                // The next slice comes from L3 while this one is used.
                let next = if p + 1 < panels {
                    Some(&w.panel(p + 1)[ks.start * PANEL..ks.end * PANEL])
                } else if ks.end < k {
                    Some(&w.panel(0)[ks.end * PANEL..k.min(ks.end + K_BLOCK) * PANEL])
                } else {
                    None
                };
                if let Some(next) = next {
                    for line in next.chunks(16) {
                        _mm_prefetch::<_MM_HINT_T1>(line.as_ptr().cast());
                    }
                }
                let cols = (n - p * PANEL).min(PANEL);
                for (r0, rows) in row_blocks(m) {
                    let a = &a[r0 * k + ks.start..];
                    let c = &mut c[r0 * n + p * PANEL..];
                    let first = k0 == 0;
                    // SAFETY: rows ≤ MAX_ROWS rows of A (stride k) from r0,
                    // ks.len() terms each; C's rows (stride n) hold `cols`.
                    unsafe {
                        match rows {
                            6 => block::<6>(a, k, panel, ks.len(), c, n, cols, first),
                            5 => block::<5>(a, k, panel, ks.len(), c, n, cols, first),
                            4 => block::<4>(a, k, panel, ks.len(), c, n, cols, first),
                            3 => block::<3>(a, k, panel, ks.len(), c, n, cols, first),
                            2 => block::<2>(a, k, panel, ks.len(), c, n, cols, first),
                            1 => block::<1>(a, k, panel, ks.len(), c, n, cols, first),
                            _ => unreachable!("row blocks hold 1..={MAX_ROWS} rows"),
                        }
                    }
                }
            }
        }
    }

    /// The lanes of register q (columns 16q .. 16q + 16) that hold C's columns.
    fn mask(cols: usize, q: usize) -> __mmask16 {
        match cols.saturating_sub(16 * q) {
            0 => 0,
            c if c >= 16 => 0xffff,
            c => (1u16 << c) - 1,
        }
    }

    /// C[0..R, 0..cols] (+)= A[0..R, 0..terms] · panel[0..terms]: R × 64
    /// accumulators; each term loads 64 panel values and broadcasts R of A.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn block<const R: usize>(
        a: &[f32],
        a_stride: usize,
        panel: &[f32],
        terms: usize,
        c: &mut [f32],
        c_stride: usize,
        cols: usize,
        first: bool,
    ) {
        debug_assert!(R <= MAX_ROWS && panel.len() >= terms * PANEL);
        let masks = [0, 1, 2, 3].map(|q| mask(cols, q));
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        // SAFETY (all pointer reads and writes below): the caller passes R
        // rows of A with `terms` values each, R rows of C with `cols` valid
        // columns (masked), and a panel of `terms` × 64 values.
        unsafe {
            if !first {
                for (r, acc) in acc.iter_mut().enumerate() {
                    for (q, acc) in acc.iter_mut().enumerate() {
                        let at = c.as_ptr().add(r * c_stride + 16 * q);
                        *acc = _mm512_maskz_loadu_ps(masks[q], at);
                    }
                }
            }
            let (a, mut wp) = (a.as_ptr(), panel.as_ptr());
            for t in 0..terms {
                let w = [0, 1, 2, 3].map(|q| _mm512_loadu_ps(wp.add(16 * q)));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_ps(*a.add(r * a_stride + t));
                    for q in 0..4 {
                        acc[q] = _mm512_fmadd_ps(x, w[q], acc[q]);
                    }
                }
                wp = wp.add(PANEL);
            }
            for (r, acc) in acc.iter().enumerate() {
                for (q, acc) in acc.iter().enumerate() {
                    let at = c.as_mut_ptr().add(r * c_stride + 16 * q);
                    _mm512_mask_storeu_ps(at, masks[q], *acc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [−1, 1) with all 24 mantissa bits in play.
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    #[test]
    fn row_blocks_cover_every_row_once_in_blocks_of_one_to_six() {
        for m in 1..100 {
            let blocks: Vec<_> = row_blocks(m).collect();
            let mut next = 0;
            for &(start, rows) in &blocks {
                assert_eq!(start, next);
                assert!((1..=MAX_ROWS).contains(&rows), "m {m}: {blocks:?}");
                next += rows;
            }
            assert_eq!(next, m);
            let sizes = blocks.iter().map(|b| b.1);
            assert!(sizes.clone().max().unwrap() - sizes.min().unwrap() <= 1);
        }
    }

    #[test]
    fn packed_product_equals_the_scalar_sum_bit_for_bit() {
        if !available() {
            eprintln!("no AVX-512F here: the packed kernel is not used on this CPU");
            return;
        }
        // Row counts 1..13 hit every block size; N not a multiple of 64 pads
        // the last panel; K over K_BLOCK accumulates through C.
        for (m, k, n) in [
            (1, 1, 1),
            (5, 7, 3),
            (13, 130, 70),
            (50, 300, 200),
            (7, 257, 128),
        ] {
            let a = values(m * k, 1);
            let w = values(k * n, 2);
            let want = reference_matmul(&a, m, &w, k, n);
            let got = matmul(&a, m, &Packed::new(&w, k, n, n, 1));
            assert_eq!(got, want, "M {m} K {k} N {n}");
            // Packed from W's transpose, read through strides.
            let wt: Vec<f32> = (0..n * k).map(|i| w[(i % k) * n + i / k]).collect();
            let got = matmul(&a, m, &Packed::new(&wt, k, n, 1, k));
            assert_eq!(got, want, "M {m} K {k} N {n}, from the transpose");
        }
    }

    #[test]
    fn a_row_gives_the_same_bits_alone_or_among_others() {
        if !available() {
            return;
        }
        let (m, k, n) = (50, 200, 130);
        let (a, w) = (values(m * k, 3), values(k * n, 4));
        let packed = Packed::new(&w, k, n, n, 1);
        let all = matmul(&a, m, &packed);
        let second_half = matmul(&a[25 * k..], 25, &packed);
        assert_eq!(&all[25 * n..], &second_half[..]);
    }
}
