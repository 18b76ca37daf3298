//! The spectral embedding of a network (method.md §2).
//!
//! When the group graph is 2-colourable ([`colouring`]; a chain always is) the
//! graph is bipartite and [`embedding`] takes the SVD shortcut of
//! [`spectral::embed`] on the normalized even-to-odd block
//! ([`crate::graph::Bipartite`]). Otherwise, and for a bipartite network
//! other than a chain whose block is too small for the truncated SVD
//! (`k ≥ min(#even, #odd)`), it computes the top eigenpairs of the whole
//! normalized adjacency `N = D^-1/2 A D^-1/2` with the seeded block Lanczos of
//! [`crate::spectral`] applied to the shifted operator `(I + N)/2 = MᵀM`, where
//! `M` is the normalized incidence matrix (one row per edge `{u, v}` with
//! entries `sqrt(w/2)/sqrt(d_u)` and `sqrt(w/2)/sqrt(d_v)`). The shift maps the
//! spectrum `[-1, 1]` to `[0, 1]` in order, so the largest eigenvalues of the
//! PSD operator are the largest algebraic ones of `N` (the large negative
//! eigenvalues of near-bipartite parts cannot crowd them out). Connected
//! components are solved one by one (λ = 1 once per component), small ones
//! densely. A chain too small for the truncated SVD is decomposed densely as a
//! whole (the former layered core's path, kept bit for bit).

use rand::Rng;

use crate::error::{Error, Result};
use crate::graph::{adjacency, bipartite_with, colouring, Bipartite, Graph};
use crate::net::Network;
use crate::spectral::{self, lanczos_incidence, Incidence, LanczosOpts, DENSE_MAX};

/// Spectral embedding of the non-isolated nodes of a network.
pub struct Embedding {
    /// Global node ids of the embedded rows.
    pub node_ids: Vec<usize>,
    /// Row-major `node_ids.len() × k` embedding (rows divided by sqrt(degree)).
    pub x: Vec<f64>,
    /// The k largest eigenvalues of D^-1/2 A D^-1/2, descending.
    pub eigenvalues: Vec<f64>,
}

fn check_k(k: usize, n_active: usize) -> Result<()> {
    if k == 0 || k > n_active {
        return Err(Error::Value(format!(
            "k={k} must be between 1 and the number of non-isolated neurons ({n_active})"
        )));
    }
    Ok(())
}

/// The spectral embedding of `net`'s non-isolated nodes, rows divided by
/// sqrt(degree): rows even colour then odd colour (ascending global ids within
/// each) on the bipartite paths, ascending global ids on the general path.
pub fn embedding<R: Rng + ?Sized>(net: &Network, k: usize, rng: &mut R) -> Result<Embedding> {
    if let Some(colour) = colouring(net) {
        let bp = bipartite_with(net, &colour)?;
        check_k(k, bp.even.len() + bp.odd.len())?;
        if k < bp.block.nrows.min(bp.block.ncols) {
            let d_even: Vec<f64> = bp.even.iter().map(|&u| bp.degree[u]).collect();
            let d_odd: Vec<f64> = bp.odd.iter().map(|&u| bp.degree[u]).collect();
            let (x, s) = spectral::embed(&bp.block, &d_even, &d_odd, k, rng)?;
            return Ok(Embedding {
                node_ids: bp.even.into_iter().chain(bp.odd).collect(),
                x,
                eigenvalues: s,
            });
        }
        if net.is_chain() {
            return dense_bipartite(&bp, k);
        }
    }
    general_embedding(net, k, rng)
}

