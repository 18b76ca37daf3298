//! The spectral embedding of a bipartite weight graph, from a truncated SVD.
//!
//! The graph is bipartite (even layers vs odd layers), so its normalized
//! adjacency `N = D^-1/2 A D^-1/2 = [[0, B], [Bᵀ, 0]]` has eigenpairs
//! `(±σ, [u; ±v]/√2)` for the singular triplets `(σ, u, v)` of the normalized
//! odd-to-even block `B = D_e^-1/2 A_eo D_o^-1/2`. The top-k eigenvectors of
//! `N` (scikit-learn's embedding) are therefore `[u_i; v_i]/√2` for the top-k
//! singular triplets of `B`, which [`top_singular`] computes.
//!
//! # Solver
//! [`top_singular`] first splits the graph into connected components: the
//! spectrum of `B` is the union of its components' spectra, and a graph with
//! `c` components has `σ = 1` exactly `c` times, a degeneracy that a Krylov
//! method started from one vector cannot resolve (it sees a single copy). Each
//! component is then solved on its own:
//! - small ones (smaller side ≤ [`DENSE_MAX`] or about the Krylov basis size)
//!   with a dense thin SVD (faer);
//! - large ones with a thick-restart *block* Lanczos method with full
//!   reorthogonalization on the smaller Gram side (`BᵀB` or `BBᵀ`). `Gx` is one
//!   pass over the CSR rows of the tall orientation of `B` (`t = b_r·x`, then
//!   `y += t b_r`), done for a whole block of vectors at once. The block size
//!   ([`LANCZOS_BLOCK`]) also resolves accidental multiplicities up to that
//!   size inside a connected component.
//!
//! The start block is drawn from the caller's rng, so results are
//! deterministic for a seed. Failure to converge is an [`Error::Numerical`],
//! never a silently wrong answer. A component whose top singular values reach
//! zero (rank below k) falls back to a dense SVD of the whole block.
//!
//! # Why not faer's `matrix_free::eigen::partial_svd`
//! Measured on the 1296 × 522 block of a 90%-pruned 784-256x4-10 network
//! (k = 12, one core): faer 0.24's `partial_svd` 11 ms, its
//! `partial_self_adjoint_eigen` on `BᵀB` 24 ms (and it did not return at
//! tol 1e-10), this solver ~3.5 ms; faer's also return a count of converged
//! triplets instead of an error and handle no repeated singular values.
//! faer is used for the small dense problems (projected eigenproblem, dense
//! SVD fallback, Ritz vector products).
#![allow(clippy::needless_range_loop)]

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::{Error, Result};

/// The normalized odd-to-even block (defined with the graph that builds it).
pub use crate::graph::SparseBlock;

/// The top singular triplets of a [`SparseBlock`], singular values descending.
#[derive(Clone, Debug)]
pub struct Svd {
    /// Singular values, descending (length k).
    pub s: Vec<f64>,
    /// Left singular vectors, nrows × k, row-major (column i belongs to `s[i]`).
    pub u: Vec<f64>,
    /// Right singular vectors, ncols × k, row-major.
    pub v: Vec<f64>,
}

/// Components whose smaller side has at most this many nodes use a dense SVD.
pub const DENSE_MAX: usize = 64;
/// Block size of the Lanczos method: resolves singular values of multiplicity
/// up to 2 inside a connected component; as fast as a single vector on
/// pruned networks (larger blocks need more matrix products in all than they
/// save), 8 above [`LARGE_NNZ`] stored entries.
pub const LANCZOS_BLOCK: usize = 2;
/// Blocks with at least this many stored entries use a Lanczos block of 8.
pub const LARGE_NNZ: usize = 1 << 20;
/// Relative residual target of the Lanczos path: every returned triplet has
/// `‖Bv − σu‖` and `‖Bᵀu − σv‖` at most `TOL · σ_1` (one of the two is zero
/// up to rounding, by construction).
pub const TOL: f64 = 1e-9;
/// Restart limit of the Lanczos method (null networks need 4-13; past the
/// limit, [`top_singular`] fails with [`Error::Numerical`]).
pub const MAX_RESTARTS: usize = 300;

/// Check a block's CSR structure and values.
pub fn validate_block(b: &SparseBlock) -> Result<()> {
    if b.indptr.len() != b.nrows + 1 {
        return Err(Error::Shape(format!(
            "block indptr has length {}, expected nrows + 1 = {}",
            b.indptr.len(),
            b.nrows + 1
        )));
    }
    if b.indptr[0] != 0 {
        return Err(Error::Shape("block indptr must start at 0".into()));
    }
    if b.indptr.windows(2).any(|w| w[1] < w[0]) {
        return Err(Error::Shape("block indptr must be non-decreasing".into()));
    }
    let nnz = b.indptr[b.nrows];
    if b.indices.len() != nnz || b.data.len() != nnz {
        return Err(Error::Shape(format!(
            "block has indptr[-1] = {nnz} but {} indices and {} values",
            b.indices.len(),
            b.data.len()
        )));
    }
    if let Some(&c) = b.indices.iter().find(|&&c| c as usize >= b.ncols) {
        return Err(Error::Shape(format!(
            "block column index {c} out of range for {} columns",
            b.ncols
        )));
    }
    if b.data.iter().any(|x| !x.is_finite()) {
        return Err(Error::Value("block has a non-finite value".into()));
    }
    Ok(())
}

/// Columns per tile of [`transpose`]: the tile's output runs (one per column,
/// indices and values) stay in cache while all rows are read.
const TRANSPOSE_TILE: usize = 32;

/// The transpose of a CSR block (i.e. its CSC form), in CSR.
///
/// Each output row (a column of `b`) lists its entries in the order of `b`'s
/// rows, and within a row in stored order. When every row of `b` has sorted
/// column indices and rows are long, the scatter runs over tiles of
/// [`TRANSPOSE_TILE`] columns (every row's entries of the tile, row after row,
/// through per-row cursors), which writes the same values to the same places
/// as the plain row-by-row scatter but keeps the written lines in cache (tested
/// against the row-by-row scatter).
#[doc(hidden)]
pub fn transpose(b: &SparseBlock) -> SparseBlock {
    transpose_with(b, true)
}

/// [`transpose`], through column tiles where they pay if `tiles`, else row by row
/// (the tests' reference).
fn transpose_with(b: &SparseBlock, tiles: bool) -> SparseBlock {
    let nnz = b.indices.len();
    let mut indptr = vec![0usize; b.ncols + 1];
    let mut sorted = true;
    for r in 0..b.nrows {
        let row = &b.indices[b.indptr[r]..b.indptr[r + 1]];
        for &c in row {
            indptr[c as usize + 1] += 1;
        }
        sorted &= row.windows(2).all(|w| w[0] <= w[1]);
    }
    for j in 0..b.ncols {
        indptr[j + 1] += indptr[j];
    }
    let mut next = indptr.clone();
    let mut indices = vec![0u32; nnz];
    let mut data = vec![0.0; nnz];
    let ntiles = b.ncols.div_ceil(TRANSPOSE_TILE);
    // tiles pay when the per-row cursor checks (nrows per tile) are few next to the entries
    if tiles && sorted && ntiles > 1 && b.nrows * ntiles * 4 <= nnz {
        let mut cur: Vec<usize> = b.indptr[..b.nrows].to_vec();
        for t in 0..ntiles {
            let c1 = ((t + 1) * TRANSPOSE_TILE).min(b.ncols) as u32;
            for r in 0..b.nrows {
                let end = b.indptr[r + 1];
                let mut e = cur[r];
                while e < end && b.indices[e] < c1 {
                    let c = b.indices[e] as usize;
                    indices[next[c]] = r as u32;
                    data[next[c]] = b.data[e];
                    next[c] += 1;
                    e += 1;
                }
                cur[r] = e;
            }
        }
    } else {
        for r in 0..b.nrows {
            for e in b.indptr[r]..b.indptr[r + 1] {
                let c = b.indices[e] as usize;
                indices[next[c]] = r as u32;
                data[next[c]] = b.data[e];
                next[c] += 1;
            }
        }
    }
    SparseBlock {
        nrows: b.ncols,
        ncols: b.nrows,
        indptr,
        indices,
        data,
    }
}

/// `B` as a dense column-major matrix.
fn to_dense(b: &SparseBlock) -> Mat<f64> {
    let mut m = Mat::<f64>::zeros(b.nrows, b.ncols);
    for r in 0..b.nrows {
        for e in b.indptr[r]..b.indptr[r + 1] {
            m[(r, b.indices[e] as usize)] += b.data[e];
        }
    }
    m
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let p = parent[parent[x as usize] as usize];
        parent[x as usize] = p;
        x = p;
    }
    x
}

/// Connected components of the bipartite graph of `b` (rows are nodes
/// `0..nrows`, columns `nrows..nrows+ncols`, an edge per non-zero entry).
/// Returns `(count, label per row, label per column)`, labels numbered in order
/// of first appearance (rows first).
fn components(b: &SparseBlock) -> (usize, Vec<u32>, Vec<u32>) {
    let nn = b.nrows + b.ncols;
    let mut parent: Vec<u32> = (0..nn as u32).collect();
    for r in 0..b.nrows {
        for e in b.indptr[r]..b.indptr[r + 1] {
            if b.data[e] == 0.0 {
                continue;
            }
            let a = find(&mut parent, r as u32);
            let c = find(&mut parent, (b.nrows + b.indices[e] as usize) as u32);
            if a != c {
                let (lo, hi) = if a < c { (a, c) } else { (c, a) };
                parent[hi as usize] = lo;
            }
        }
    }
    let mut label = vec![u32::MAX; nn];
    let mut count = 0usize;
    for x in 0..nn {
        let root = find(&mut parent, x as u32) as usize;
        if label[root] == u32::MAX {
            label[root] = count as u32;
            count += 1;
        }
        label[x] = label[root];
    }
    let cols = label.split_off(b.nrows);
    (count, label, cols)
}

/// The rows `rows` and columns `cols` of `b` (global indices, ascending) as a block.
fn sub_block(b: &SparseBlock, rows: &[usize], col_local: &[u32]) -> SparseBlock {
    let mut indptr = Vec::with_capacity(rows.len() + 1);
    indptr.push(0);
    let mut indices = Vec::new();
    let mut data = Vec::new();
    let mut ncols = 0usize;
    for &r in rows {
        for e in b.indptr[r]..b.indptr[r + 1] {
            if b.data[e] == 0.0 {
                continue;
            }
            let c = col_local[b.indices[e] as usize];
            ncols = ncols.max(c as usize + 1);
            indices.push(c);
            data.push(b.data[e]);
        }
        indptr.push(indices.len());
    }
    SparseBlock {
        nrows: rows.len(),
        ncols,
        indptr,
        indices,
        data,
    }
}

/// Triplets of one block: `u` is nrows × k and `v` ncols × k, column-major.
struct Local {
    s: Vec<f64>,
    u: Mat<f64>,
    v: Mat<f64>,
}

