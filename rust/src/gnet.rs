//! General networks: node groups joined by edge groups (method.md §1, networks
//! with skips and concatenations).
//!
//! A [`GroupNet`] has node groups of sizes `sizes` (the network's input and the
//! outputs of every weight layer) and edge groups, each a weight matrix from one
//! group to another. A layered network is the chain `0 → 1 → … → L`; skips,
//! concatenations and parallel branches add edge groups between other pairs.
//! Node ids are global, in group order. Parallel edge groups between the same
//! two groups add up in the graph; each edge group is shuffled on its own.
//!
//! Such graphs are bipartite when the group graph is 2-colourable
//! ([`colouring`]); then [`embedding`] uses the SVD shortcut of
//! [`crate::spectral::embed`]. Otherwise it computes the top eigenpairs of the
//! whole normalized adjacency `N = D^-1/2 A D^-1/2` with the seeded block
//! Lanczos of [`crate::spectral`] applied to the shifted operator
//! `(I + N)/2 = MᵀM`, where `M` is the normalized incidence matrix (one row per
//! edge `{u, v}` with entries `sqrt(w/2)/sqrt(d_u)` and `sqrt(w/2)/sqrt(d_v)`).
//! The shift maps the spectrum `[-1, 1]` to `[0, 1]` in order, so the largest
//! eigenvalues of the PSD operator are the largest algebraic ones of `N` (the
//! large negative eigenvalues of near-bipartite parts cannot crowd them out).
//! Connected components are solved one by one (λ = 1 once per component), small
//! ones densely.

use rand::Rng;
use rayon::prelude::*;

use crate::cut::NcutParts;
use crate::error::{Error, Result};
use crate::graph::{Graph, SparseBlock};
use crate::net::{CsrLayer, LayeredNet};
use crate::null::{Embedding, Partition, NCUT_EPS};
use crate::rng::{rng_for, NULL_CLUSTER, SHUFFLE};
use crate::shuffle::{shuffle_layer, ShuffleMethod};
use crate::spectral::{self, lanczos_gram, LanczosOpts, DENSE_MAX};

/// A weight matrix from node group `src` (rows) to node group `dst` (columns).
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeGroup {
    pub src: usize,
    pub dst: usize,
    pub layer: CsrLayer,
}

/// Node groups and the edge groups between them.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupNet {
    /// Neurons per group (a reduced network may have empty groups).
    pub sizes: Vec<usize>,
    pub edges: Vec<EdgeGroup>,
}

impl GroupNet {
    /// Validate: group indices in range, no self-loops, shapes match the groups,
    /// canonical CSR rows (strictly increasing column indices).
    pub fn new(sizes: Vec<usize>, edges: Vec<EdgeGroup>) -> Result<Self> {
        if edges.is_empty() {
            return Err(Error::Shape(
                "a network needs at least one weight matrix".into(),
            ));
        }
        for (e, eg) in edges.iter().enumerate() {
            if eg.src >= sizes.len() || eg.dst >= sizes.len() {
                return Err(Error::Shape(format!(
                    "edge group {e} joins groups {} and {} but there are {} groups",
                    eg.src,
                    eg.dst,
                    sizes.len()
                )));
            }
            if eg.src == eg.dst {
                return Err(Error::Shape(format!(
                    "edge group {e} joins group {} to itself",
                    eg.src
                )));
            }
            if eg.layer.rows != sizes[eg.src] || eg.layer.cols != sizes[eg.dst] {
                return Err(Error::Shape(format!(
                    "edge group {e} is {} × {} but joins groups of sizes {} and {}",
                    eg.layer.rows, eg.layer.cols, sizes[eg.src], sizes[eg.dst]
                )));
            }
            let l = &eg.layer;
            for r in 0..l.rows {
                if l.indices[l.indptr[r]..l.indptr[r + 1]]
                    .windows(2)
                    .any(|w| w[0] >= w[1])
                {
                    return Err(Error::Shape(format!(
                        "edge group {e}: row {r} has unsorted or duplicate column indices"
                    )));
                }
            }
        }
        Ok(Self { sizes, edges })
    }

    /// The chain `0 → 1 → … → L` of a layered network.
    pub fn from_layered(net: &LayeredNet) -> Self {
        Self {
            sizes: net.widths(),
            edges: net
                .layers
                .iter()
                .enumerate()
                .map(|(l, layer)| EdgeGroup {
                    src: l,
                    dst: l + 1,
                    layer: layer.clone(),
                })
                .collect(),
        }
    }