/// Dense eigendecomposition of the whole normalized adjacency of the active
/// nodes of a chain too small for the truncated SVD (`k ≥ min(#even, #odd)`).
fn dense_bipartite(bp: &Bipartite, k: usize) -> Result<Embedding> {
    let m = bp.even.len();
    let n = m + bp.odd.len();
    let mut a = faer::Mat::<f64>::zeros(n, n);
    let b = &bp.block;
    for r in 0..b.nrows {
        for p in b.indptr[r]..b.indptr[r + 1] {
            let c = m + b.indices[p] as usize;
            a[(r, c)] = b.data[p];
            a[(c, r)] = b.data[p];
        }
    }
    let eig = a
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|e| Error::Numerical(format!("dense eigendecomposition failed: {e:?}")))?;
    let s = eig.S().column_vector();
    let u = eig.U();
    // eigenvalues come ascending; take the k largest, descending
    let cols: Vec<usize> = (0..n).rev().take(k).collect();
    let ids: Vec<usize> = bp.even.iter().chain(bp.odd.iter()).copied().collect();
    let mut x = vec![0.0; n * k];
    for (row, &node) in ids.iter().enumerate() {
        let scale = 1.0 / bp.degree[node].sqrt();
        for (j, &c) in cols.iter().enumerate() {
            x[row * k + j] = u[(row, c)] * scale;
        }
    }
    Ok(Embedding {
        node_ids: ids,
        x,
        eigenvalues: cols.iter().map(|&c| s[c]).collect(),
    })
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// Top `k` eigenpairs of one connected component's normalized adjacency
/// (local node order): eigenvalues descending, eigenvectors n_c × k column-major.
fn component_eigen<R: Rng + ?Sized>(
    adj: &Graph,
    inv: &[f64],
    nodes: &[usize],
    local: &[u32],
    k: usize,
    rng: &mut R,
) -> Result<(Vec<f64>, faer::Mat<f64>)> {
    let nc = nodes.len();
    let nnz: usize = nodes
        .iter()
        .map(|&u| adj.indptr[u + 1] - adj.indptr[u])
        .sum();
    let opts = LanczosOpts::for_problem(nc, k, nnz);
    if nc <= DENSE_MAX || nc < opts.max_dim + 3 * opts.block {
        let mut a = faer::Mat::<f64>::zeros(nc, nc);
        for (r, &u) in nodes.iter().enumerate() {
            for p in adj.indptr[u]..adj.indptr[u + 1] {
                let v = adj.indices[p] as usize;
                a[(r, local[v] as usize)] = adj.data[p] * inv[u] * inv[v];
            }
        }
        let eig = a
            .self_adjoint_eigen(faer::Side::Lower)
            .map_err(|e| Error::Numerical(format!("dense eigendecomposition failed: {e:?}")))?;
        let s = eig.S().column_vector();
        let u = eig.U();
        let cols: Vec<usize> = (0..nc).rev().take(k).collect();
        let vals = cols.iter().map(|&c| s[c]).collect();
        let vecs = faer::Mat::from_fn(nc, k, |r, j| u[(r, cols[j])]);
        return Ok((vals, vecs));
    }
    // normalized incidence M (one row per edge u < v): MᵀM = (I + N)/2, stored by the
    // upper adjacency (local ids follow global ids, so u < v locally too)
    let mut indptr = Vec::with_capacity(nc + 1);
    indptr.push(0);
    let mut cols = Vec::with_capacity(nnz / 2);
    let mut h = Vec::with_capacity(nnz / 2);
    for &u in nodes {
        for p in adj.indptr[u]..adj.indptr[u + 1] {
            let v = adj.indices[p] as usize;
            if v > u {
                cols.push(local[v]);
                h.push((0.5 * adj.data[p]).sqrt());
            }
        }
        indptr.push(cols.len());
    }
    let m = Incidence::new(nc, indptr, cols, h, nodes.iter().map(|&u| inv[u]).collect());
    let (theta, x, _) = lanczos_incidence(&m, k, &opts, rng)?;
    Ok((theta.iter().map(|&t| 2.0 * t - 1.0).collect(), x))
}