/// The `k` largest singular triplets of `b`, singular values descending, to a
/// relative residual of [`TOL`]: `‖B v_i − σ_i u_i‖` and `‖Bᵀ u_i − σ_i v_i‖`
/// are at most `TOL · σ_1` (dense paths: rounding level). `u` and `v` have orthonormal
/// columns, also for repeated singular values (e.g. `σ = 1` once per connected
/// component). Deterministic given the rng (the Lanczos start blocks are drawn
/// from it); single-threaded.
pub fn top_singular<R: Rng + ?Sized>(b: &SparseBlock, k: usize, rng: &mut R) -> Result<Svd> {
    validate_block(b)?;
    if k == 0 {
        return Err(Error::Value("k must be at least 1".into()));
    }
    if k > b.nrows.min(b.ncols) {
        return Err(Error::Value(format!(
            "k = {k} exceeds the smaller dimension of the {} × {} block",
            b.nrows, b.ncols
        )));
    }
    let (count, row_comp, col_comp) = components(b);
    let locals: Vec<(Vec<usize>, Vec<usize>, Local)>;
    if count == 1 {
        let l = match solve_connected(b, k, rng)? {
            Some(l) => l,
            None => return dense_top(b, k),
        };
        locals = vec![((0..b.nrows).collect(), (0..b.ncols).collect(), l)];
    } else {
        let mut rows_of = vec![Vec::new(); count];
        let mut cols_of = vec![Vec::new(); count];
        for (r, &c) in row_comp.iter().enumerate() {
            rows_of[c as usize].push(r);
        }
        let mut col_local = vec![0u32; b.ncols];
        for (j, &c) in col_comp.iter().enumerate() {
            col_local[j] = cols_of[c as usize].len() as u32;
            cols_of[c as usize].push(j);
        }
        let mut out = Vec::new();
        let mut available = 0usize;
        for (rows, cols) in rows_of.into_iter().zip(cols_of) {
            if rows.is_empty() || cols.is_empty() {
                continue; // an isolated node: no singular value
            }
            let sub = sub_block(b, &rows, &col_local);
            debug_assert_eq!(sub.ncols, cols.len());
            let kc = k.min(rows.len()).min(cols.len());
            let l = match solve_connected(&sub, kc, rng)? {
                Some(l) => l,
                None => return dense_top(b, k),
            };
            available += l.s.len();
            out.push((rows, cols, l));
        }
        if available < k {
            // fewer non-trivial singular values than k: the rest are zeros whose
            // vectors live partly on isolated nodes; the dense SVD has them all.
            return dense_top(b, k);
        }
        locals = out;
    }
    // merge the components' triplets: σ descending, ties by component then index
    let mut cand: Vec<(f64, usize, usize)> = Vec::new();
    for (ci, (_, _, l)) in locals.iter().enumerate() {
        for (i, &s) in l.s.iter().enumerate() {
            cand.push((s, ci, i));
        }
    }
    cand.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    cand.truncate(k);
    let mut out = Svd {
        s: vec![0.0; k],
        u: vec![0.0; b.nrows * k],
        v: vec![0.0; b.ncols * k],
    };
    for (j, &(s, ci, i)) in cand.iter().enumerate() {
        out.s[j] = s;
        let (rows, cols, l) = &locals[ci];
        for (a, &r) in rows.iter().enumerate() {
            out.u[r * k + j] = l.u[(a, i)];
        }
        for (a, &c) in cols.iter().enumerate() {
            out.v[c * k + j] = l.v[(a, i)];
        }
    }
    sign_flip(&mut out, b.nrows, b.ncols, k);
    Ok(out)
}

/// Make each singular pair's largest-magnitude entry (over `[u; v]`) positive,
/// as scikit-learn's `_deterministic_vector_sign_flip` does for the embedding.
fn sign_flip(out: &mut Svd, nrows: usize, ncols: usize, k: usize) {
    for j in 0..k {
        let mut best = 0.0f64;
        let mut sign = 1.0;
        for r in 0..nrows {
            let x = out.u[r * k + j];
            if x.abs() > best {
                best = x.abs();
                sign = x.signum();
            }
        }
        for c in 0..ncols {
            let x = out.v[c * k + j];
            if x.abs() > best {
                best = x.abs();
                sign = x.signum();
            }
        }
        if sign < 0.0 {
            for r in 0..nrows {
                out.u[r * k + j] = -out.u[r * k + j];
            }
            for c in 0..ncols {
                out.v[c * k + j] = -out.v[c * k + j];
            }
        }
    }
}

/// Dense thin SVD of the whole block (fallback for rank-deficient blocks).
fn dense_top(b: &SparseBlock, k: usize) -> Result<Svd> {
    let l = dense_local(b, k)?;
    let mut out = Svd {
        s: l.s,
        u: vec![0.0; b.nrows * k],
        v: vec![0.0; b.ncols * k],
    };
    for r in 0..b.nrows {
        for j in 0..k {
            out.u[r * k + j] = l.u[(r, j)];
        }
    }
    for c in 0..b.ncols {
        for j in 0..k {
            out.v[c * k + j] = l.v[(c, j)];
        }
    }
    sign_flip(&mut out, b.nrows, b.ncols, k);
    Ok(out)
}

fn dense_local(b: &SparseBlock, k: usize) -> Result<Local> {
    let svd = to_dense(b)
        .thin_svd()
        .map_err(|e| Error::Numerical(format!("dense SVD did not converge: {e:?}")))?;
    let s: Vec<f64> = (0..k).map(|i| svd.S()[i]).collect();
    let u = svd.U().get(.., 0..k).to_owned();
    let v = svd.V().get(.., 0..k).to_owned();
    Ok(Local { s, u, v })
}

/// Top `k` triplets of a connected block (`k ≤ min(nrows, ncols)`), or `None`
/// when a wanted singular value is (numerically) zero and the caller should
/// use the dense SVD of the whole block.
fn solve_connected<R: Rng + ?Sized>(
    b: &SparseBlock,
    k: usize,
    rng: &mut R,
) -> Result<Option<Local>> {
    let small = b.nrows.min(b.ncols);
    let opts = LanczosOpts::for_problem(small, k, b.indices.len());
    if small <= DENSE_MAX || small < opts.max_dim + 3 * opts.block {
        return dense_local(b, k).map(Some);
    }
    // the tall orientation M (rows ≥ cols): Gram side = columns of M
    let transposed;
    let m = if b.nrows >= b.ncols {
        b
    } else {
        transposed = transpose(b);
        &transposed
    };
    let (theta, x, _) = lanczos_gram(m, k, &opts, rng)?;
    // the other side: y_i = M x_i / ‖M x_i‖, σ_i = ‖M x_i‖ (one pass over M,
    // all k vectors at once through a row-major copy of x)
    let n_big = m.nrows;
    let xr: Vec<f64> = (0..m.ncols * k).map(|p| x[(p / k, p % k)]).collect();
    let mut yr = vec![0.0; n_big * k];
    for (r, yrow) in yr.chunks_exact_mut(k).enumerate() {
        for e in m.indptr[r]..m.indptr[r + 1] {
            let (j, a) = (m.indices[e] as usize, m.data[e]);
            for (yv, xv) in yrow.iter_mut().zip(&xr[j * k..j * k + k]) {
                *yv += a * xv;
            }
        }
    }
    let mut y = Mat::<f64>::from_fn(n_big, k, |r, i| yr[r * k + i]);
    let s: Vec<f64> = (0..k).map(|i| y.col(i).norm_l2()).collect();
    let s1 = s.iter().cloned().fold(0.0, f64::max);
    if s1 == 0.0 || theta[k - 1] <= 1e-12 * theta[0] || s[k - 1] <= 1e-6 * s1 {
        return Ok(None);
    }
    for (i, &si) in s.iter().enumerate() {
        let inv = 1.0 / si;
        for r in 0..n_big {
            y[(r, i)] *= inv;
        }
    }
    // clean the rounding-level loss of orthogonality of y (two Gram–Schmidt passes)
    for i in 0..k {
        for _ in 0..2 {
            for j in 0..i {
                let d: f64 = (0..n_big).map(|r| y[(r, i)] * y[(r, j)]).sum();
                for r in 0..n_big {
                    y[(r, i)] -= d * y[(r, j)];
                }
            }
        }
        let nrm: f64 = (0..n_big)
            .map(|r| y[(r, i)] * y[(r, i)])
            .sum::<f64>()
            .sqrt();
        if nrm < 0.5 {
            return Ok(None);
        }
        for r in 0..n_big {
            y[(r, i)] /= nrm;
        }
    }
    // order by the recomputed σ (Ritz order can differ at rounding level)
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| s[b].total_cmp(&s[a]).then(a.cmp(&b)));
    let s_sorted: Vec<f64> = order.iter().map(|&i| s[i]).collect();
    let perm = |m: &Mat<f64>| Mat::from_fn(m.nrows(), k, |r, j| m[(r, order[j])]);
    let (xs, ys) = (perm(&x), perm(&y));
    Ok(Some(if b.nrows >= b.ncols {
        Local {
            s: s_sorted,
            u: ys,
            v: xs,
        }
    } else {
        Local {
            s: s_sorted,
            u: xs,
            v: ys,
        }
    }))
}

/// Tuning of the thick-restart block Lanczos method.
#[derive(Clone, Debug)]
#[doc(hidden)]
pub struct LanczosOpts {
    /// Block size.
    pub block: usize,
    /// Number of basis vectors before a restart.
    pub max_dim: usize,
    /// Relative residual target (see [`TOL`]).
    pub tol: f64,
    pub max_restarts: usize,
}

impl LanczosOpts {
    /// Settings for the `k` top eigenpairs of an `n × n` Gram matrix applied
    /// through a block with `nnz` stored entries.
    pub(crate) fn for_problem(n: usize, k: usize, nnz: usize) -> Self {
        // a large block is read from memory once per block product: there a
        // wide block pays (dense 2832 × 2058 block, k = 12: 0.40 s against
        // 0.53 s with block 2); small ones stay in cache and prefer block 2
        let (block, min_dim) = if nnz >= LARGE_NNZ {
            (8, 64)
        } else {
            (LANCZOS_BLOCK, 48)
        };
        let max_dim = (2 * k + 24)
            .max(min_dim)
            .max(k + 4 * block)
            .min(n.saturating_sub(3 * block));
        LanczosOpts {
            block,
            max_dim,
            tol: TOL,
            max_restarts: MAX_RESTARTS,
        }
    }
}

/// Work counters of one [`lanczos_gram`] call.
#[derive(Clone, Copy, Debug, Default)]
#[doc(hidden)]
pub struct LanczosStats {
    /// Vectors multiplied by `G` (block applications × block size).
    pub applies: usize,
    pub restarts: usize,
}

/// `out = BᵀB x` for one vector `x` of length `b.ncols` (for benchmarks, e.g. as
/// a matrix-free operator for other solvers). Not part of the API.
#[doc(hidden)]
pub fn gram_apply(b: &SparseBlock, x: &[f64], out: &mut [f64]) -> Result<()> {
    validate_block(b)?;
    if x.len() != b.ncols || out.len() != b.ncols {
        return Err(Error::Shape(format!(
            "gram_apply: x has {} and out {} values for {} columns",
            x.len(),
            out.len(),
            b.ncols
        )));
    }
    // SAFETY: validate_block checks every column index is below ncols = x.len().
    unsafe { gram_apply_dispatch::<true>(b, None, x, out, 1) };
    Ok(())
}

/// `out = Mᵀ M x` for a block of `bs` vectors stored interleaved (`x[j*bs + c]`),
/// one pass over the rows of `m`.
///
/// # Safety
/// Every column index of `m` must be below `x.len() / bs`, and
/// `out.len() == x.len()`.
#[inline(always)]
unsafe fn gram_apply_dispatch<const FMA: bool>(
    m: &SparseBlock,
    shared: Option<&[bool]>,
    x: &[f64],
    out: &mut [f64],
    bs: usize,
) {
    match bs {
        1 => gram_apply_n::<1, 4, FMA>(m, shared, x, out),
        2 => gram_apply_n::<2, 2, FMA>(m, shared, x, out),
        3 => gram_apply_n::<3, 1, FMA>(m, shared, x, out),
        4 => gram_apply_n::<4, 1, FMA>(m, shared, x, out),
        6 => gram_apply_n::<6, 1, FMA>(m, shared, x, out),
        8 => gram_apply_n::<8, 1, FMA>(m, shared, x, out),
        _ => gram_apply_dyn(m, x, out, bs),
    }
}