    /// Global id of the first neuron of every group, plus the total.
    pub fn offsets(&self) -> Vec<usize> {
        let mut off = vec![0];
        for &s in &self.sizes {
            off.push(off.last().unwrap() + s);
        }
        off
    }

    pub fn n_nodes(&self) -> usize {
        self.sizes.iter().sum()
    }

    /// Every stored entry as `(u, v, |w|)` in global ids, edge-group order.
    fn for_each_edge(&self, mut f: impl FnMut(usize, usize, f64)) {
        let off = self.offsets();
        for eg in &self.edges {
            let (a, b) = (off[eg.src], off[eg.dst]);
            for (i, j, w) in eg.layer.iter() {
                f(a + i, b + j, w.abs());
            }
        }
    }
}

/// Weighted degree `Σ |w|` of every node.
pub fn degrees(g: &GroupNet) -> Vec<f64> {
    let mut deg = vec![0.0; g.n_nodes()];
    g.for_each_edge(|u, v, a| {
        deg[u] += a;
        deg[v] += a;
    });
    deg
}

/// The symmetric adjacency (parallel edges summed, no zeros stored, sorted rows).
pub fn adjacency(g: &GroupNet) -> Graph {
    let n = g.n_nodes();
    let degree = degrees(g);
    let mut count = vec![0usize; n];
    g.for_each_edge(|u, v, a| {
        if a != 0.0 {
            count[u] += 1;
            count[v] += 1;
        }
    });
    let mut ptr = vec![0usize; n + 1];
    for u in 0..n {
        ptr[u + 1] = ptr[u] + count[u];
    }
    let mut cur = ptr[..n].to_vec();
    let mut ent = vec![(0u32, 0.0f64); ptr[n]];
    g.for_each_edge(|u, v, a| {
        if a != 0.0 {
            ent[cur[u]] = (v as u32, a);
            cur[u] += 1;
            ent[cur[v]] = (u as u32, a);
            cur[v] += 1;
        }
    });
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0);
    let mut indices = Vec::with_capacity(ptr[n]);
    let mut data = Vec::with_capacity(ptr[n]);
    for u in 0..n {
        let row = &mut ent[ptr[u]..ptr[u + 1]];
        row.sort_by_key(|e| e.0);
        for &(v, a) in row.iter() {
            if indices.len() > *indptr.last().unwrap() && *indices.last().unwrap() == v {
                *data.last_mut().unwrap() += a;
            } else {
                indices.push(v);
                data.push(a);
            }
        }
        indptr.push(indices.len());
    }
    Graph {
        n,
        indptr,
        indices,
        data,
        degree,
    }
}

/// A 2-colouring of the groups along edge groups with a non-zero weight, or
/// `None` when the group graph has an odd cycle.
pub fn colouring(g: &GroupNet) -> Option<Vec<u8>> {
    let ng = g.sizes.len();
    let mut adj = vec![Vec::new(); ng];
    for eg in &g.edges {
        if eg.layer.data.iter().any(|&w| w != 0.0) {
            adj[eg.src].push(eg.dst);
            adj[eg.dst].push(eg.src);
        }
    }
    let mut colour = vec![u8::MAX; ng];
    for start in 0..ng {
        if colour[start] != u8::MAX {
            continue;
        }
        colour[start] = 0;
        let mut stack = vec![start];
        while let Some(a) = stack.pop() {
            for &b in &adj[a] {
                if colour[b] == u8::MAX {
                    colour[b] = 1 - colour[a];
                    stack.push(b);
                } else if colour[b] == colour[a] {
                    return None;
                }
            }
        }
    }
    Some(colour)
}

/// Remove isolated neurons from every group (groups may become empty). Returns
/// the reduced network and the ascending global ids of the kept nodes.
pub fn reduce_isolated(g: &GroupNet) -> Result<(GroupNet, Vec<usize>)> {
    let deg = degrees(g);
    if deg.iter().all(|&d| d == 0.0) {
        return Err(Error::Value(
            "all weights are zero: the network has no edges".into(),
        ));
    }
    let off = g.offsets();
    let mut new_index = vec![u32::MAX; deg.len()];
    let mut kept = Vec::new();
    let mut sizes = Vec::with_capacity(g.sizes.len());
    for (gi, &s) in g.sizes.iter().enumerate() {
        let mut next = 0u32;
        for u in off[gi]..off[gi] + s {
            if deg[u] > 0.0 {
                new_index[u] = next;
                next += 1;
                kept.push(u);
            }
        }
        sizes.push(next as usize);
    }
    let edges = g
        .edges
        .iter()
        .map(|eg| EdgeGroup {
            src: eg.src,
            dst: eg.dst,
            layer: crate::graph::restrict(
                &eg.layer,
                &new_index[off[eg.src]..off[eg.src + 1]],
                &new_index[off[eg.dst]..off[eg.dst + 1]],
            ),
        })
        .collect();
    Ok((GroupNet { sizes, edges }, kept))
}

