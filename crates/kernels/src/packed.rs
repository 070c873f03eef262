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

/// The instruction sets the kernel is written for; both compute the same
/// sums in the same order, so they give the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// An R × 64 block of C in 24 zmm registers (R ≤ 6).
    Avx512,
    /// An R × 16 block of C in 12 ymm registers, a quarter of a panel at a time.
    Avx2,
}

impl Kernel {
    /// The best kernel this CPU runs, checked at run time (one binary serves
    /// AVX2 and AVX-512 machines), or None (then callers use gemm).
    pub fn detect() -> Option<Kernel> {
        Kernel::all().into_iter().find(|k| k.runs_here())
    }

    /// Every kernel, best first.
    pub fn all() -> [Kernel; 2] {
        [Kernel::Avx512, Kernel::Avx2]
    }

    /// Whether this CPU has the instructions.
    pub fn runs_here(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Kernel::Avx512 => has!("avx512f"),
                Kernel::Avx2 => has!("avx2") && has!("fma"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }
}

/// C [M, N] = A [M, K] · W, all row-major, with `kernel`. Panics unless
/// the CPU runs it.
pub fn matmul(kernel: Kernel, a: &[f32], m: usize, w: &Packed) -> Vec<f32> {
    if w.k == 0 {
        return vec![0.0; m * w.n];
    }
    let mut c = Vec::with_capacity(m * w.n);
    // SAFETY: C has room for M × N values; the kernels' first pass over K
    // (there is one: K > 0) stores every one of them without reading C, so
    // it is not filled with zeros first (that memset was 2.4% of a 2 × 128
    // LSTM's time).
    unsafe {
        product(kernel, a, m, w, c.as_mut_ptr());
        c.set_len(m * w.n);
    }
    c
}

/// C [M, N] = A [M, K] · W into `c` (its values are overwritten) with
/// `kernel`. Panics unless the CPU runs it.
pub fn matmul_into(kernel: Kernel, a: &[f32], m: usize, w: &Packed, c: &mut [f32]) {
    assert_eq!(c.len(), m * w.n, "C is [M, N]");
    if w.k == 0 {
        c.fill(0.0);
    }
    // SAFETY: C holds M × N values.
    unsafe { product(kernel, a, m, w, c.as_mut_ptr()) }
}

/// C = A · W into the M × N values from `c`, each written (K > 0).
///
/// # Safety
/// `c` is valid for M × N writes.
unsafe fn product(kernel: Kernel, a: &[f32], m: usize, w: &Packed, c: *mut f32) {
    assert!(kernel.runs_here(), "this CPU lacks {kernel:?}");
    assert_eq!(a.len(), m * w.k, "A is [M, K]");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU has the kernel's instructions (asserted above); the
    // kernels read A and the panels within the lengths asserted there and
    // write C within its M × N values (the caller's promise).
    unsafe {
        match kernel {
            Kernel::Avx512 => avx512::matmul(a, m, w, c),
            Kernel::Avx2 => avx2::matmul(a, m, w, c),
        }
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

/// One kernel call's operands: R rows of A from `a` (row stride
/// `a_stride`), `terms` rows of a panel from `panel` (row stride [`PANEL`]),
/// and R rows of C from `c` (row stride `c_stride`) of which `cols` columns
/// are written; `first`: C is overwritten, else added to. `next`: the panel
/// slice the calls after this one read, asked for in L2 a term's worth (64
/// values, four cache lines) per term, so it arrives from L3 while this one
/// computes (empty: nothing to ask for).
#[cfg(target_arch = "x86_64")]
struct Tile<'a> {
    a: &'a [f32],
    a_stride: usize,
    panel: &'a [f32],
    terms: usize,
    c: *mut f32,
    c_stride: usize,
    cols: usize,
    first: bool,
    next: &'a [f32],
}

/// Calls `$block::<R>($tile)` for R = `$rows` (1 to [`MAX_ROWS`]).
#[cfg(target_arch = "x86_64")]
macro_rules! by_rows {
    ($rows:expr, $block:ident, $tile:expr) => {
        match $rows {
            6 => $block::<6>($tile),
            5 => $block::<5>($tile),
            4 => $block::<4>($tile),
            3 => $block::<3>($tile),
            2 => $block::<2>($tile),
            1 => $block::<1>($tile),
            _ => unreachable!("row blocks hold 1..={MAX_ROWS} rows"),
        }
    };
}

/// The panel slice used after slice (k-block at `k0`, panel `p`): the next
/// panel's, or the first panel's of the next k-block; None at the end.
fn next_slice(w: &Packed, k0: usize, p: usize) -> Option<&[f32]> {
    let (k, panels) = (w.k, w.n.div_ceil(PANEL));
    let ks = k0..k.min(k0 + K_BLOCK);
    if p + 1 < panels {
        Some(&w.panel(p + 1)[ks.start * PANEL..ks.end * PANEL])
    } else if ks.end < k {
        Some(&w.panel(0)[ks.end * PANEL..k.min(ks.end + K_BLOCK) * PANEL])
    } else {
        None
    }
}

/// Asks for term `t` of `next` (its four cache lines) in L2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefetch_term(next: &[f32], t: usize) {
    use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
    if let Some(term) = next.get(t * PANEL..(t + 1) * PANEL) {
        for line in term.chunks_exact(16) {
            // SAFETY: a prefetch is a hint; the address is inside the slice.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(line.as_ptr().cast()) };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{K_BLOCK, MAX_ROWS, PANEL, Packed, Tile, next_slice, prefetch_term, row_blocks};

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn matmul(a: &[f32], m: usize, w: &Packed, c: *mut f32) {
        let (k, n) = (w.k, w.n);
        let panels = n.div_ceil(PANEL);
        for k0 in (0..k).step_by(K_BLOCK) {
            let ks = k0..k.min(k0 + K_BLOCK);
            for p in 0..panels {
                let panel = &w.panel(p)[ks.start * PANEL..ks.end * PANEL];
                let next = next_slice(w, k0, p).unwrap_or_default();
                let cols = (n - p * PANEL).min(PANEL);
                for (r0, rows) in row_blocks(m) {
                    let tile = Tile {
                        a: &a[r0 * k + ks.start..],
                        a_stride: k,
                        panel,
                        terms: ks.len(),
                        // SAFETY: inside C (row r0 < M, column < N).
                        c: unsafe { c.add(r0 * n + p * PANEL) },
                        c_stride: n,
                        cols,
                        first: k0 == 0,
                        next: if r0 == 0 { next } else { &[] },
                    };
                    // SAFETY: rows ≤ MAX_ROWS rows of A (stride k) from r0,
                    // ks.len() terms each; C's rows (stride n) hold `cols`.
                    unsafe { by_rows!(rows, block, tile) }
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
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn block<const R: usize>(tile: Tile) {
        let Tile {
            a,
            a_stride,
            panel,
            terms,
            c,
            c_stride,
            cols,
            first,
            next,
        } = tile;
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
                        let at = c.add(r * c_stride + 16 * q);
                        *acc = _mm512_maskz_loadu_ps(masks[q], at);
                    }
                }
            }
            let (a, mut wp) = (a.as_ptr(), panel.as_ptr());
            for t in 0..terms {
                prefetch_term(next, t);
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
                    let at = c.add(r * c_stride + 16 * q);
                    _mm512_mask_storeu_ps(at, masks[q], *acc);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{K_BLOCK, MAX_ROWS, PANEL, Packed, Tile, next_slice, prefetch_term, row_blocks};

    /// Columns per kernel call: two ymm registers, a quarter of a panel.
    const QUARTER: usize = 16;

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn matmul(a: &[f32], m: usize, w: &Packed, c: *mut f32) {
        let (k, n) = (w.k, w.n);
        for k0 in (0..k).step_by(K_BLOCK) {
            let ks = k0..k.min(k0 + K_BLOCK);
            for p in 0..n.div_ceil(PANEL) {
                let panel = &w.panel(p)[ks.start * PANEL..ks.end * PANEL];
                let next = next_slice(w, k0, p).unwrap_or_default();
                for q in 0..PANEL / QUARTER {
                    let col0 = p * PANEL + q * QUARTER;
                    if col0 >= n {
                        break;
                    }
                    let cols = (n - col0).min(QUARTER);
                    for (r0, rows) in row_blocks(m) {
                        let tile = Tile {
                            a: &a[r0 * k + ks.start..],
                            a_stride: k,
                            panel: &panel[q * QUARTER..],
                            terms: ks.len(),
                            // SAFETY: inside C (row r0 < M, column < N).
                            c: unsafe { c.add(r0 * n + col0) },
                            c_stride: n,
                            cols,
                            first: k0 == 0,
                            next: if q == 0 && r0 == 0 { next } else { &[] },
                        };
                        // SAFETY: as in the AVX-512 kernel, for 16 columns.
                        unsafe { by_rows!(rows, block, tile) }
                    }
                }
            }
        }
    }

    /// C[0..R, 0..cols] (+)= A[0..R, 0..terms] · the quarter panel: R × 16
    /// accumulators; each term loads 16 panel values and broadcasts R of A.
    /// C's rows pass through a 16-wide buffer when fewer columns are valid.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block<const R: usize>(tile: Tile) {
        let Tile {
            a,
            a_stride,
            panel,
            terms,
            c,
            c_stride,
            cols,
            first,
            next,
        } = tile;
        debug_assert!(R <= MAX_ROWS && cols <= QUARTER);
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        let mut row = [0.0f32; QUARTER];
        // SAFETY (all pointer reads and writes below): the caller passes R
        // rows of A with `terms` values each, R rows of C with `cols` valid
        // columns, and a panel (stride 64) with `terms` rows of 16 values.
        unsafe {
            if !first {
                for (r, acc) in acc.iter_mut().enumerate() {
                    std::ptr::copy_nonoverlapping(c.add(r * c_stride), row.as_mut_ptr(), cols);
                    *acc = [
                        _mm256_loadu_ps(row.as_ptr()),
                        _mm256_loadu_ps(row.as_ptr().add(8)),
                    ];
                }
            }
            let (a, mut wp) = (a.as_ptr(), panel.as_ptr());
            for t in 0..terms {
                prefetch_term(next, t);
                let w = [_mm256_loadu_ps(wp), _mm256_loadu_ps(wp.add(8))];
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm256_set1_ps(*a.add(r * a_stride + t));
                    acc[0] = _mm256_fmadd_ps(x, w[0], acc[0]);
                    acc[1] = _mm256_fmadd_ps(x, w[1], acc[1]);
                }
                wp = wp.add(PANEL);
            }
            for (r, acc) in acc.iter().enumerate() {
                _mm256_storeu_ps(row.as_mut_ptr(), acc[0]);
                _mm256_storeu_ps(row.as_mut_ptr().add(8), acc[1]);
                std::ptr::copy_nonoverlapping(row.as_ptr(), c.add(r * c_stride), cols);
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
        let kernels: Vec<Kernel> = Kernel::all()
            .into_iter()
            .filter(|k| k.runs_here())
            .collect();
        eprintln!("kernels this CPU runs: {kernels:?}");
        for kernel in kernels {
            same_as_reference(kernel);
        }
    }

    fn same_as_reference(kernel: Kernel) {
        let product = |a: &[f32], m: usize, w: &Packed| {
            let mut c = vec![f32::NAN; m * w.n()];
            matmul_into(kernel, a, m, w, &mut c);
            c
        };
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
            let got = product(&a, m, &Packed::new(&w, k, n, n, 1));
            assert_eq!(got, want, "{kernel:?} M {m} K {k} N {n}");
            // Packed from W's transpose, read through strides.
            let wt: Vec<f32> = (0..n * k).map(|i| w[(i % k) * n + i / k]).collect();
            let got = product(&a, m, &Packed::new(&wt, k, n, 1, k));
            assert_eq!(
                got, want,
                "{kernel:?} M {m} K {k} N {n}, from the transpose"
            );
        }
    }

    #[test]
    fn a_row_gives_the_same_bits_alone_or_among_others() {
        let Some(kernel) = Kernel::detect() else {
            return;
        };
        let (m, k, n) = (50, 200, 130);
        let (a, w) = (values(m * k, 3), values(k * n, 4));
        let packed = Packed::new(&w, k, n, n, 1);
        let all = matmul(kernel, &a, m, &packed);
        let second_half = matmul(kernel, &a[25 * k..], 25, &packed);
        assert_eq!(&all[25 * n..], &second_half[..]);
    }
}