#[inline(always)]
fn fma64<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// The block kernel: `B` vectors, `U` independent accumulators per vector
/// (breaks the FMA latency chain of the row dot products).
#[inline(always)]
unsafe fn gram_apply_n<const B: usize, const U: usize, const FMA: bool>(
    m: &SparseBlock,
    shared: Option<&[bool]>,
    x: &[f64],
    out: &mut [f64],
) {
    out.fill(0.0);
    let x: &[[f64; B]] = as_chunks(x);
    let out: &mut [[f64; B]] = as_chunks_mut(out);
    // long rows (at least 16 entries on average): one chain per row would be latency-bound
    let start = if U == 1 && m.indices.len() >= 16 * m.nrows {
        // SAFETY: the caller's contract.
        unsafe { gram_rows_interleaved::<B, FMA>(m, shared, x, out) }
    } else {
        0
    };
    for r in start..m.nrows {
        let (lo, hi) = (m.indptr[r], m.indptr[r + 1]);
        let idx = &m.indices[lo..hi];
        let val = &m.data[lo..hi];
        let mut acc = [[0.0f64; B]; U];
        let mut ci = idx.chunks_exact(U);
        let mut cv = val.chunks_exact(U);
        for (ii, vv) in (&mut ci).zip(&mut cv) {
            for u in 0..U {
                // SAFETY: column indices are below x.len() (caller's contract).
                let xj = unsafe { x.get_unchecked(ii[u] as usize) };
                for c in 0..B {
                    acc[u][c] = fma64::<FMA>(vv[u], xj[c], acc[u][c]);
                }
            }
        }
        for (&j, &a) in ci.remainder().iter().zip(cv.remainder()) {
            // SAFETY: as above.
            let xj = unsafe { x.get_unchecked(j as usize) };
            for c in 0..B {
                acc[0][c] = fma64::<FMA>(a, xj[c], acc[0][c]);
            }
        }
        let mut t = acc[0];
        for u in 1..U {
            for c in 0..B {
                t[c] += acc[u][c];
            }
        }
        for (&j, &a) in idx.iter().zip(val) {
            // SAFETY: as above.
            let oj = unsafe { out.get_unchecked_mut(j as usize) };
            for c in 0..B {
                oj[c] = fma64::<FMA>(a, t[c], oj[c]);
            }
        }
    }
}

/// Rows whose row products [`gram_rows_interleaved`] computes together.
const ROWS: usize = 4;

/// For each group of [`ROWS`] consecutive rows of `m` (the ⌊nrows / ROWS⌋ groups of
/// [`gram_rows_interleaved`]), whether its rows have the same columns: found once per
/// matrix, so that a product reads one row's indices for such a group (a dense block's
/// every group) and does not compare them again.
fn shared_columns(m: &SparseBlock) -> Vec<bool> {
    let cols = |r: usize| &m.indices[m.indptr[r]..m.indptr[r + 1]];
    (0..m.nrows / ROWS)
        .map(|g| (1..ROWS).all(|i| cols(g * ROWS + i) == cols(g * ROWS)))
        .collect()
}

/// A [`SparseBlock`] with its [`shared_columns`], as the operator `BᵀB` of the Lanczos
/// method (the same products as the block alone, bit for bit).
struct SharedColumns<'a> {
    m: &'a SparseBlock,
    shared: Vec<bool>,
}

impl<'a> SharedColumns<'a> {
    fn new(m: &'a SparseBlock) -> Self {
        SharedColumns {
            m,
            shared: shared_columns(m),
        }
    }
}

impl Gram for SharedColumns<'_> {
    fn dim(&self) -> usize {
        self.m.ncols
    }
    fn well_formed(&self) -> bool {
        Gram::well_formed(self.m)
    }
    #[inline(always)]
    unsafe fn apply<const FMA: bool>(&self, x: &[f64], out: &mut [f64], bs: usize) {
        // SAFETY: the caller's contract; `shared` was found on this block.
        unsafe { gram_apply_dispatch::<FMA>(self.m, Some(&self.shared), x, out, bs) }
    }
}

/// [`gram_apply_n`] with one accumulator (`U = 1`) on the rows `0 … ROWS·⌊nrows/ROWS⌋`,
/// [`ROWS`] at a time: the row products `t = b_r · x` of the group are computed
/// side by side (independent dependency chains, each in its row's order), then each
/// row's update of the output in row order, as one row at a time does (rows with the
/// same columns update each output row together, still in row order): the same
/// operations in the same order for every value (bit-identical). `shared`, when given,
/// is [`shared_columns`] of `m`: a group known to share its columns reads one row's
/// indices for all its rows (the same loads) instead of each row's, and is not compared
/// again. Returns the rows done.
///
/// # Safety
/// As [`gram_apply_dispatch`].
#[inline(always)]
unsafe fn gram_rows_interleaved<const B: usize, const FMA: bool>(
    m: &SparseBlock,
    shared: Option<&[bool]>,
    x: &[[f64; B]],
    out: &mut [[f64; B]],
) -> usize {
    let (idx, val) = (&m.indices, &m.data);
    let mut r = 0;
    while r + ROWS <= m.nrows {
        let lo: [usize; ROWS] = std::array::from_fn(|i| m.indptr[r + i]);
        let len: [usize; ROWS] = std::array::from_fn(|i| m.indptr[r + i + 1] - lo[i]);
        let known = shared.is_some_and(|s| s[r / ROWS]);
        let common = len.iter().copied().min().unwrap_or(0);
        let mut acc = [[0.0f64; B]; ROWS];
        if known {
            // SAFETY: as below; every row of the group has row 0's columns.
            for (e, &j) in unsafe { idx.get_unchecked(lo[0]..lo[0] + len[0]) }
                .iter()
                .enumerate()
            {
                let xj = unsafe { x.get_unchecked(j as usize) };
                for i in 0..ROWS {
                    let a = unsafe { *val.get_unchecked(lo[i] + e) };
                    for c in 0..B {
                        acc[i][c] = fma64::<FMA>(a, xj[c], acc[i][c]);
                    }
                }
            }
        } else {
            for e in 0..common {
                for i in 0..ROWS {
                    // SAFETY: p < nnz; column indices are below x.len() (caller's contract).
                    unsafe {
                        let p = lo[i] + e;
                        let xj = x.get_unchecked(*idx.get_unchecked(p) as usize);
                        let a = *val.get_unchecked(p);
                        for c in 0..B {
                            acc[i][c] = fma64::<FMA>(a, xj[c], acc[i][c]);
                        }
                    }
                }
            }
        }
        for i in 0..ROWS {
            for p in lo[i] + common..lo[i] + len[i] {
                // SAFETY: as above.
                unsafe {
                    let xj = x.get_unchecked(*idx.get_unchecked(p) as usize);
                    let a = *val.get_unchecked(p);
                    for c in 0..B {
                        acc[i][c] = fma64::<FMA>(a, xj[c], acc[i][c]);
                    }
                }
            }
        }
        let first = &idx[lo[0]..lo[0] + len[0]];
        if known || (1..ROWS).all(|i| &idx[lo[i]..lo[i] + len[i]] == first) {
            // the same columns in every row (dense blocks): each output row updated by
            // the group's rows in row order, loaded and stored once
            for (e, &j) in first.iter().enumerate() {
                // SAFETY: as above.
                unsafe {
                    let oj = out.get_unchecked_mut(j as usize);
                    let mut o = *oj;
                    for i in 0..ROWS {
                        let a = *val.get_unchecked(lo[i] + e);
                        for c in 0..B {
                            o[c] = fma64::<FMA>(a, acc[i][c], o[c]);
                        }
                    }
                    *oj = o;
                }
            }
            r += ROWS;
            continue;
        }
        for i in 0..ROWS {
            let t = acc[i];
            for p in lo[i]..lo[i] + len[i] {
                // SAFETY: as above.
                unsafe {
                    let oj = out.get_unchecked_mut(*idx.get_unchecked(p) as usize);
                    let a = *val.get_unchecked(p);
                    for c in 0..B {
                        oj[c] = fma64::<FMA>(a, t[c], oj[c]);
                    }
                }
            }
        }
        r += ROWS;
    }
    r
}

/// The normalized incidence matrix `M` of a graph (one row per edge `{u, v}`, `u < v`,
/// with entries `h·inv[u]` at `u` and `h·inv[v]` at `v`, `h = sqrt(w/2)`, rows in order
/// of `u` then `v`), so that `MᵀM = (I + N)/2` ([`crate::embed`]). Stored by the
/// upper adjacency: the edges of node `u` to larger nodes are `cols[indptr[u]..indptr[u+1]]`
/// with their `h`; the entries of `M` are formed when it is applied (the same products,
/// half the memory traffic of a [`SparseBlock`] of `M`).
#[derive(Clone, Debug)]
pub struct Incidence {
    /// Nodes (columns of `M`).
    n: usize,
    /// Length `n + 1`.
    indptr: Vec<usize>,
    /// The larger end of every edge, ascending within a node's range.
    cols: Vec<u32>,
    /// `sqrt(w/2)` of every edge.
    h: Vec<f64>,
    /// `1/sqrt(degree)` of every node.
    inv: Vec<f64>,
    /// For every node `u`, how many consecutive nodes from `u` on (`u` included, at
    /// most 255) have the same larger neighbours as `u` (the channels of one layer):
    /// found once per matrix, so that the kernels need not compare neighbour lists at
    /// every product. Empty when the rest is not well formed.
    runs: Vec<u8>,
}

impl Incidence {
    /// The incidence matrix of `n` nodes whose edges to larger nodes are
    /// `cols[indptr[u]..indptr[u+1]]`, with `h = sqrt(w/2)` and `inv = 1/sqrt(degree)`
    /// (checked by [`Incidence::well_formed`] before it is applied).
    pub fn new(n: usize, indptr: Vec<usize>, cols: Vec<u32>, h: Vec<f64>, inv: Vec<f64>) -> Self {
        let mut m = Incidence {
            n,
            indptr,
            cols,
            h,
            inv,
            runs: Vec::new(),
        };
        if m.structure_ok() {
            let mut runs = vec![1u8; n];
            for u in (0..n.saturating_sub(1)).rev() {
                let (a, b) = (m.indptr[u], m.indptr[u + 1]);
                if m.cols[a..b] == m.cols[b..m.indptr[u + 2]] {
                    runs[u] = runs[u + 1].saturating_add(1);
                }
            }
            m.runs = runs;
        }
        m
    }

    /// `M` as a [`SparseBlock`] (one row per edge, entries `h·inv[u]`, `h·inv[v]`).
    pub fn to_block(&self) -> SparseBlock {
        let (mut indptr, mut indices, mut data) = (vec![0], vec![], vec![]);
        for u in 0..self.n {
            for p in self.indptr[u]..self.indptr[u + 1] {
                let v = self.cols[p] as usize;
                indices.extend([u as u32, v as u32]);
                data.extend([self.h[p] * self.inv[u], self.h[p] * self.inv[v]]);
                indptr.push(indices.len());
            }
        }
        SparseBlock {
            nrows: indptr.len() - 1,
            ncols: self.n,
            indptr,
            indices,
            data,
        }
    }

    fn well_formed(&self) -> bool {
        self.structure_ok() && self.runs.len() == self.n
    }

    /// Whether `indptr`, `cols`, `h` and `inv` are consistent (indices in range, …).
    fn structure_ok(&self) -> bool {
        self.indptr.len() == self.n + 1
            && self.indptr[0] == 0
            && self.indptr.windows(2).all(|w| w[0] <= w[1])
            && self.indptr[self.n] == self.cols.len()
            && self.h.len() == self.cols.len()
            && self.inv.len() == self.n
            && (0..self.n).all(|u| {
                self.cols[self.indptr[u]..self.indptr[u + 1]]
                    .iter()
                    .all(|&v| (v as usize) > u && (v as usize) < self.n)
            })
    }
}

/// A symmetric PSD operator `G = MᵀM` the Lanczos method applies to blocks of vectors.
pub(crate) trait Gram {
    /// Columns of `M` (the dimension of `G`).
    fn dim(&self) -> usize;
    /// Whether the stored structure is valid (indices in range, …).
    fn well_formed(&self) -> bool;
    /// `out = G x` for `bs` vectors stored interleaved (`x[j*bs + c]`).
    ///
    /// # Safety
    /// `well_formed()`, and `x.len() == out.len() == dim() · bs`.
    unsafe fn apply<const FMA: bool>(&self, x: &[f64], out: &mut [f64], bs: usize);
}