/// The normalized cut of `labels` (one per node, `-1` = unclustered: edges to it
/// leave their cluster), with the cut and volume of every non-empty cluster.
pub fn ncut(g: &GroupNet, labels: &[i64], eps: f64) -> Result<NcutParts> {
    let n = g.n_nodes();
    if labels.len() != n {
        return Err(Error::Labels(format!(
            "got {} labels but the network has {n} neurons (one label per neuron of every \
             group, inputs included)",
            labels.len()
        )));
    }
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(Error::Value(format!(
            "eps must be finite and >= 0, got {eps}"
        )));
    }
    if let Some(&c) = labels.iter().find(|&&c| c < -1) {
        return Err(Error::Labels(format!(
            "labels must be >= -1 (-1 = unclustered), got {c}"
        )));
    }
    let mut ids: Vec<i64> = labels.iter().copied().filter(|&c| c >= 0).collect();
    ids.sort_unstable();
    ids.dedup();
    let dummy = ids.len();
    let slot: Vec<usize> = labels
        .iter()
        .map(|&c| {
            if c < 0 {
                dummy
            } else {
                ids.binary_search(&c).unwrap()
            }
        })
        .collect();
    let mut cut = vec![0.0; dummy + 1];
    let mut vol = vec![0.0; dummy + 1];
    g.for_each_edge(|u, v, a| {
        let (su, sv) = (slot[u], slot[v]);
        vol[su] += a;
        vol[sv] += a;
        if su != sv {
            cut[su] += a;
            cut[sv] += a;
        }
    });
    // The total volume (all degrees, unclustered nodes included) scales ε (cut::effective_eps).
    let total_volume: f64 = vol.iter().sum();
    cut.truncate(dummy);
    vol.truncate(dummy);
    let value = crate::cut::total(&cut, &vol, total_volume, eps);
    Ok(NcutParts {
        ncut: value,
        cluster_ids: ids,
        cut,
        volume: vol,
    })
}

/// Shuffle every edge group independently (in order, one stream).
pub fn shuffle_gnet<R: Rng + ?Sized>(g: &GroupNet, method: ShuffleMethod, rng: &mut R) -> GroupNet {
    GroupNet {
        sizes: g.sizes.clone(),
        edges: g
            .edges
            .iter()
            .map(|eg| EdgeGroup {
                src: eg.src,
                dst: eg.dst,
                layer: shuffle_layer(&eg.layer, method, rng),
            })
            .collect(),
    }
}

/// Null samples `start .. start + count` (sample `i` from stream `(seed, SHUFFLE, i)`).
pub fn shuffle_many(
    g: &GroupNet,
    method: ShuffleMethod,
    seed: u64,
    start: u64,
    count: usize,
) -> Vec<GroupNet> {
    (0..count)
        .into_par_iter()
        .map(|i| {
            shuffle_gnet(
                g,
                method,
                &mut rng_for(seed, SHUFFLE, start.wrapping_add(i as u64)),
            )
        })
        .collect()
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
    // normalized incidence M (one row per edge u < v): MᵀM = (I + N)/2
    let mut indptr = vec![0usize];
    let mut indices = Vec::with_capacity(nnz);
    let mut data = Vec::with_capacity(nnz);
    for &u in nodes {
        for p in adj.indptr[u]..adj.indptr[u + 1] {
            let v = adj.indices[p] as usize;
            if v <= u {
                continue;
            }
            let h = (0.5 * adj.data[p]).sqrt();
            let (lu, lv) = (local[u], local[v]);
            let (a, b) = if lu < lv {
                ((lu, h * inv[u]), (lv, h * inv[v]))
            } else {
                ((lv, h * inv[v]), (lu, h * inv[u]))
            };
            indices.push(a.0);
            data.push(a.1);
            indices.push(b.0);
            data.push(b.1);
            indptr.push(indices.len());
        }
    }
    let m = SparseBlock {
        nrows: indptr.len() - 1,
        ncols: nc,
        indptr,
        indices,
        data,
    };
    let (theta, x, _) = lanczos_gram(&m, k, &opts, rng)?;
    Ok((theta.iter().map(|&t| 2.0 * t - 1.0).collect(), x))
}

