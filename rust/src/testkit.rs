//! Test and benchmark support: random layered networks and a timer.
//!
//! Used by the unit tests and by the benchmarks in `rust/benches/`; not part
//! of modcut's API.

#![allow(clippy::needless_range_loop)]

use crate::graph::SparseBlock;
use crate::spectral::{transpose, Svd};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A random sparse block with entries |N(0,1)| at the given density.
pub fn random_block(nrows: usize, ncols: usize, density: f64, seed: u64) -> SparseBlock {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut indptr = vec![0];
    let mut indices = Vec::new();
    let mut data = Vec::new();
    for _ in 0..nrows {
        for c in 0..ncols {
            if rng.random::<f64>() < density {
                indices.push(c as u32);
                data.push(rng.sample::<f64, _>(StandardNormal).abs());
            }
        }
        indptr.push(indices.len());
    }
    SparseBlock {
        nrows,
        ncols,
        indptr,
        indices,
        data,
    }
}

/// Normalize a block of absolute weights: `D_e^-1/2 A D_o^-1/2` and the
/// degrees (rows, columns). Panics on isolated nodes.
pub fn normalize(a: &SparseBlock) -> (SparseBlock, Vec<f64>, Vec<f64>) {
    let mut de = vec![0.0; a.nrows];
    let mut dd = vec![0.0; a.ncols];
    for r in 0..a.nrows {
        for e in a.indptr[r]..a.indptr[r + 1] {
            de[r] += a.data[e];
            dd[a.indices[e] as usize] += a.data[e];
        }
    }
    assert!(de.iter().chain(&dd).all(|&d| d > 0.0), "isolated node");
    let mut b = a.clone();
    for r in 0..a.nrows {
        for e in a.indptr[r]..a.indptr[r + 1] {
            b.data[e] /= (de[r] * dd[a.indices[e] as usize]).sqrt();
        }
    }
    (b, de, dd)
}

/// The normalized block of a random layered network with the given widths
/// and fraction of non-zero weights (even layers are the rows).
pub fn layered_block(
    widths: &[usize],
    density: f64,
    seed: u64,
) -> (SparseBlock, Vec<f64>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut off = vec![0usize; widths.len()];
    let (mut ne, mut no) = (0, 0);
    for (l, &w) in widths.iter().enumerate() {
        if l % 2 == 0 {
            off[l] = ne;
            ne += w;
        } else {
            off[l] = no;
            no += w;
        }
    }
    let mut rows: Vec<Vec<(u32, f64)>> = vec![Vec::new(); ne];
    for l in 0..widths.len() - 1 {
        for i in 0..widths[l] {
            for j in 0..widths[l + 1] {
                if rng.random::<f64>() < density {
                    let w = rng.sample::<f64, _>(StandardNormal).abs() + 1e-3;
                    let (r, c) = if l % 2 == 0 {
                        (off[l] + i, off[l + 1] + j)
                    } else {
                        (off[l + 1] + j, off[l] + i)
                    };
                    rows[r].push((c as u32, w));
                }
            }
        }
    }
    let mut a = SparseBlock {
        nrows: ne,
        ncols: no,
        indptr: vec![0],
        indices: vec![],
        data: vec![],
    };
    for mut row in rows {
        row.sort_by_key(|e| e.0);
        for (c, w) in row {
            a.indices.push(c);
            a.data.push(w);
        }
        a.indptr.push(a.indices.len());
    }
    normalize(&drop_isolated(&a))
}

/// Remove empty rows and columns (isolated nodes), as the pipeline does.
pub fn drop_isolated(a: &SparseBlock) -> SparseBlock {
    let mut col_used = vec![false; a.ncols];
    for &c in &a.indices {
        col_used[c as usize] = true;
    }
    let mut new_col = vec![0u32; a.ncols];
    let mut ncols = 0;
    for c in 0..a.ncols {
        if col_used[c] {
            new_col[c] = ncols as u32;
            ncols += 1;
        }
    }
    let mut out = SparseBlock {
        nrows: 0,
        ncols,
        indptr: vec![0],
        indices: vec![],
        data: vec![],
    };
    for r in 0..a.nrows {
        let (lo, hi) = (a.indptr[r], a.indptr[r + 1]);
        if lo == hi {
            continue;
        }
        for e in lo..hi {
            out.indices.push(new_col[a.indices[e] as usize]);
            out.data.push(a.data[e]);
        }
        out.indptr.push(out.indices.len());
        out.nrows += 1;
    }
    out
}