impl Gram for SparseBlock {
    fn dim(&self) -> usize {
        self.ncols
    }
    fn well_formed(&self) -> bool {
        self.indptr.len() == self.nrows + 1
            && !self.indices.iter().any(|&j| j as usize >= self.ncols)
    }
    #[inline(always)]
    unsafe fn apply<const FMA: bool>(&self, x: &[f64], out: &mut [f64], bs: usize) {
        // SAFETY: the caller's contract.
        unsafe { gram_apply_dispatch::<FMA>(self, None, x, out, bs) }
    }
}

impl Gram for Incidence {
    fn dim(&self) -> usize {
        self.n
    }
    fn well_formed(&self) -> bool {
        Incidence::well_formed(self)
    }
    #[inline(always)]
    unsafe fn apply<const FMA: bool>(&self, x: &[f64], out: &mut [f64], bs: usize) {
        #[cfg(target_arch = "x86_64")]
        if FMA && bs == 8 && avx512() {
            // SAFETY: the CPU has AVX-512F; the caller's contract.
            return unsafe { incidence8_avx512(self, x, out) };
        }
        // SAFETY: the caller's contract.
        unsafe {
            match bs {
                1 => incidence_apply::<1, 4, FMA>(self, x, out),
                2 => incidence_apply::<2, 2, FMA>(self, x, out),
                3 => incidence_apply::<3, 1, FMA>(self, x, out),
                4 => incidence_apply::<4, 1, FMA>(self, x, out),
                6 => incidence_apply::<6, 1, FMA>(self, x, out),
                8 => incidence_apply::<8, 1, FMA>(self, x, out),
                _ => gram_apply_dyn(&self.to_block(), x, out, bs),
            }
        }
    }
}

/// Whether the CPU has AVX-512F (checked once).
#[cfg(target_arch = "x86_64")]
fn avx512() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| std::arch::is_x86_feature_detected!("avx512f"))
}

/// `out = MᵀM x` for the [`Incidence`] `g`: the operations of [`gram_apply_n`] on the
/// rows of `M` in order, with the same `U`, bit for bit. A row `(u, a0), (v, a1)`:
/// with `U = 1` both products go to one accumulator, with `U = 2` each to its own,
/// then added, with `U = 4` to the first, then the three empty accumulators are added
/// (`+ 0.0`, which can change the sign of a zero, so it is kept). Node `u`'s output
/// stays in registers over its edges (no edge of `u` writes it through its larger end).
///
/// # Safety
/// `g.well_formed()`; `x.len() == out.len() == g.n · B`.
#[inline(always)]
unsafe fn incidence_apply<const B: usize, const U: usize, const FMA: bool>(
    g: &Incidence,
    x: &[f64],
    out: &mut [f64],
) {
    out.fill(0.0);
    let x: &[[f64; B]] = as_chunks(x);
    let out: &mut [[f64; B]] = as_chunks_mut(out);
    for u in 0..g.n {
        let (lo, hi) = (g.indptr[u], g.indptr[u + 1]);
        if lo == hi {
            continue;
        }
        let iu = g.inv[u];
        let x0 = x[u];
        let mut o0 = out[u];
        for p in lo..hi {
            // SAFETY: p < cols.len() = h.len(); cols[p] < n (well-formed).
            let (v, hh) = unsafe { (*g.cols.get_unchecked(p) as usize, *g.h.get_unchecked(p)) };
            let (a0, a1) = (hh * iu, hh * unsafe { *g.inv.get_unchecked(v) });
            // SAFETY: v < n.
            let x1 = unsafe { x.get_unchecked(v) };
            let mut t = [0.0f64; B];
            for c in 0..B {
                t[c] = match U {
                    1 => fma64::<FMA>(a1, x1[c], fma64::<FMA>(a0, x0[c], 0.0)),
                    2 => fma64::<FMA>(a0, x0[c], 0.0) + fma64::<FMA>(a1, x1[c], 0.0),
                    _ => {
                        let mut s = fma64::<FMA>(a1, x1[c], fma64::<FMA>(a0, x0[c], 0.0));
                        for _ in 1..U {
                            s += 0.0;
                        }
                        s
                    }
                };
            }
            for c in 0..B {
                o0[c] = fma64::<FMA>(a0, t[c], o0[c]);
            }
            // SAFETY: v < n.
            let o1 = unsafe { out.get_unchecked_mut(v) };
            for c in 0..B {
                o1[c] = fma64::<FMA>(a1, t[c], o1[c]);
            }
        }
        out[u] = o0;
    }
}

/// [`incidence_apply`] for blocks of 8 vectors with fused multiply-adds, one 512-bit
/// register per node: the same fused operations in the same order (bit-identical to
/// the AVX2 tier), half the instructions. Runs of [`NODES`] consecutive nodes with
/// the same larger neighbours (the channels of a layer) are done side by side:
/// [`NODES`] independent chains for their own outputs instead of one, and each
/// neighbour's output updated by them in node order, loaded and stored once (the
/// same values: tested bit for bit against the row-by-row kernel).
///
/// # Safety
/// The CPU has AVX-512F; as [`incidence_apply`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn incidence8_avx512(g: &Incidence, x: &[f64], out: &mut [f64]) {
    out.fill(0.0);
    let (xp, op) = (x.as_ptr(), out.as_mut_ptr());
    let runs = &g.runs;
    let mut u = 0;
    // SAFETY: well-formed (every cols[p] < n), x and out hold n · 8 values, and
    // `runs[u]` consecutive nodes from u have u's larger neighbours.
    unsafe {
        while u < g.n {
            if g.indptr[u] == g.indptr[u + 1] {
                u += 1;
                continue;
            }
            u += match runs[u] {
                r if r as usize >= NODES => incidence8_nodes::<NODES>(g, u, xp, op),
                r if r >= 4 => incidence8_nodes::<4>(g, u, xp, op),
                _ => incidence8_nodes::<1>(g, u, xp, op),
            };
        }
    }
}

/// [`incidence8_avx512`] for the `N` nodes `u..u + N`, which have the same larger
/// neighbours (the channels of one layer): no edge joins them, so their outputs start
/// from their values now, their chains run side by side, and each neighbour's output
/// takes their updates in node order, loaded and stored once. The products
/// `h·inv[u]` and `h·inv[v]` are formed [`EDGES`] edges at a time in vectors (the same
/// IEEE products). Returns `N`.
///
/// # Safety
/// As [`incidence8_avx512`]; nodes `u..u + N` exist, have edges and share `u`'s.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn incidence8_nodes<const N: usize>(
    g: &Incidence,
    u: usize,
    xp: *const f64,
    op: *mut f64,
) -> usize {
    use std::arch::x86_64::*;
    let zero = _mm512_setzero_pd();
    let cols = &g.cols[g.indptr[u]..g.indptr[u + 1]];
    // SAFETY: the caller's contract.
    unsafe {
        let lo: [usize; N] = std::array::from_fn(|j| *g.indptr.get_unchecked(u + j));
        let iu: [__m512d; N] = std::array::from_fn(|j| _mm512_set1_pd(*g.inv.get_unchecked(u + j)));
        let x0: [__m512d; N] = std::array::from_fn(|j| _mm512_loadu_pd(xp.add(8 * (u + j))));
        let mut o0: [__m512d; N] = std::array::from_fn(|j| _mm512_loadu_pd(op.add(8 * (u + j))));
        let mut a0 = [[0.0f64; EDGES]; N];
        let mut a1 = [[0.0f64; EDGES]; N];
        for (ce, chunk) in cols.chunks(EDGES).enumerate() {
            let e0 = ce * EDGES;
            let mask = edge_mask(chunk.len());
            let iv = inv_of(g, chunk);
            for j in 0..N {
                let hv = _mm512_maskz_loadu_pd(mask, g.h.as_ptr().add(lo[j] + e0));
                _mm512_storeu_pd(a0[j].as_mut_ptr(), _mm512_mul_pd(hv, iu[j]));
                _mm512_storeu_pd(a1[j].as_mut_ptr(), _mm512_mul_pd(hv, iv));
            }
            for (i, &v) in chunk.iter().enumerate() {
                let v = v as usize;
                let x1 = _mm512_loadu_pd(xp.add(8 * v));
                let o1 = op.add(8 * v);
                let mut ov = _mm512_loadu_pd(o1);
                for j in 0..N {
                    let a0v = _mm512_set1_pd(a0[j][i]);
                    let a1v = _mm512_set1_pd(a1[j][i]);
                    let t = _mm512_fmadd_pd(a1v, x1, _mm512_fmadd_pd(a0v, x0[j], zero));
                    o0[j] = _mm512_fmadd_pd(a0v, t, o0[j]);
                    ov = _mm512_fmadd_pd(a1v, t, ov);
                }
                _mm512_storeu_pd(o1, ov);
            }
        }
        for j in 0..N {
            _mm512_storeu_pd(op.add(8 * (u + j)), o0[j]);
        }
    }
    N
}

/// Nodes whose edges [`incidence8_avx512`] runs side by side when they have the
/// same larger neighbours.
#[cfg(target_arch = "x86_64")]
const NODES: usize = 8;

/// Edges whose products `h·inv[u]`, `h·inv[v]` [`incidence8_avx512`] forms in one
/// vector (the same IEEE products as one at a time).
#[cfg(target_arch = "x86_64")]
const EDGES: usize = 8;

/// The first `len` (1 ..= [`EDGES`]) lanes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn edge_mask(len: usize) -> u8 {
    (((1u16) << len) - 1) as u8
}

/// `inv[v]` of every `v` in `cols` (1 ..= [`EDGES`] indices), in lanes `0..cols.len()`
/// (0 in the others).
///
/// # Safety
/// The CPU has AVX-512F; every index in `cols` is below `g.inv.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn inv_of(g: &Incidence, cols: &[u32]) -> std::arch::x86_64::__m512d {
    use std::arch::x86_64::*;
    let mut ix = [0u32; EDGES];
    ix[..cols.len()].copy_from_slice(cols);
    // SAFETY: `ix` holds EDGES indices; the gathered lanes are in range (the caller's
    // contract), the others are masked off.
    unsafe {
        let idx = _mm512_cvtepu32_epi64(_mm256_loadu_si256(ix.as_ptr() as *const __m256i));
        let mask = edge_mask(cols.len());
        _mm512_mask_i64gather_pd::<8>(_mm512_setzero_pd(), mask, idx, g.inv.as_ptr())
    }
}

fn as_chunks<const B: usize>(x: &[f64]) -> &[[f64; B]] {
    assert_eq!(x.len() % B, 0);
    // SAFETY: [f64; B] has the layout of B consecutive f64 and alignment of f64.
    unsafe { std::slice::from_raw_parts(x.as_ptr() as *const [f64; B], x.len() / B) }
}

fn as_chunks_mut<const B: usize>(x: &mut [f64]) -> &mut [[f64; B]] {
    assert_eq!(x.len() % B, 0);
    // SAFETY: as in `as_chunks`; the borrow is exclusive.
    unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr() as *mut [f64; B], x.len() / B) }
}

fn gram_apply_dyn(m: &SparseBlock, x: &[f64], out: &mut [f64], bs: usize) {
    out.fill(0.0);
    let mut t = vec![0.0; bs];
    for r in 0..m.nrows {
        let (lo, hi) = (m.indptr[r], m.indptr[r + 1]);
        t.fill(0.0);
        for e in lo..hi {
            let (j, a) = (m.indices[e] as usize, m.data[e]);
            for c in 0..bs {
                t[c] += a * x[j * bs + c];
            }
        }
        for e in lo..hi {
            let (j, a) = (m.indices[e] as usize, m.data[e]);
            for c in 0..bs {
                out[j * bs + c] += a * t[c];
            }
        }
    }
}

/// Column-major n × cols view helpers over a flat buffer.
fn view(buf: &[f64], n: usize, c0: usize, c1: usize) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(&buf[c0 * n..c1 * n], n, c1 - c0)
}

fn view_mut(buf: &mut [f64], n: usize, c0: usize, c1: usize) -> MatMut<'_, f64> {
    MatMut::from_column_major_slice_mut(&mut buf[c0 * n..c1 * n], n, c1 - c0)
}