/// The spectral embedding of the non-isolated nodes of `g` (rows in ascending
/// global id for the general path; even colour then odd colour for the
/// bipartite path), divided by sqrt(degree), as `null::embedding` for chains.
pub fn embedding<R: Rng + ?Sized>(g: &GroupNet, k: usize, rng: &mut R) -> Result<Embedding> {
    let adj = adjacency(g);
    let deg = &adj.degree;
    let active: Vec<usize> = (0..adj.n).filter(|&u| deg[u] > 0.0).collect();
    if k == 0 || k > active.len() {
        return Err(Error::Value(format!(
            "k={k} must be between 1 and the number of non-isolated neurons ({})",
            active.len()
        )));
    }
    let inv: Vec<f64> = deg
        .iter()
        .map(|&d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 })
        .collect();
    if let Some(col) = colouring(g) {
        let off = g.offsets();
        let mut group_of = vec![0usize; adj.n];
        for (gi, w) in off.windows(2).enumerate() {
            group_of[w[0]..w[1]].fill(gi);
        }
        let (even, odd): (Vec<usize>, Vec<usize>) =
            active.iter().partition(|&&u| col[group_of[u]] == 0);
        if k < even.len().min(odd.len()) {
            let mut pos = vec![u32::MAX; adj.n];
            for (c, &v) in odd.iter().enumerate() {
                pos[v] = c as u32;
            }
            let mut indptr = vec![0usize];
            let mut indices = Vec::new();
            let mut data = Vec::new();
            for &u in &even {
                for p in adj.indptr[u]..adj.indptr[u + 1] {
                    let v = adj.indices[p] as usize;
                    indices.push(pos[v]);
                    data.push(adj.data[p] * inv[u] * inv[v]);
                }
                indptr.push(indices.len());
            }
            let block = SparseBlock {
                nrows: even.len(),
                ncols: odd.len(),
                indptr,
                indices,
                data,
            };
            let d_even: Vec<f64> = even.iter().map(|&u| deg[u]).collect();
            let d_odd: Vec<f64> = odd.iter().map(|&u| deg[u]).collect();
            let (x, s) = spectral::embed(&block, &d_even, &d_odd, k, rng)?;
            return Ok(Embedding {
                node_ids: even.into_iter().chain(odd).collect(),
                x,
                eigenvalues: s,
            });
        }
    }
    // connected components of the active nodes
    let mut parent: Vec<usize> = (0..adj.n).collect();
    for &u in &active {
        for p in adj.indptr[u]..adj.indptr[u + 1] {
            let v = adj.indices[p] as usize;
            let (a, b) = (find(&mut parent, u), find(&mut parent, v));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let mut comp_of = vec![usize::MAX; adj.n];
    let mut comps: Vec<Vec<usize>> = Vec::new();
    let mut root_comp = vec![usize::MAX; adj.n];
    for &u in &active {
        let r = find(&mut parent, u);
        if root_comp[r] == usize::MAX {
            root_comp[r] = comps.len();
            comps.push(Vec::new());
        }
        comp_of[u] = root_comp[r];
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
    debug_assert!(active.iter().all(|&u| comp_of[u] != usize::MAX));
    Ok(Embedding {
        node_ids: active,
        x,
        eigenvalues: cand.iter().map(|c| c.0).collect(),
    })
}

/// Cluster every node of `g` into `k` clusters (isolated nodes get -1).
pub fn spectral_labels<R: Rng + ?Sized>(
    g: &GroupNet,
    k: usize,
    n_init: impl Into<crate::kmeans::Restarts>,
    rng: &mut R,
) -> Result<Partition> {
    let emb = embedding(g, k, rng)?;
    crate::null::partition_of(emb, g.n_nodes(), k, n_init, rng, false)
}

/// The n-cut of null sample `index`: shuffle each edge group, cluster, score.
pub fn null_sample(
    g: &GroupNet,
    method: ShuffleMethod,
    k: usize,
    n_init: impl Into<crate::kmeans::Restarts>,
    seed: u64,
    index: u64,
) -> Result<f64> {
    let n_init = n_init.into();
    let shuffled = shuffle_gnet(g, method, &mut rng_for(seed, SHUFFLE, index));
    let part = spectral_labels(
        &shuffled,
        k,
        n_init,
        &mut rng_for(seed, NULL_CLUSTER, index),
    )
    .map_err(|e| match e {
        Error::Value(msg) => Error::Value(format!("null sample {index}: {msg}")),
        other => other,
    })?;
    Ok(ncut(&shuffled, &part.labels, NCUT_EPS)?.ncut)
}

/// n-cuts of null samples `start .. start + count`, in parallel, in index order.
pub fn null_ncuts(
    g: &GroupNet,
    method: ShuffleMethod,
    k: usize,
    n_init: impl Into<crate::kmeans::Restarts>,
    seed: u64,
    start: u64,
    count: usize,
) -> Result<Vec<f64>> {
    let n_init = n_init.into();
    (0..count as u64)
        .into_par_iter()
        .map(|i| null_sample(g, method, k, n_init, seed, start + i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::CLUSTER;

    fn dense(rows: usize, cols: usize, f: impl Fn(usize, usize) -> f64) -> CsrLayer {
        let vals: Vec<f64> = (0..rows * cols).map(|p| f(p / cols, p % cols)).collect();
        CsrLayer::from_dense(rows, cols, &vals).unwrap()
    }

    /// A residual net 0 → 1 → 2 plus the skip 0 → 2, made of `k` planted modules.
    fn planted_residual(n: usize, k: usize, seed: u64) -> GroupNet {
        let mut rng = rng_for(seed, 99, 0);
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
        GroupNet::new(vec![n; 3], edges).unwrap()
    }

    #[test]
    fn colouring_finds_odd_cycles() {
        let g = planted_residual(8, 2, 1);
        assert!(colouring(&g).is_none());
        let chain = GroupNet::new(
            vec![2, 3, 2],
            vec![
                EdgeGroup {
                    src: 0,
                    dst: 1,
                    layer: dense(2, 3, |_, _| 1.0),
                },
                EdgeGroup {
                    src: 1,
                    dst: 2,
                    layer: dense(3, 2, |_, _| 1.0),
                },
            ],
        )
        .unwrap();
        assert_eq!(colouring(&chain), Some(vec![0, 1, 0]));
    }

    #[test]
    fn adjacency_sums_parallel_edges_and_matches_degrees() {
        let e = |w: f64| EdgeGroup {
            src: 0,
            dst: 1,
            layer: dense(2, 2, move |i, j| if i == j { w } else { 0.0 }),
        };
        let g = GroupNet::new(vec![2, 2], vec![e(1.0), e(-2.0)]).unwrap();
        let a = adjacency(&g);
        assert_eq!(a.indptr, vec![0, 1, 2, 3, 4]);
        assert_eq!(a.data, vec![3.0; 4]);
        assert_eq!(a.degree, vec![3.0; 4]);
    }

    #[test]
    fn planted_modules_of_a_nonbipartite_net_are_recovered() {
        for n in [12, 120] {
            // 12: dense path; 120: Lanczos on the normalized incidence
            let k = 3;
            let g = planted_residual(n, k, 2);
            let part = spectral_labels(&g, k, 10, &mut rng_for(0, CLUSTER, 0)).unwrap();
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
    fn null_ncuts_do_not_depend_on_threads() {
        let g = planted_residual(40, 4, 4);
        let run = |threads: usize, start: u64, count: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| null_ncuts(&g, ShuffleMethod::Layer, 4, 5, 11, start, count))
                .unwrap()
        };
        let one = run(1, 0, 8);
        assert_eq!(one, run(3, 0, 8));
        assert_eq!(&one[5..], &run(2, 5, 3)[..]);
        assert!(one.iter().all(|&v| v > 0.5 && v <= 4.0));
    }

    #[test]
    fn chain_groupnet_has_the_chain_ncut() {
        let g = planted_residual(10, 2, 6);
        let chain =
            LayeredNet::new(vec![g.edges[0].layer.clone(), g.edges[1].layer.clone()]).unwrap();
        let gc = GroupNet::from_layered(&chain);
        let labels: Vec<i64> = (0..30).map(|u| ((u * 7) % 3) as i64 - 1).collect();
        let a = crate::cut::ncut(&chain, &labels, NCUT_EPS).unwrap();
        let b = ncut(&gc, &labels, NCUT_EPS).unwrap();
        assert!((a.ncut - b.ncut).abs() < 1e-12);
        assert_eq!(a.cluster_ids, b.cluster_ids);
    }
}