/// The embedding from the top eigenpairs of the whole normalized adjacency,
/// component by component (rows in ascending global id).
fn general_embedding<R: Rng + ?Sized>(net: &Network, k: usize, rng: &mut R) -> Result<Embedding> {
    let adj = adjacency(net);
    let deg = &adj.degree;
    let active: Vec<usize> = (0..adj.n).filter(|&u| deg[u] > 0.0).collect();
    check_k(k, active.len())?;
    let inv: Vec<f64> = deg
        .iter()
        .map(|&d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 })
        .collect();
    // connected components of the active nodes
    let mut parent: Vec<usize> = (0..adj.n).collect();
    for &u in &active {
        for p in adj.indptr[u]..adj.indptr[u + 1] {
            let v = adj.indices[p] as usize;
            // every edge is stored at both ends; one is enough (the components,
            // hence their order and contents below, do not depend on it)
            if v < u {
                continue;
            }
            let (a, b) = (find(&mut parent, u), find(&mut parent, v));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let mut comps: Vec<Vec<usize>> = Vec::new();
    let mut root_comp = vec![usize::MAX; adj.n];
    for &u in &active {
        let r = find(&mut parent, u);
        if root_comp[r] == usize::MAX {
            root_comp[r] = comps.len();
            comps.push(Vec::new());
        }
        comps[root_comp[r]].push(u);
    }
    let mut local = vec![0u32; adj.n];
    for nodes in &comps {
        for (i, &u) in nodes.iter().enumerate() {
            local[u] = i as u32;
        }
    }
    let mut solved = Vec::with_capacity(comps.len());
    for nodes in &comps {
        let kc = k.min(nodes.len());
        solved.push(component_eigen(&adj, &inv, nodes, &local, kc, rng)?);
    }
    let mut cand: Vec<(f64, usize, usize)> = Vec::new();
    for (ci, (vals, _)) in solved.iter().enumerate() {
        for (i, &l) in vals.iter().enumerate() {
            cand.push((l, ci, i));
        }
    }
    cand.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    cand.truncate(k);
    let rows = active.len();
    let mut row_of = vec![0usize; adj.n];
    for (r, &u) in active.iter().enumerate() {
        row_of[u] = r;
    }
    let mut x = vec![0.0; rows * k];
    for (j, &(_, ci, i)) in cand.iter().enumerate() {
        let vecs = &solved[ci].1;
        // sign: the largest-magnitude entry positive (scikit-learn's sign flip)
        let (mut best, mut sign) = (0.0f64, 1.0);
        for r in 0..vecs.nrows() {
            let v = vecs[(r, i)];
            if v.abs() > best {
                best = v.abs();
                sign = v.signum();
            }
        }
        for (r, &u) in comps[ci].iter().enumerate() {
            x[row_of[u] * k + j] = sign * vecs[(r, i)] * inv[u];
        }
    }
    Ok(Embedding {
        node_ids: active,
        x,
        eigenvalues: cand.iter().map(|c| c.0).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cut::ncut;
    use crate::null::{spectral_labels, NCUT_EPS};
    use crate::rng::{rng_for, CLUSTER};
    use crate::testkit::planted_residual;
    use rand::Rng;

    #[test]
    fn planted_modules_of_a_nonbipartite_net_are_recovered() {
        for n in [12, 120] {
            // 12: dense path; 120: Lanczos on the normalized incidence
            let k = 3;
            let g = planted_residual(n, k, 2);
            assert!(colouring(&g).is_none());
            let part = spectral_labels(&g, k, 10, &mut rng_for(0, CLUSTER, 0), false).unwrap();
            let truth: Vec<usize> = (0..3 * n).map(|u| (u % n) * k / n).collect();
            for a in 0..truth.len() {
                for b in 0..truth.len() {
                    assert_eq!(truth[a] == truth[b], part.labels[a] == part.labels[b]);
                }
            }
            assert!(ncut(&g, &part.labels, NCUT_EPS).unwrap().ncut < 1e-12);
            assert!(part.eigenvalues.iter().all(|&s| (s - 1.0).abs() < 1e-8));
        }
    }

    #[test]
    fn lanczos_and_dense_agree_on_the_spectrum() {
        // noisy (connected) residual net: the top-k eigenvalues from the Lanczos
        // path equal those of a dense eigendecomposition
        let n = 150;
        let mut g = planted_residual(n, 4, 3);
        let mut rng = rng_for(5, 99, 1);
        for eg in &mut g.edges {
            for w in eg.layer.data.iter_mut() {
                *w += rng.random_range(0.0..0.05);
            }
        }
        let k = 6;
        let emb = embedding(&g, k, &mut rng_for(0, CLUSTER, 0)).unwrap();
        let adj = adjacency(&g);
        let nn = adj.n;
        let inv: Vec<f64> = adj.degree.iter().map(|d| 1.0 / d.sqrt()).collect();
        let mut a = faer::Mat::<f64>::zeros(nn, nn);
        for u in 0..nn {
            for p in adj.indptr[u]..adj.indptr[u + 1] {
                let v = adj.indices[p] as usize;
                a[(u, v)] = adj.data[p] * inv[u] * inv[v];
            }
        }
        let eig = a.self_adjoint_eigen(faer::Side::Lower).unwrap();
        let s = eig.S().column_vector();
        for j in 0..k {
            assert!((emb.eigenvalues[j] - s[nn - 1 - j]).abs() < 1e-8);
        }
    }

    #[test]
    fn bipartite_group_network_takes_the_svd_shortcut() {
        // the residual net without its middle edge group (0 → 1, 0 → 2 and a
        // parallel 0 → 2): bipartite, not a chain; the SVD path and the general
        // (Lanczos / dense) path give the same spectrum
        let g = planted_residual(60, 3, 4);
        let mut edges = vec![g.edges[0].clone(), g.edges[2].clone(), g.edges[2].clone()];
        edges[2].layer.data.iter_mut().for_each(|w| *w *= 0.5);
        let b = Network::new(g.sizes.clone(), edges).unwrap();
        assert!(!b.is_chain());
        assert_eq!(colouring(&b), Some(vec![0, 1, 1]));
        let k = 4;
        let svd = embedding(&b, k, &mut rng_for(0, CLUSTER, 0)).unwrap();
        let general = general_embedding(&b, k, &mut rng_for(0, CLUSTER, 0)).unwrap();
        for (x, y) in svd.eigenvalues.iter().zip(&general.eigenvalues) {
            assert!((x - y).abs() < 1e-8, "{x} {y}");
        }
        // rows: colour 0 (group 0) first
        assert!(svd.node_ids[..60].iter().all(|&u| u < 60));
    }
}