#[inline(always)]
fn dot<const FMA: bool>(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..8 {
            acc[i] = fma64::<FMA>(x[i], y[i], acc[i]);
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail = fma64::<FMA>(*x, *y, tail);
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

#[inline(always)]
fn axpy<const FMA: bool>(y: &mut [f64], a: f64, x: &[f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi = fma64::<FMA>(a, *xi, *yi);
    }
}

/// One classical Gram–Schmidt pass of `z` (n × bs, column-major) against
/// basis columns `0..dim` of `v`; the coefficients go to `h` (dim × bs).
///
/// The coefficients are [`dot`]s, all `bs` of a basis vector in one pass over it
/// ([`dots`], the same per-dot arithmetic); the update `z_c −= Σ_j h_jc v_j`
/// goes through the vectors in tiles of [`CGS_TILE`] entries, each tile of four
/// basis vectors applied to every column of `z` before the next (each basis
/// vector read once instead of `bs` times), and every entry of `z` sees the same
/// operations in the same order as column by column ([`cgs_pass_by_column`], tested
/// bit for bit).
#[inline(always)]
fn cgs_pass<const FMA: bool>(
    v: &[f64],
    n: usize,
    dim: usize,
    z: &mut [f64],
    bs: usize,
    h: &mut [f64],
) {
    for j in 0..dim {
        let vj = &v[j * n..(j + 1) * n];
        macro_rules! block {
            ($($b:literal)*) => {
                match bs {
                    $($b => {
                        let d = dots::<$b, FMA>(vj, z, n);
                        for c in 0..$b {
                            h[c * dim + j] = d[c];
                        }
                    })*
                    _ => {
                        for c in 0..bs {
                            h[c * dim + j] = dot::<FMA>(vj, &z[c * n..(c + 1) * n]);
                        }
                    }
                }
            };
        }
        block!(1 2 3 4 5 6 7 8);
    }
    let mut i0 = 0;
    while i0 < n {
        let i1 = (i0 + CGS_TILE).min(n);
        let mut j = 0;
        while j + 4 <= dim {
            let v0 = &v[j * n + i0..j * n + i1];
            let v1 = &v[(j + 1) * n + i0..(j + 1) * n + i1];
            let v2 = &v[(j + 2) * n + i0..(j + 2) * n + i1];
            let v3 = &v[(j + 3) * n + i0..(j + 3) * n + i1];
            for c in 0..bs {
                let hc = &h[c * dim..(c + 1) * dim];
                let (a0, a1, a2, a3) = (-hc[j], -hc[j + 1], -hc[j + 2], -hc[j + 3]);
                let zc = &mut z[c * n + i0..c * n + i1];
                sub4::<FMA>(zc, [a0, a1, a2, a3], [v0, v1, v2, v3]);
            }
            j += 4;
        }
        while j < dim {
            let vj = &v[j * n + i0..j * n + i1];
            for c in 0..bs {
                axpy::<FMA>(&mut z[c * n + i0..c * n + i1], -h[c * dim + j], vj);
            }
            j += 1;
        }
        i0 = i1;
    }
}

/// `z += a0 v0 + a1 v1 + a2 v2 + a3 v3` entry by entry (`a` are the negated
/// coefficients), in one fixed order of operations.
#[inline(always)]
fn sub4<const FMA: bool>(zc: &mut [f64], a: [f64; 4], v: [&[f64]; 4]) {
    let [a0, a1, a2, a3] = a;
    let n = zc.len();
    let (v0, v1, v2, v3) = (&v[0][..n], &v[1][..n], &v[2][..n], &v[3][..n]);
    for i in 0..n {
        let t = fma64::<FMA>(a1, v1[i], a0 * v0[i]);
        let t = fma64::<FMA>(a2, v2[i], t);
        zc[i] += fma64::<FMA>(a3, v3[i], t);
    }
}

/// Entries per tile of [`cgs_pass`]'s update (a tile of every column of a block
/// of 8 and of four basis vectors stays in the L1 cache).
const CGS_TILE: usize = 256;

/// `[dot(a, z_0), …, dot(a, z_{B−1})]` for the `B` columns of `z` (n × B,
/// column-major) in one pass over `a`: each with [`dot`]'s accumulators and
/// summation order, so bit-identical to `B` calls of [`dot`].
#[inline(always)]
fn dots<const B: usize, const FMA: bool>(a: &[f64], z: &[f64], n: usize) -> [f64; B] {
    let mut acc = [[0.0f64; 8]; B];
    let full = n / 8 * 8;
    let mut e = 0;
    while e < full {
        let x = &a[e..e + 8];
        for c in 0..B {
            let y = &z[c * n + e..c * n + e + 8];
            for i in 0..8 {
                acc[c][i] = fma64::<FMA>(x[i], y[i], acc[c][i]);
            }
        }
        e += 8;
    }
    std::array::from_fn(|c| {
        let mut tail = 0.0;
        for i in full..n {
            tail = fma64::<FMA>(a[i], z[c * n + i], tail);
        }
        let acc = &acc[c];
        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
    })
}

/// [`cgs_pass`] column by column (its reference in the tests).
#[cfg(test)]
fn cgs_pass_by_column<const FMA: bool>(
    v: &[f64],
    n: usize,
    dim: usize,
    z: &mut [f64],
    bs: usize,
    h: &mut [f64],
) {
    for j in 0..dim {
        let vj = &v[j * n..(j + 1) * n];
        for c in 0..bs {
            h[c * dim + j] = dot::<FMA>(vj, &z[c * n..(c + 1) * n]);
        }
    }
    for c in 0..bs {
        let zc = &mut z[c * n..(c + 1) * n];
        let hc = &h[c * dim..(c + 1) * dim];
        let mut j = 0;
        while j + 4 <= dim {
            let (a0, a1, a2, a3) = (-hc[j], -hc[j + 1], -hc[j + 2], -hc[j + 3]);
            let v0 = &v[j * n..(j + 1) * n];
            let v1 = &v[(j + 1) * n..(j + 2) * n];
            let v2 = &v[(j + 2) * n..(j + 3) * n];
            let v3 = &v[(j + 3) * n..(j + 4) * n];
            sub4::<FMA>(zc, [a0, a1, a2, a3], [v0, v1, v2, v3]);
            j += 4;
        }
        while j < dim {
            axpy::<FMA>(zc, -hc[j], &v[j * n..(j + 1) * n]);
            j += 1;
        }
    }
}

/// Orthogonalize `z` (n × bs, column-major) against basis columns `0..dim` of
/// `v` with two passes of classical Gram–Schmidt; the coefficients (dim × bs,
/// column-major) of both passes added up go to `h`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cgs2<const FMA: bool>(
    v: &[f64],
    n: usize,
    dim: usize,
    z: &mut [f64],
    bs: usize,
    h: &mut [f64],
    h2: &mut [f64],
) {
    cgs_pass::<FMA>(v, n, dim, z, bs, &mut h[..dim * bs]);
    cgs_pass::<FMA>(v, n, dim, z, bs, &mut h2[..dim * bs]);
    for (a, b) in h[..dim * bs].iter_mut().zip(&h2[..dim * bs]) {
        *a += b;
    }
}

/// Largest `nev` eigenpairs of `G = MᵀM` (n = `m.ncols`): eigenvalues
/// descending and the eigenvectors as an n × nev matrix.
#[doc(hidden)]
pub fn lanczos_gram<R: Rng + ?Sized>(
    m: &SparseBlock,
    nev: usize,
    opts: &LanczosOpts,
    rng: &mut R,
) -> Result<(Vec<f64>, Mat<f64>, LanczosStats)> {
    lanczos(&SharedColumns::new(m), nev, opts, rng)
}

/// [`lanczos_gram`] of the normalized incidence matrix of a graph ([`Incidence`]).
#[doc(hidden)]
pub fn lanczos_incidence<R: Rng + ?Sized>(
    m: &Incidence,
    nev: usize,
    opts: &LanczosOpts,
    rng: &mut R,
) -> Result<(Vec<f64>, Mat<f64>, LanczosStats)> {
    lanczos(m, nev, opts, rng)
}

fn lanczos<G: Gram, R: Rng + ?Sized>(
    m: &G,
    nev: usize,
    opts: &LanczosOpts,
    rng: &mut R,
) -> Result<(Vec<f64>, Mat<f64>, LanczosStats)> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") {
            // SAFETY: the CPU has the features.
            return unsafe { lanczos_avx2(m, nev, opts, rng) };
        }
    }
    lanczos_impl::<false, G, R>(m, nev, opts, rng)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn lanczos_avx2<G: Gram, R: Rng + ?Sized>(
    m: &G,
    nev: usize,
    opts: &LanczosOpts,
    rng: &mut R,
) -> Result<(Vec<f64>, Mat<f64>, LanczosStats)> {
    lanczos_impl::<true, G, R>(m, nev, opts, rng)
}

#[inline(always)]
fn lanczos_impl<const FMA: bool, G: Gram, R: Rng + ?Sized>(
    m: &G,
    nev: usize,
    opts: &LanczosOpts,
    rng: &mut R,
) -> Result<(Vec<f64>, Mat<f64>, LanczosStats)> {
    let n = m.dim();
    let mut stats = LanczosStats::default();
    let bs = opts.block.max(1);
    let mmax = opts.max_dim;
    let cap = mmax + 2 * bs;
    if nev == 0 || mmax < nev + bs || cap > n {
        return Err(Error::Value(format!(
            "Lanczos: bad sizes (n = {n}, nev = {nev}, basis {mmax}, block {bs})"
        )));
    }
    if !m.well_formed() {
        return Err(Error::Shape("Lanczos: malformed block".into()));
    }
    let mut v = vec![0.0; n * cap];
    let mut t = vec![0.0; cap * cap]; // column-major; upper triangle used
    let mut z = vec![0.0; n * bs];
    let mut xb = vec![0.0; n * bs];
    let mut yb = vec![0.0; n * bs];
    let mut h = vec![0.0; cap * bs];
    let mut h2 = vec![0.0; cap * bs];
    let mut s_last = vec![0.0; bs * bs]; // column-major bs × bs, Z = Q S
    let mut tmp = vec![0.0; n * cap];
    let mut opnorm = 0.0f64;

    // start block: Gaussian, orthonormalized
    for x in z.iter_mut() {
        *x = rng.sample(StandardNormal);
    }
    orth_block::<FMA, R>(&mut v, n, 0, &mut z, bs, &mut s_last, 0.0, rng)?;
    let mut done = 0usize; // basis columns whose G-image is projected
    let mut dim = bs; // basis columns (the last block pending)
    for restart in 0..=opts.max_restarts {
        while done < mmax {
            // z = G v[:, done..dim]
            for c in 0..bs {
                let col = &v[(done + c) * n..(done + c + 1) * n];
                for (j, &x) in col.iter().enumerate() {
                    xb[j * bs + c] = x;
                }
            }
            // SAFETY: the operator was checked above; xb and yb hold n · bs values.
            unsafe { m.apply::<FMA>(&xb, &mut yb, bs) };
            stats.applies += bs;
            for c in 0..bs {
                let zc = &mut z[c * n..(c + 1) * n];
                for (j, x) in zc.iter_mut().enumerate() {
                    *x = yb[j * bs + c];
                }
                opnorm = opnorm.max(dot::<FMA>(zc, zc).sqrt());
            }
            cgs2::<FMA>(&v, n, dim, &mut z, bs, &mut h, &mut h2);
            for c in 0..bs {
                for i in 0..dim {
                    t[(done + c) * cap + i] = h[c * dim + i];
                }
            }
            orth_block::<FMA, R>(&mut v, n, dim, &mut z, bs, &mut s_last, opnorm, rng)?;
            done = dim;
            dim += bs;
        }
        let mm = done;
        // Rayleigh–Ritz on the symmetric projection
        let tm = Mat::<f64>::from_fn(mm, mm, |i, j| {
            let (a, b) = if i <= j { (i, j) } else { (j, i) };
            t[b * cap + a]
        });
        let evd = tm.self_adjoint_eigen(Side::Lower).map_err(|e| {
            Error::Numerical(format!("Lanczos: projected eigenproblem failed: {e:?}"))
        })?;
        let wv = evd.U();
        let theta: Vec<f64> = (0..mm).rev().map(|i| evd.S()[i]).collect(); // descending
        let wcol = |i: usize| mm - 1 - i; // column of the i-th largest
                                          // residual norms ‖S · W[mm-bs..mm, i]‖
        let resid = |i: usize| -> f64 {
            let mut acc = 0.0;
            for r in 0..bs {
                let mut x = 0.0;
                for c in r..bs {
                    x += s_last[c * bs + r] * wv[(mm - bs + c, wcol(i))];
                }
                acc += x * x;
            }
            acc.sqrt()
        };
        let th0 = theta[0].max(0.0);
        let converged = (0..nev).all(|i| {
            let thi = theta[i].max(1e-4 * th0);
            resid(i) <= opts.tol * (th0 * thi).sqrt()
        });
        // keep the wanted Ritz vectors and half of the others (restart
        // fractions 0.2-0.65 measured within noise of each other)
        let keep = if converged {
            nev
        } else {
            ((nev + mm) / 2).max(nev + 1).min(mm - bs)
        };
        // V[:, 0..keep] = V[:, 0..mm] W[:, top keep]
        let wk = Mat::<f64>::from_fn(mm, keep, |r, j| wv[(r, wcol(j))]);
        {
            let dst = view_mut(&mut tmp, n, 0, keep);
            matmul(
                dst,
                Accum::Replace,
                view(&v, n, 0, mm),
                wk.as_ref(),
                1.0,
                Par::Seq,
            );
        }
        if converged {
            let x = Mat::<f64>::from_fn(n, nev, |r, j| tmp[j * n + r]);
            stats.restarts = restart;
            return Ok((theta[..nev].to_vec(), x, stats));
        }
        if restart == opts.max_restarts {
            let worst = (0..nev).map(resid).fold(0.0, f64::max);
            return Err(Error::Numerical(format!(
                "Lanczos did not converge in {} restarts (worst residual {worst:.3e}, \
                 target {:.1e} relative to σ_1²={th0:.3e})",
                opts.max_restarts, opts.tol
            )));
        }
        // thick restart: [Ritz vectors, residual block]
        v.copy_within(mm * n..(mm + bs) * n, keep * n);
        v[..keep * n].copy_from_slice(&tmp[..keep * n]);
        t.fill(0.0);
        for (i, &th) in theta.iter().enumerate().take(keep) {
            t[i * cap + i] = th;
        }
        done = keep;
        dim = keep + bs;
    }
    unreachable!()
}