/// Block-diagonal stacking of blocks.
pub fn block_diag(blocks: &[SparseBlock]) -> SparseBlock {
    let mut out = SparseBlock {
        nrows: 0,
        ncols: 0,
        indptr: vec![0],
        indices: vec![],
        data: vec![],
    };
    for b in blocks {
        for r in 0..b.nrows {
            for e in b.indptr[r]..b.indptr[r + 1] {
                out.indices.push(b.indices[e] + out.ncols as u32);
                out.data.push(b.data[e]);
            }
            out.indptr.push(out.indices.len());
        }
        out.nrows += b.nrows;
        out.ncols += b.ncols;
    }
    out
}

/// Minimum wall time over `reps` runs (robust on a shared machine).
pub fn time_ms<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut out = f();
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t0 = std::time::Instant::now();
        out = f();
        best = best.min(t0.elapsed().as_secs_f64() * 1e3);
    }
    (best, out)
}

fn matvec(b: &SparseBlock, x: &[f64]) -> Vec<f64> {
    (0..b.nrows)
        .map(|r| {
            (b.indptr[r]..b.indptr[r + 1])
                .map(|e| b.data[e] * x[b.indices[e] as usize])
                .sum()
        })
        .collect()
}

fn col(m: &[f64], n: usize, k: usize, j: usize) -> Vec<f64> {
    (0..n).map(|r| m[r * k + j]).collect()
}

/// Max over triplets of the residuals relative to σ_1, and the max
/// deviation of UᵀU and VᵀV from the identity.
pub fn check_triplets(b: &SparseBlock, svd: &Svd, k: usize) -> (f64, f64) {
    let bt = transpose(b);
    let s1 = svd.s[0];
    let mut res: f64 = 0.0;
    for j in 0..k {
        let u = col(&svd.u, b.nrows, k, j);
        let v = col(&svd.v, b.ncols, k, j);
        let bv = matvec(b, &v);
        let btu = matvec(&bt, &u);
        let r1: f64 = bv
            .iter()
            .zip(&u)
            .map(|(x, y)| (x - svd.s[j] * y).powi(2))
            .sum::<f64>()
            .sqrt();
        let r2: f64 = btu
            .iter()
            .zip(&v)
            .map(|(x, y)| (x - svd.s[j] * y).powi(2))
            .sum::<f64>()
            .sqrt();
        res = res.max(r1 / s1).max(r2 / s1);
    }
    let mut orth: f64 = 0.0;
    for (m, n) in [(&svd.u, b.nrows), (&svd.v, b.ncols)] {
        for i in 0..k {
            for j in 0..k {
                let d: f64 = (0..n).map(|r| m[r * k + i] * m[r * k + j]).sum();
                orth = orth.max((d - if i == j { 1.0 } else { 0.0 }).abs());
            }
        }
    }
    (res, orth)
}

/// `n × d` row-major standard normal points.
pub fn gaussian(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * d).map(|_| rng.sample(StandardNormal)).collect()
}

/// A residual network 0 → 1 → 2 plus the skip 0 → 2 (not bipartite), groups
/// of `n` neurons made of `k` planted modules (random positive weights inside
/// a module, none between modules).
pub fn planted_residual(n: usize, k: usize, seed: u64) -> crate::net::Network {
    use crate::net::{CsrLayer, EdgeGroup, Network};
    let mut rng = crate::rng::rng_for(seed, 99, 0);
    let mut edge = |src: usize, dst: usize| {
        let vals: Vec<f64> = (0..n * n)
            .map(|p| {
                if (p / n) * k / n == (p % n) * k / n {
                    rng.random_range(0.5..1.5)
                } else {
                    0.0
                }
            })
            .collect();
        EdgeGroup {
            src,
            dst,
            layer: CsrLayer::from_dense(n, n, &vals).unwrap(),
        }
    };
    let edges = vec![edge(0, 1), edge(1, 2), edge(0, 2)];
    Network::new(vec![n; 3], edges).unwrap()
}