/// Orthonormalize block `z` (n × bs) into basis columns `dim..dim+bs` of `v`
/// (modified Gram–Schmidt within the block, twice; `z` is assumed already
/// orthogonal to columns `0..dim`), recording `Z = Q S` in `s` (column-major
/// bs × bs). A column that vanishes (invariant subspace found) is replaced by a
/// random vector orthogonal to the whole basis, with a zero coupling.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn orth_block<const FMA: bool, R: Rng + ?Sized>(
    v: &mut [f64],
    n: usize,
    dim: usize,
    z: &mut [f64],
    bs: usize,
    s: &mut [f64],
    opnorm: f64,
    rng: &mut R,
) -> Result<()> {
    s.fill(0.0);
    let (basis, rest) = v.split_at_mut(dim * n);
    let newblk = &mut rest[..bs * n];
    for c in 0..bs {
        let (prev, cur) = newblk.split_at_mut(c * n);
        let q = &mut cur[..n];
        q.copy_from_slice(&z[c * n..(c + 1) * n]);
        for _ in 0..2 {
            for p in 0..c {
                let pc = &prev[p * n..(p + 1) * n];
                let d = dot::<FMA>(pc, q);
                axpy::<FMA>(q, -d, pc);
                s[c * bs + p] += d;
            }
        }
        let nrm = dot::<FMA>(q, q).sqrt();
        if nrm > 1e-11 * opnorm && nrm > 0.0 {
            s[c * bs + c] = nrm;
            let inv = 1.0 / nrm;
            q.iter_mut().for_each(|x| *x *= inv);
            continue;
        }
        // breakdown: a fresh random direction orthogonal to everything so far
        let mut ok = false;
        for _attempt in 0..8 {
            for x in q.iter_mut() {
                *x = rng.sample(StandardNormal);
            }
            let n0 = dot::<FMA>(q, q).sqrt();
            for _ in 0..2 {
                for b in 0..dim {
                    let bc = &basis[b * n..(b + 1) * n];
                    let d = dot::<FMA>(bc, q);
                    axpy::<FMA>(q, -d, bc);
                }
                for p in 0..c {
                    let pc = &prev[p * n..(p + 1) * n];
                    let d = dot::<FMA>(pc, q);
                    axpy::<FMA>(q, -d, pc);
                }
            }
            let nrm = dot::<FMA>(q, q).sqrt();
            if nrm > 1e-3 * n0 {
                let inv = 1.0 / nrm;
                q.iter_mut().for_each(|x| *x *= inv);
                ok = true;
                break;
            }
        }
        if !ok {
            return Err(Error::Numerical("Lanczos: cannot extend the basis".into()));
        }
    }
    Ok(())
}

/// The spectral embedding of the bipartite graph whose normalized block is `b`
/// and whose node degrees are `d_even` (rows of `b`) and `d_odd` (columns), as
/// scikit-learn's `spectral_embedding(norm_laplacian=True, drop_first=False)`
/// builds it: eigenvector `i` of `D^-1/2 A D^-1/2` is `[u_i; v_i]/√2`, each
/// node's row divided by the square root of its degree.
///
/// Returns the embedding ((nrows + ncols) × k, row-major, even nodes in row
/// order then odd nodes in column order) and the singular values (= the top
/// eigenvalues of the normalized adjacency).
pub fn embed<R: Rng + ?Sized>(
    b: &SparseBlock,
    d_even: &[f64],
    d_odd: &[f64],
    k: usize,
    rng: &mut R,
) -> Result<(Vec<f64>, Vec<f64>)> {
    if d_even.len() != b.nrows || d_odd.len() != b.ncols {
        return Err(Error::Shape(format!(
            "degrees have lengths {} and {}, the block is {} × {}",
            d_even.len(),
            d_odd.len(),
            b.nrows,
            b.ncols
        )));
    }
    if d_even
        .iter()
        .chain(d_odd)
        .any(|&d| !(d.is_finite() && d > 0.0))
    {
        return Err(Error::Value(
            "degrees must be finite and positive (remove isolated nodes first)".into(),
        ));
    }
    let svd = top_singular(b, k, rng)?;
    let n = b.nrows + b.ncols;
    let mut emb = vec![0.0; n * k];
    let h = std::f64::consts::FRAC_1_SQRT_2;
    for (r, &d) in d_even.iter().enumerate() {
        let f = h / d.sqrt();
        for j in 0..k {
            emb[r * k + j] = svd.u[r * k + j] * f;
        }
    }
    for (c, &d) in d_odd.iter().enumerate() {
        let f = h / d.sqrt();
        let row = b.nrows + c;
        for j in 0..k {
            emb[row * k + j] = svd.v[c * k + j] * f;
        }
    }
    Ok((emb, svd.s))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::kmeans::kmeans;
    use crate::rng::{rng_for, CLUSTER};
    pub(crate) use crate::testkit::{
        block_diag, check_triplets, layered_block, normalize, random_block,
    };
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The Gram kernel as it was first written (one row at a time, `u` accumulators):
    /// the specification the faster kernels must reproduce bit for bit.
    fn gram_reference(m: &SparseBlock, x: &[f64], bs: usize, u: usize, fma: bool) -> Vec<f64> {
        let f = |a: f64, b: f64, c: f64| if fma { a.mul_add(b, c) } else { a * b + c };
        let mut out = vec![0.0; x.len()];
        for r in 0..m.nrows {
            let (lo, hi) = (m.indptr[r], m.indptr[r + 1]);
            let mut acc = vec![vec![0.0f64; bs]; u];
            let full = (hi - lo) / u * u;
            for e in (lo..lo + full).step_by(u) {
                for q in 0..u {
                    let (j, a) = (m.indices[e + q] as usize, m.data[e + q]);
                    for c in 0..bs {
                        acc[q][c] = f(a, x[j * bs + c], acc[q][c]);
                    }
                }
            }
            for e in lo + full..hi {
                let (j, a) = (m.indices[e] as usize, m.data[e]);
                for c in 0..bs {
                    acc[0][c] = f(a, x[j * bs + c], acc[0][c]);
                }
            }
            let mut t = acc[0].clone();
            for q in 1..u {
                for c in 0..bs {
                    t[c] += acc[q][c];
                }
            }
            for e in lo..hi {
                let (j, a) = (m.indices[e] as usize, m.data[e]);
                for c in 0..bs {
                    out[j * bs + c] = f(a, t[c], out[j * bs + c]);
                }
            }
        }
        out
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// `op` applied to the `bs` interleaved vectors `x`, with or without fused multiply-adds.
    fn apply_op<G: Gram>(op: &G, x: &[f64], bs: usize, fma: bool) -> Vec<f64> {
        assert!(op.well_formed() && x.len() == op.dim() * bs);
        let mut got = vec![f64::NAN; x.len()];
        // SAFETY: checked just above.
        unsafe {
            match fma {
                true => op.apply::<true>(x, &mut got, bs),
                false => op.apply::<false>(x, &mut got, bs),
            }
        }
        got
    }

    #[test]
    fn gram_kernels_are_bit_identical_to_the_row_by_row_kernel() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // (block size, accumulators) of gram_apply_dispatch
        let tiers = [(1, 4), (2, 2), (3, 1), (4, 1), (6, 1), (8, 1), (5, 0)];
        // dense rows (the interleaved kernel, same columns), long rows of mixed
        // lengths (interleaved, row by row updates), short rows, with signed zeros
        let dense = random_block(37, 41, 1.0, 1);
        let long = random_block(53, 90, 0.5, 2);
        let short = random_block(60, 30, 0.1, 3);
        // the dense block's groups share their columns, the long one's do not
        assert!(shared_columns(&dense).iter().all(|&s| s));
        assert!(!shared_columns(&long).contains(&true));
        // an incidence matrix (edges u < v): its kernel against the row-by-row kernel on
        // the same matrix as a block (with a signed zero among the weights)
        let n_inc = 40;
        let inv: Vec<f64> = (0..n_inc).map(|_| rng.random::<f64>() + 0.1).collect();
        let (mut indptr, mut cols, mut h) = (vec![0], vec![], vec![]);
        for uu in 0..n_inc as u32 {
            for vv in uu + 1..n_inc as u32 {
                if rng.random::<f64>() < 0.3 {
                    cols.push(vv);
                    h.push(if rng.random::<f64>() < 0.05 {
                        -0.0
                    } else {
                        rng.random::<f64>()
                    });
                }
            }
            indptr.push(cols.len());
        }
        let g = Incidence::new(n_inc, indptr, cols, h, inv);
        let inc = g.to_block();
        // a layered incidence (runs of nodes with the same larger neighbours, of
        // lengths that are and are not multiples of the kernel's group, a skip, an
        // empty node, a node with one neighbour less)
        let widths = [5usize, 8, 3, 6, 10, 19];
        let starts: Vec<usize> = widths
            .iter()
            .scan(0, |a, &w| {
                *a += w;
                Some(*a - w)
            })
            .collect();
        let n_lay: usize = widths.iter().sum();
        let inv: Vec<f64> = (0..n_lay).map(|_| rng.random::<f64>() + 0.1).collect();
        let (mut indptr, mut cols, mut h) = (vec![0], vec![], vec![]);
        for (l, &w) in widths.iter().enumerate() {
            for i in 0..w {
                let mut nb: Vec<u32> = Vec::new();
                if l + 1 < widths.len() && !(l == 1 && i == 2) {
                    nb.extend((starts[l + 1]..starts[l + 1] + widths[l + 1]).map(|v| v as u32));
                }
                if l == 0 {
                    nb.extend((starts[2]..starts[2] + widths[2]).map(|v| v as u32));
                }
                if l == 1 && i == 6 {
                    nb.pop();
                }
                for v in nb {
                    cols.push(v);
                    h.push(rng.random::<f64>());
                }
                indptr.push(cols.len());
            }
        }
        let lay = Incidence::new(n_lay, indptr, cols, h, inv);
        assert!(lay.well_formed());
        // runs of eight (the widest group) and of four to seven nodes occur
        assert!(lay.runs.contains(&10) && lay.runs.contains(&6));
        let lay_block = lay.to_block();
        for m in [&dense, &long, &short, &inc, &lay_block] {
            for &(bs, u) in &tiers {
                let mut x: Vec<f64> = (0..m.ncols * bs)
                    .map(|_| rng.random::<f64>() - 0.5)
                    .collect();
                x[0] = -0.0;
                for fma in [false, true] {
                    // the fallback for other block sizes never fuses
                    let want = gram_reference(m, &x, bs, u.max(1), fma && u > 0);
                    let got = apply_op(m, &x, bs, fma);
                    assert_eq!(bits(&got), bits(&want), "generic bs {bs} fma {fma}");
                    // with the groups' shared columns found beforehand
                    let got = apply_op(&SharedColumns::new(m), &x, bs, fma);
                    assert_eq!(bits(&got), bits(&want), "shared columns bs {bs} fma {fma}");
                    let op = if std::ptr::eq(m, &inc) {
                        Some(&g)
                    } else if std::ptr::eq(m, &lay_block) {
                        Some(&lay)
                    } else {
                        None
                    };
                    if let (Some(op), true) = (op, u > 0) {
                        let got = apply_op(op, &x, bs, fma);
                        assert_eq!(bits(&got), bits(&want), "incidence bs {bs} fma {fma}");
                    }
                }
            }
        }
    }

    /// Embedding then k-means with the pipeline's settings (as `null::spectral_labels`).
    fn spectral_labels<R: Rng + ?Sized>(
        b: &SparseBlock,
        d_even: &[f64],
        d_odd: &[f64],
        k: usize,
        n_init: usize,
        rng: &mut R,
    ) -> Result<Vec<u32>> {
        let (emb, _) = embed(b, d_even, d_odd, k, rng)?;
        let n = b.nrows + b.ncols;
        let (max_iter, tol) = (crate::null::KMEANS_MAX_ITER, crate::null::KMEANS_TOL);
        Ok(kmeans(&emb, n, k, k, n_init, max_iter, tol, rng)?.labels)
    }

    /// ‖P − P̃‖_max for the projectors on the first `k` columns of two n × ? bases.
    fn projector_diff(a: &[f64], ka: usize, b: MatRef<'_, f64>, k: usize, n: usize) -> f64 {
        let mut worst: f64 = 0.0;
        for i in 0..n {
            for j in 0..n {
                let pa: f64 = (0..k).map(|c| a[i * ka + c] * a[j * ka + c]).sum();
                let pb: f64 = (0..k).map(|c| b[(i, c)] * b[(j, c)]).sum();
                worst = worst.max((pa - pb).abs());
            }
        }
        worst
    }

    fn compare_dense(b: &SparseBlock, k: usize, seed: u64) {
        let mut rng = rng_for(seed, CLUSTER, 0);
        let svd = top_singular(b, k, &mut rng).unwrap();
        let dense = to_dense(b).thin_svd().unwrap();
        for j in 0..k {
            let (a, e) = (svd.s[j], dense.S()[j]);
            assert!((a - e).abs() <= 1e-9 * dense.S()[0], "σ_{j}: {a} vs {e}");
        }
        assert!(svd.s.windows(2).all(|w| w[0] >= w[1]));
        let (res, orth) = check_triplets(b, &svd, k);
        assert!(res < 1e-8, "residual {res:e}");
        assert!(orth < 1e-10, "orthonormality {orth:e}");
        // subspaces, where σ_k is separated from σ_{k+1}
        let gap = (dense.S()[k - 1] - dense.S()[k]) / dense.S()[0];
        if gap > 1e-3 {
            let du = projector_diff(&svd.u, k, dense.U(), k, b.nrows);
            let dv = projector_diff(&svd.v, k, dense.V(), k, b.ncols);
            assert!(
                du < 1e-6 && dv < 1e-6,
                "projectors differ by {du:e} / {dv:e} (gap {gap:e})"
            );
        }
    }

    #[test]
    fn top_singular_matches_dense_svd_on_random_blocks() {
        // the Lanczos path (both orientations) and the dense path
        compare_dense(&random_block(300, 160, 0.05, 1), 12, 1);
        compare_dense(&random_block(150, 260, 0.05, 2), 12, 2);
        compare_dense(&random_block(200, 200, 0.2, 3), 5, 3);
        compare_dense(&random_block(200, 190, 0.02, 4), 1, 4);
        compare_dense(&random_block(40, 30, 0.3, 5), 7, 5);
        let (b, _, _) = layered_block(&[60, 40, 40, 40, 10], 0.2, 6);
        compare_dense(&b, 12, 6);
    }

    #[test]
    fn degenerate_top_singular_values_of_disjoint_modules() {
        // four modules, two large enough for the Lanczos path: σ = 1 four times
        let parts: Vec<SparseBlock> = [
            (150, 120, 0.08),
            (40, 30, 0.3),
            (170, 140, 0.08),
            (25, 35, 0.3),
        ]
        .iter()
        .enumerate()
        .map(|(i, &(r, c, p))| normalize(&random_block(r, c, p, 10 + i as u64)).0)
        .collect();
        let b = block_diag(&parts);
        assert_eq!(components(&b).0, 4);
        let mut rng = rng_for(1, CLUSTER, 0);
        let svd = top_singular(&b, 12, &mut rng).unwrap();
        for j in 0..4 {
            assert!((svd.s[j] - 1.0).abs() < 1e-12, "σ_{j} = {}", svd.s[j]);
        }
        assert!(svd.s[4] < 1.0 - 1e-3);
        compare_dense(&b, 4, 1);
        compare_dense(&b, 12, 2);
        // identical copies: every σ has multiplicity 3
        let same = normalize(&random_block(120, 100, 0.1, 20)).0;
        let b = block_diag(&[same.clone(), same.clone(), same]);
        let svd = top_singular(&b, 12, &mut rng).unwrap();
        let (res, orth) = check_triplets(&b, &svd, 12);
        assert!(res < 1e-8 && orth < 1e-10, "{res:e} {orth:e}");
        for j in 0..4 {
            assert!((svd.s[3 * j] - svd.s[3 * j + 2]).abs() < 1e-9);
        }
        compare_dense(&b, 12, 3);
    }

    #[test]
    fn block_lanczos_resolves_a_double_singular_value_in_a_connected_block() {
        // dense 180 × 150 block (connected) with σ = (3, 3, 2.5, 2, …)
        let (m, n) = (180, 150);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let g1 = Mat::<f64>::from_fn(m, m, |_, _| rng.sample(StandardNormal));
        let g2 = Mat::<f64>::from_fn(n, n, |_, _| rng.sample(StandardNormal));
        let q1 = g1.qr().compute_Q();
        let q2 = g2.qr().compute_Q();
        let s: Vec<f64> = (0..n)
            .map(|i| {
                if i < 2 {
                    3.0
                } else {
                    2.5 * 0.97f64.powi(i as i32 - 2)
                }
            })
            .collect();
        let a = Mat::<f64>::from_fn(m, n, |i, j| {
            (0..n).map(|c| q1[(i, c)] * s[c] * q2[(j, c)]).sum()
        });
        let mut b = SparseBlock {
            nrows: m,
            ncols: n,
            indptr: vec![0],
            indices: vec![],
            data: vec![],
        };
        for i in 0..m {
            for j in 0..n {
                b.indices.push(j as u32);
                b.data.push(a[(i, j)]);
            }
            b.indptr.push(b.indices.len());
        }
        let mut rng = rng_for(3, CLUSTER, 0);
        let svd = top_singular(&b, 6, &mut rng).unwrap();
        assert!(
            (svd.s[0] - 3.0).abs() < 1e-9 && (svd.s[1] - 3.0).abs() < 1e-9,
            "{:?}",
            svd.s
        );
        assert!((svd.s[2] - 2.5).abs() < 1e-9);
        let (res, orth) = check_triplets(&b, &svd, 6);
        assert!(res < 1e-8 && orth < 1e-10, "{res:e} {orth:e}");
    }

    #[test]
    fn rank_deficient_and_isolated_nodes_fall_back_to_dense() {
        // rank 3 block, k = 5: zero singular values still come with orthonormal vectors
        let (m, n) = (120, 100);
        let mut b = SparseBlock {
            nrows: m,
            ncols: n,
            indptr: vec![0],
            indices: vec![],
            data: vec![],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let x: Vec<Vec<f64>> = (0..3)
            .map(|_| (0..m).map(|_| rng.random::<f64>()).collect())
            .collect();
        let y: Vec<Vec<f64>> = (0..3)
            .map(|_| (0..n).map(|_| rng.random::<f64>()).collect())
            .collect();
        for i in 0..m {
            for j in 0..n {
                b.indices.push(j as u32);
                b.data.push((0..3).map(|c| x[c][i] * y[c][j]).sum());
            }
            b.indptr.push(b.indices.len());
        }
        let mut rng = rng_for(1, CLUSTER, 0);
        let svd = top_singular(&b, 5, &mut rng).unwrap();
        assert!(svd.s[3] < 1e-10 * svd.s[0]);
        let (res, orth) = check_triplets(&b, &svd, 5);
        assert!(res < 1e-8 && orth < 1e-10, "{res:e} {orth:e}");
        // an all-zero row and column and a small component
        let mut a = random_block(100, 90, 0.1, 4);
        a = block_diag(&[
            a,
            SparseBlock {
                nrows: 1,
                ncols: 1,
                indptr: vec![0, 0],
                indices: vec![],
                data: vec![],
            },
        ]);
        let svd = top_singular(&a, 10, &mut rng).unwrap();
        let (res, orth) = check_triplets(&a, &svd, 10);
        assert!(res < 1e-8 && orth < 1e-10, "{res:e} {orth:e}");
        compare_dense(&a, 10, 5);
        // the zero matrix
        let z = SparseBlock {
            nrows: 5,
            ncols: 4,
            indptr: vec![0; 6],
            indices: vec![],
            data: vec![],
        };
        let svd = top_singular(&z, 4, &mut rng).unwrap();
        assert!(svd.s.iter().all(|&s| s == 0.0));
        assert!(
            check_triplets(
                &z,
                &Svd {
                    s: vec![1.0; 4],
                    ..svd.clone()
                },
                4
            )
            .1 < 1e-12
        );
    }

    #[test]
    fn top_singular_is_deterministic_and_validates() {
        let (b, _, _) = layered_block(&[100, 80, 80, 10], 0.15, 3);
        let a = top_singular(&b, 8, &mut rng_for(5, CLUSTER, 2)).unwrap();
        let c = top_singular(&b, 8, &mut rng_for(5, CLUSTER, 2)).unwrap();
        assert_eq!(a.s, c.s);
        assert_eq!(a.u, c.u);
        assert_eq!(a.v, c.v);
        let mut rng = rng_for(0, CLUSTER, 0);
        assert!(matches!(
            top_singular(&b, 0, &mut rng),
            Err(Error::Value(_))
        ));
        assert!(matches!(
            top_singular(&b, 91, &mut rng),
            Err(Error::Value(_))
        ));
        let mut bad = b.clone();
        bad.indices[0] = 10_000;
        assert!(matches!(
            top_singular(&bad, 3, &mut rng),
            Err(Error::Shape(_))
        ));
        let mut bad = b.clone();
        bad.indptr.pop();
        assert!(matches!(
            top_singular(&bad, 3, &mut rng),
            Err(Error::Shape(_))
        ));
        let mut bad = b.clone();
        bad.data[3] = f64::NAN;
        assert!(matches!(
            top_singular(&bad, 3, &mut rng),
            Err(Error::Value(_))
        ));
    }

    #[test]
    fn every_lanczos_block_size_matches_the_dense_eigenvalues() {
        let (b, _, _) = layered_block(&[300, 200, 200, 10], 0.08, 12);
        let dense = to_dense(&b).thin_svd().unwrap();
        for block in [1usize, 2, 3, 4, 5, 6, 8] {
            let opts = LanczosOpts {
                block,
                max_dim: 64,
                tol: TOL,
                max_restarts: MAX_RESTARTS,
            };
            let (theta, x, _) =
                lanczos_gram(&b, 10, &opts, &mut rng_for(1, CLUSTER, block as u64)).unwrap();
            for j in 0..10 {
                let e = (theta[j].sqrt() - dense.S()[j]).abs();
                assert!(e < 1e-10, "block {block}: σ_{j} off by {e:e}");
            }
            for i in 0..10 {
                for j in 0..10 {
                    let d: f64 = (0..b.ncols).map(|r| x[(r, i)] * x[(r, j)]).sum();
                    assert!((d - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
                }
            }
        }
        // the settings for large blocks
        let opts = LanczosOpts::for_problem(b.ncols, 12, LARGE_NNZ);
        assert_eq!(opts.block, 8);
        let (theta, _, _) = lanczos_gram(&b, 12, &opts, &mut rng_for(2, CLUSTER, 0)).unwrap();
        for j in 0..12 {
            assert!((theta[j].sqrt() - dense.S()[j]).abs() < 1e-10);
        }
    }

    #[test]
    fn lanczos_reports_non_convergence() {
        let (b, _, _) = layered_block(&[200, 150, 150, 10], 0.1, 4);
        let opts = LanczosOpts {
            block: 2,
            max_dim: 30,
            tol: 1e-14,
            max_restarts: 2,
        };
        let r = lanczos_gram(&b, 12, &opts, &mut rng_for(1, CLUSTER, 0));
        assert!(matches!(r, Err(Error::Numerical(_))));
    }

    /// The dense normalized adjacency `D^-1/2 A D^-1/2` of the bipartite graph.
    fn dense_normalized_adjacency(b: &SparseBlock) -> Mat<f64> {
        let n = b.nrows + b.ncols;
        let mut m = Mat::<f64>::zeros(n, n);
        for r in 0..b.nrows {
            for e in b.indptr[r]..b.indptr[r + 1] {
                let c = b.nrows + b.indices[e] as usize;
                m[(r, c)] += b.data[e];
                m[(c, r)] += b.data[e];
            }
        }
        m
    }

    fn check_embedding(widths: &[usize], density: f64, k: usize, seed: u64) {
        let (b, de, dd) = layered_block(widths, density, seed);
        let (emb, s) = embed(&b, &de, &dd, k, &mut rng_for(seed, CLUSTER, 0)).unwrap();
        let n = b.nrows + b.ncols;
        let evd = dense_normalized_adjacency(&b)
            .self_adjoint_eigen(Side::Lower)
            .unwrap();
        let lam: Vec<f64> = (0..n).rev().map(|i| evd.S()[i]).collect();
        for j in 0..k {
            assert!(
                (s[j] - lam[j]).abs() < 1e-9,
                "eigenvalue {j}: {} vs {}",
                s[j],
                lam[j]
            );
        }
        // undo the degree scaling: rows · sqrt(deg) are orthonormal eigenvectors
        let deg: Vec<f64> = de.iter().chain(&dd).copied().collect();
        let x: Vec<f64> = (0..n * k).map(|i| emb[i] * deg[i / k].sqrt()).collect();
        let top = Mat::<f64>::from_fn(n, k, |i, j| evd.U()[(i, n - 1 - j)]);
        let gap = lam[k - 1] - lam[k];
        if gap > 1e-3 {
            let diff = projector_diff(&x, k, top.as_ref(), k, n);
            assert!(diff < 1e-6, "embedding subspace differs by {diff:e}");
        }
        for i in 0..k {
            for j in 0..k {
                let d: f64 = (0..n).map(|r| x[r * k + i] * x[r * k + j]).sum();
                assert!((d - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn embedding_matches_dense_eigendecomposition() {
        check_embedding(&[30, 20, 20, 10], 0.3, 4, 1); // dense path
        check_embedding(&[150, 100, 100, 80, 10], 0.1, 12, 2); // Lanczos path
    }

    #[test]
    fn embed_validates_degrees_and_labels_cover_all_nodes() {
        let (b, de, dd) = layered_block(&[60, 40, 40, 10], 0.2, 8);
        let mut rng = rng_for(1, CLUSTER, 0);
        assert!(matches!(
            embed(&b, &de[1..], &dd, 3, &mut rng),
            Err(Error::Shape(_))
        ));
        let mut bad = de.clone();
        bad[0] = 0.0;
        assert!(matches!(
            embed(&b, &bad, &dd, 3, &mut rng),
            Err(Error::Value(_))
        ));
        let labels = spectral_labels(&b, &de, &dd, 4, 5, &mut rng).unwrap();
        assert_eq!(labels.len(), b.nrows + b.ncols);
        assert!(labels.iter().all(|&l| l < 4));
    }

    #[test]
    fn spectral_labels_recover_planted_modules() {
        // three disjoint layered modules, weakly connected by a few light edges
        let mut parts = Vec::new();
        for s in 0..3 {
            let mut rng = ChaCha8Rng::seed_from_u64(s);
            let _ = rng.random::<u8>();
            parts.push(random_block(50, 40, 0.3, 100 + s));
        }
        let mut a = block_diag(&parts);
        // light cross edges: replace one weight per module boundary by a tiny one
        for r in [0usize, 50, 100] {
            let e = a.indptr[r];
            a.indices[e] = ((a.indices[e] as usize + 40) % 120) as u32;
            a.data[e] = 1e-3;
            let (lo, hi) = (a.indptr[r], a.indptr[r + 1]);
            let mut row: Vec<(u32, f64)> = (lo..hi).map(|e| (a.indices[e], a.data[e])).collect();
            row.sort_by_key(|x| x.0);
            for (i, (c, w)) in row.into_iter().enumerate() {
                a.indices[lo + i] = c;
                a.data[lo + i] = w;
            }
        }
        let (b, de, dd) = normalize(&a);
        let labels = spectral_labels(&b, &de, &dd, 3, 10, &mut rng_for(2, CLUSTER, 0)).unwrap();
        let module = |i: usize| if i < 150 { i / 50 } else { (i - 150) / 40 };
        for i in 0..270 {
            for j in 0..270 {
                assert_eq!(
                    labels[i] == labels[j],
                    module(i) == module(j),
                    "nodes {i}, {j}"
                );
            }
        }
    }

    /// Many null-like networks (several sizes, densities, k): the Lanczos
    /// result against the dense SVD. `cargo test --release stress_top_singular -- --ignored`
    #[test]
    #[ignore]
    fn stress_top_singular() {
        let mut worst_s: f64 = 0.0;
        let mut worst_res: f64 = 0.0;
        let mut count = 0;
        for seed in 0..40u64 {
            let density = [0.03, 0.05, 0.1, 0.3][seed as usize % 4];
            let widths: &[usize] = match seed % 3 {
                0 => &[784, 256, 256, 256, 256, 10],
                1 => &[300, 200, 200, 200, 10],
                _ => &[120, 400, 100, 60],
            };
            let (b, _, _) = layered_block(widths, density, 1000 + seed);
            let dense = to_dense(&b).thin_svd().unwrap();
            for k in [2usize, 4, 7, 10, 12, 20] {
                let svd = top_singular(&b, k, &mut rng_for(seed, CLUSTER, k as u64)).unwrap();
                let (res, orth) = check_triplets(&b, &svd, k);
                assert!(orth < 1e-10, "seed {seed} k {k}: orthonormality {orth:e}");
                assert!(res < 1e-8, "seed {seed} k {k}: residual {res:e}");
                for j in 0..k {
                    let e = (svd.s[j] - dense.S()[j]).abs();
                    assert!(e < 1e-10, "seed {seed} k {k}: σ_{j} off by {e:e}");
                    worst_s = worst_s.max(e);
                }
                worst_res = worst_res.max(res);
                count += 1;
            }
        }
        println!("{count} problems: worst |σ − σ_dense| {worst_s:.1e}, worst relative residual {worst_res:.1e}");
    }

    /// The tiled transpose equals the plain one exactly: dense and sparse
    /// blocks, empty rows and columns, widths around the tile, and unsorted
    /// rows with repeated columns (which take the plain path).
    #[test]
    fn tiled_transpose_equals_the_plain_one() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let same = |a: &SparseBlock, b: &SparseBlock| {
            a.nrows == b.nrows
                && a.ncols == b.ncols
                && a.indptr == b.indptr
                && a.indices == b.indices
                && a.data
                    .iter()
                    .map(|v| v.to_bits())
                    .eq(b.data.iter().map(|v| v.to_bits()))
        };
        for &(nrows, ncols, density, shuffle) in &[
            (40, 2 * TRANSPOSE_TILE + 7, 1.0, false),
            (300, 3 * TRANSPOSE_TILE, 0.9, false),
            (64, TRANSPOSE_TILE + 1, 0.5, false),
            (10, 5, 1.0, false),
            (50, 4 * TRANSPOSE_TILE, 0.02, false),
            (40, 2 * TRANSPOSE_TILE + 7, 1.0, true),
        ] {
            let mut indptr = vec![0usize];
            let mut indices = Vec::new();
            for r in 0..nrows {
                let mut row: Vec<u32> = (0..ncols as u32)
                    .filter(|_| r % 7 != 3 && rng.random::<f64>() < density)
                    .collect();
                if shuffle && row.len() > 2 {
                    let last = row.len() - 1;
                    row.swap(0, last);
                    let c = row[1];
                    row.insert(2, c);
                }
                indices.extend_from_slice(&row);
                indptr.push(indices.len());
            }
            let data: Vec<f64> = (0..indices.len())
                .map(|_| rng.random::<f64>() - 0.5)
                .collect();
            let b = SparseBlock {
                nrows,
                ncols,
                indptr,
                indices,
                data,
            };
            assert!(
                same(&transpose(&b), &transpose_with(&b, false)),
                "{nrows} x {ncols}, {density}"
            );
            let back = transpose(&transpose(&b));
            if !shuffle {
                assert!(same(&back, &b));
            }
        }
    }

    /// The blocked Gram–Schmidt pass equals the column-by-column pass bit for
    /// bit: every block size (the many-dot kernels and the fallback), basis
    /// sizes with and without a remainder of four, lengths with tails of the
    /// dot products and of the update tiles, with and without fused operations.
    #[test]
    fn blocked_gram_schmidt_equals_column_by_column() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for &n in &[5usize, 64, CGS_TILE + 13, 3 * CGS_TILE] {
            for &dim in &[1usize, 4, 7, 13] {
                for bs in 1..=9 {
                    let v: Vec<f64> = (0..n * dim).map(|_| rng.random::<f64>() - 0.5).collect();
                    let z0: Vec<f64> = (0..n * bs).map(|_| rng.random::<f64>() - 0.5).collect();
                    for fma in [false, true] {
                        let (mut za, mut zb) = (z0.clone(), z0.clone());
                        let (mut ha, mut hb) = (vec![0.0; dim * bs], vec![0.0; dim * bs]);
                        if fma {
                            cgs_pass::<true>(&v, n, dim, &mut za, bs, &mut ha);
                            cgs_pass_by_column::<true>(&v, n, dim, &mut zb, bs, &mut hb);
                        } else {
                            cgs_pass::<false>(&v, n, dim, &mut za, bs, &mut ha);
                            cgs_pass_by_column::<false>(&v, n, dim, &mut zb, bs, &mut hb);
                        }
                        let what = format!("n {n} dim {dim} bs {bs} fma {fma}");
                        assert_eq!(bits(&ha), bits(&hb), "coefficients: {what}");
                        assert_eq!(bits(&za), bits(&zb), "vectors: {what}");
                    }
                }
            }
        }
    }
}
