//! Network → graph (method.md §1).
//!
//! A [`LayeredNet`] with widths `n0, …, nL` is an undirected, weighted,
//! bipartite graph on `n0 + … + nL` nodes. Node ids are global and in layer
//! order: layer 0's neurons (the inputs) come first, then layer 1's, and so on
//! (see [`LayeredNet::offsets`]). Neuron `i` of layer `l` and neuron `j` of
//! layer `l + 1` are joined by an edge of weight `|W_l[i, j]|`; stored zeros
//! are not edges.
//!
//! Every function here reads the layers directly; only [`adjacency`] builds
//! the full CSR adjacency. The hot path of a null sample is
//! [`normalized_bipartite`], which goes from the layers to the normalized
//! odd-to-even block in two passes over the stored weights.
//!
//! All functions expect canonical layers (column indices strictly increasing
//! within each row, as `modcut._validate` and the shuffles produce them; see
//! [`check_canonical`]). On other input they do not panic, but the output is
//! then unspecified (e.g. rows of the adjacency may be unsorted).

use crate::error::{Error, Result};
use crate::net::{CsrLayer, LayeredNet};

/// Symmetric adjacency over all nodes of a network, in CSR form.
///
/// `A[u, v] = |w|` for the weight `w` joining `u` and `v`; only non-zero
/// weights are stored, column indices are sorted within each row, and isolated
/// nodes have empty rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// Number of nodes (all neurons of all layers).
    pub n: usize,
    /// Row pointers, length `n + 1`.
    pub indptr: Vec<usize>,
    /// Neighbour ids, sorted within each row.
    pub indices: Vec<u32>,
    /// Edge weights `|w| > 0`.
    pub data: Vec<f64>,
    /// Weighted degree of every node (`Σ |w|` over incident edges), length `n`;
    /// bit-identical to [`degrees`].
    pub degree: Vec<f64>,
}

/// A sparse matrix block in CSR form (`nrows × ncols`).
#[derive(Clone, Debug, PartialEq)]
pub struct SparseBlock {
    /// Number of rows.
    pub nrows: usize,
    /// Number of columns.
    pub ncols: usize,
    /// Row pointers, length `nrows + 1`.
    pub indptr: Vec<usize>,
    /// Column indices, sorted within each row.
    pub indices: Vec<u32>,
    /// Stored values.
    pub data: Vec<f64>,
}

/// The normalized adjacency `D^-1/2 A D^-1/2` of a (bipartite) layered
/// network, reduced to its odd-to-even block over non-isolated nodes.
///
/// Because the graph is bipartite (even neuron layers vs odd ones), the full
/// normalized adjacency is `[[0, B], [Bᵀ, 0]]` after ordering nodes as
/// `even ++ odd`; its eigenpairs are `±σ` with eigenvectors built from the
/// singular vectors of `B` (method.md §2).
#[derive(Clone, Debug, PartialEq)]
pub struct Bipartite {
    /// Ascending global ids of the non-isolated nodes of even-indexed neuron
    /// layers (layer 0, the input, is even); row `r` of `block` is `even[r]`.
    pub even: Vec<usize>,
    /// Ascending global ids of the non-isolated nodes of odd-indexed neuron
    /// layers; column `c` of `block` is `odd[c]`.
    pub odd: Vec<usize>,
    /// `block[r, c] = |w| / sqrt(degree[even[r]] * degree[odd[c]])` for every
    /// edge (computed as `|w| · d_r^-1/2 · d_c^-1/2`); no zeros stored.
    pub block: SparseBlock,
    /// Weighted degree of every node of the network (length `n_nodes`, isolated
    /// nodes included with 0); bit-identical to [`degrees`].
    pub degree: Vec<f64>,
}

/// Check that every layer is canonical CSR: column indices strictly
/// increasing within each row (sorted, no duplicates).
///
/// [`CsrLayer::new`] does not check this; the functions of this crate assume it.
pub fn check_canonical(net: &LayeredNet) -> Result<()> {
    for (l, layer) in net.layers.iter().enumerate() {
        for r in 0..layer.rows {
            let row = &layer.indices[layer.indptr[r]..layer.indptr[r + 1]];
            if row.windows(2).any(|w| w[0] >= w[1]) {
                return Err(Error::Value(format!(
                    "layer {l}: column indices of row {r} are not strictly increasing \
                     (unsorted or duplicate entries); pass canonical CSR matrices \
                     (scipy: m.sum_duplicates(); m.sort_indices())"
                )));
            }
        }
    }
    Ok(())
}

/// Weighted degree of every node: `Σ |w|` over the node's incident edges.
///
/// Reads the layers once without building the adjacency. Summation order (the
/// order of the stored entries, layer by layer) is the same in every function
/// of this module that reports degrees, so they agree bit for bit.
pub fn degrees(net: &LayeredNet) -> Vec<f64> {
    let off = net.offsets();
    let mut deg = vec![0.0; net.n_nodes()];
    for (l, layer) in net.layers.iter().enumerate() {
        let (src, dst) = split_layers(&mut deg, &off, l);
        scan_layer::<false, false>(layer, src, dst, &mut [], &mut []);
    }
    deg
}

/// The entries of a per-node vector for neuron layers `l` and `l + 1`.
#[inline]
fn split_layers<'a, T>(v: &'a mut [T], off: &[usize], l: usize) -> (&'a mut [T], &'a mut [T]) {
    let (lo, hi) = v.split_at_mut(off[l + 1]);
    (&mut lo[off[l]..], &mut hi[..off[l + 2] - off[l + 1]])
}

/// One pass over a layer's stored weights accumulating degrees: each row's
/// `Σ |w|` is added to `src_deg[row]` as one sum (no loop-carried dependency
/// through memory), each `|w|` to `dst_deg[col]`. With `COUNT_SRC` /
/// `COUNT_DST` it also counts non-zero entries per row / per column.
///
/// Stored zeros add `+0.0`, which changes no sum, so the result does not
/// depend on them. Every function reporting degrees goes through here, layer
/// by layer in order, so they agree bit for bit.
#[inline]
fn scan_layer<const COUNT_SRC: bool, const COUNT_DST: bool>(
    layer: &CsrLayer,
    src_deg: &mut [f64],
    dst_deg: &mut [f64],
    src_cnt: &mut [usize],
    dst_cnt: &mut [usize],
) {
    for i in 0..layer.rows {
        let (s, e) = (layer.indptr[i], layer.indptr[i + 1]);
        let mut sum = 0.0;
        let mut nonzero = 0usize;
        for (&j, &w) in layer.indices[s..e].iter().zip(&layer.data[s..e]) {
            let a = w.abs();
            sum += a;
            dst_deg[j as usize] += a;
            if COUNT_SRC {
                nonzero += usize::from(w != 0.0);
            }
            if COUNT_DST {
                dst_cnt[j as usize] += usize::from(w != 0.0);
            }
        }
        src_deg[i] += sum;
        if COUNT_SRC {
            src_cnt[i] += nonzero;
        }
    }
}

/// Call `f(row, col, |w|)` for every stored entry with `w != 0`, in storage order.
#[inline]
fn for_each_edge(layer: &CsrLayer, mut f: impl FnMut(usize, usize, f64)) {
    for i in 0..layer.rows {
        let (s, e) = (layer.indptr[i], layer.indptr[i + 1]);
        for (&j, &w) in layer.indices[s..e].iter().zip(&layer.data[s..e]) {
            if w != 0.0 {
                f(i, j as usize, w.abs());
            }
        }
    }
}

/// The full symmetric adjacency of `net` (see [`Graph`]).
///
/// Two passes over the stored weights: count each node's edges, then fill the
/// rows. A node's neighbours in the previous layer have smaller ids than those
/// in the next layer, and the previous layer is visited first, so rows come
/// out sorted without a sort. Node ids must fit in `u32`.
pub fn adjacency(net: &LayeredNet) -> Graph {
    let off = net.offsets();
    let n = net.n_nodes();
    let mut deg = vec![0.0; n];
    let mut count = vec![0usize; n];
    for (l, layer) in net.layers.iter().enumerate() {
        let (src, dst) = split_layers(&mut deg, &off, l);
        let (src_cnt, dst_cnt) = split_layers(&mut count, &off, l);
        scan_layer::<true, true>(layer, src, dst, src_cnt, dst_cnt);
    }
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0usize);
    for &c in &count {
        indptr.push(indptr.last().unwrap() + c);
    }
    let nnz = indptr[n];
    let mut indices = vec![0u32; nnz];
    let mut data = vec![0.0; nnz];
    let mut cursor = indptr[..n].to_vec();
    for (l, layer) in net.layers.iter().enumerate() {
        for_each_edge(layer, |i, j, a| {
            let (u, v) = (off[l] + i, off[l + 1] + j);
            let p = cursor[u];
            indices[p] = v as u32;
            data[p] = a;
            cursor[u] += 1;
            let q = cursor[v];
            indices[q] = u as u32;
            data[q] = a;
            cursor[v] += 1;
        });
    }
    Graph {
        n,
        indptr,
        indices,
        data,
        degree: deg,
    }
}

/// Remove isolated (degree-0) neurons from every layer.
///
/// Returns the reduced network (rows and columns of isolated neurons deleted,
/// so widths shrink; stored zeros between surviving neurons are kept) and the
/// ascending global ids, in `net`, of the kept nodes: node `k` of the reduced
/// network is node `kept[k]` of `net`.
///
/// # Errors
/// [`Error::Value`] if some neuron layer has no neuron with a non-zero weight
/// (the reduced network would have a layer of width 0).
pub fn reduce_isolated(net: &LayeredNet) -> Result<(LayeredNet, Vec<usize>)> {
    let deg = degrees(net);
    let widths = net.widths();
    let off = net.offsets();
    // new_index[u] = index of node u within its layer in the reduced net, or u32::MAX.
    let mut new_index = vec![u32::MAX; deg.len()];
    let mut kept = Vec::with_capacity(deg.len());
    for (l, &w) in widths.iter().enumerate() {
        let mut next = 0u32;
        for u in off[l]..off[l] + w {
            if deg[u] > 0.0 {
                new_index[u] = next;
                next += 1;
                kept.push(u);
            }
        }
        if next == 0 {
            let what = match l {
                0 => "input layer".to_string(),
                l if l + 1 == widths.len() => "output layer".to_string(),
                l => format!("hidden layer {l}"),
            };
            return Err(Error::Value(format!(
                "neuron layer {l} ({what}, width {w}) has no connected neuron: every weight \
                 into and out of it is zero, so removing isolated nodes would leave it empty \
                 (network widths {widths:?})"
            )));
        }
    }
    let layers = net
        .layers
        .iter()
        .enumerate()
        .map(|(l, layer)| {
            restrict(
                layer,
                &new_index[off[l]..off[l + 1]],
                &new_index[off[l + 1]..off[l + 2]],
            )
        })
        .collect();
    Ok((LayeredNet { layers }, kept))
}

/// The rows and columns of `layer` whose map entry is not `u32::MAX`, renumbered
/// by the maps (`row_map[i]` / `col_map[j]`: new index or `u32::MAX` = dropped);
/// stored zeros between kept entries stay stored.
pub(crate) fn restrict(layer: &CsrLayer, row_map: &[u32], col_map: &[u32]) -> CsrLayer {
    let rows = row_map.iter().filter(|&&x| x != u32::MAX).count();
    let cols = col_map.iter().filter(|&&x| x != u32::MAX).count();
    let mut indptr = Vec::with_capacity(rows + 1);
    indptr.push(0);
    let mut indices = Vec::new();
    let mut data = Vec::new();
    for (i, &ri) in row_map.iter().enumerate() {
        if ri == u32::MAX {
            continue;
        }
        for p in layer.indptr[i]..layer.indptr[i + 1] {
            let cj = col_map[layer.indices[p] as usize];
            if cj != u32::MAX {
                indices.push(cj);
                data.push(layer.data[p]);
            }
        }
        indptr.push(indices.len());
    }
    CsrLayer {
        rows,
        cols,
        indptr,
        indices,
        data,
    }
}

/// The odd-to-even block of the normalized adjacency over non-isolated nodes
/// (see [`Bipartite`]), built straight from the layers.
///
/// Pass 1 accumulates degrees and counts each even node's edges; pass 2 fills
/// the rows of the block. Like [`adjacency`], rows come out sorted because an
/// even node's neighbours in the previous layer precede those in the next.
///
/// # Errors
/// [`Error::Value`] if the network has no non-zero weight.
pub fn normalized_bipartite(net: &LayeredNet) -> Result<Bipartite> {
    let off = net.offsets();
    let n = net.n_nodes();
    let n_layers = net.layers.len() + 1;
    let mut deg = vec![0.0; n];
    // Edge count of every even node (entries for odd nodes stay 0).
    let mut count = vec![0usize; n];
    for (l, layer) in net.layers.iter().enumerate() {
        let (src, dst) = split_layers(&mut deg, &off, l);
        let (src_cnt, dst_cnt) = split_layers(&mut count, &off, l);
        if l % 2 == 0 {
            scan_layer::<true, false>(layer, src, dst, src_cnt, dst_cnt);
        } else {
            scan_layer::<false, true>(layer, src, dst, src_cnt, dst_cnt);
        }
    }

    // Kept nodes, their position in `even`/`odd`, and d^-1/2.
    let mut even = Vec::new();
    let mut odd = Vec::new();
    let mut pos = vec![u32::MAX; n];
    let mut inv_sqrt = vec![0.0; n];
    for l in 0..n_layers {
        let list = if l % 2 == 0 { &mut even } else { &mut odd };
        for u in off[l]..off[l + 1] {
            if deg[u] > 0.0 {
                pos[u] = list.len() as u32;
                list.push(u);
                inv_sqrt[u] = 1.0 / deg[u].sqrt();
            }
        }
    }
    if even.is_empty() {
        return Err(Error::Value(
            "the network has no edges: every weight is zero".into(),
        ));
    }

    let nrows = even.len();
    let mut indptr = Vec::with_capacity(nrows + 1);
    indptr.push(0usize);
    for &u in &even {
        indptr.push(indptr.last().unwrap() + count[u]);
    }
    let nnz = indptr[nrows];
    let mut indices = vec![0u32; nnz];
    let mut data = vec![0.0; nnz];
    let mut cursor = indptr[..nrows].to_vec();
    for (l, layer) in net.layers.iter().enumerate() {
        let (a0, b0) = (off[l], off[l + 1]);
        if l % 2 == 0 {
            // rows of this layer are even nodes, columns odd nodes
            for_each_edge(layer, |i, j, a| {
                let (u, v) = (a0 + i, b0 + j);
                let r = pos[u] as usize;
                let p = cursor[r];
                indices[p] = pos[v];
                data[p] = a * inv_sqrt[u] * inv_sqrt[v];
                cursor[r] += 1;
            });
        } else {
            // rows of this layer are odd nodes, columns even nodes
            for_each_edge(layer, |i, j, a| {
                let (v, u) = (a0 + i, b0 + j);
                let r = pos[u] as usize;
                let p = cursor[r];
                indices[p] = pos[v];
                data[p] = a * inv_sqrt[u] * inv_sqrt[v];
                cursor[r] += 1;
            });
        }
    }
    let block = SparseBlock {
        nrows,
        ncols: odd.len(),
        indptr,
        indices,
        data,
    };
    Ok(Bipartite {
        even,
        odd,
        block,
        degree: deg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dense(rows: usize, cols: usize, v: &[f64]) -> CsrLayer {
        CsrLayer::from_dense(rows, cols, v).unwrap()
    }

    /// Sparse layer from a dense matrix, storing only non-zeros.
    fn sparse(rows: usize, cols: usize, v: &[f64]) -> CsrLayer {
        let mut indptr = vec![0];
        let mut indices = vec![];
        let mut data = vec![];
        for r in 0..rows {
            for c in 0..cols {
                let x = v[r * cols + c];
                if x != 0.0 {
                    indices.push(c as u32);
                    data.push(x);
                }
            }
            indptr.push(indices.len());
        }
        CsrLayer::new(rows, cols, indptr, indices, data).unwrap()
    }

    /// Dense symmetric adjacency, built naively.
    fn dense_adjacency(net: &LayeredNet) -> Vec<Vec<f64>> {
        let n = net.n_nodes();
        let off = net.offsets();
        let mut a = vec![vec![0.0; n]; n];
        for (l, layer) in net.layers.iter().enumerate() {
            for (i, j, w) in layer.iter() {
                let (u, v) = (off[l] + i, off[l + 1] + j);
                a[u][v] += w.abs();
                a[v][u] += w.abs();
            }
        }
        a
    }

    fn graph_to_dense(g: &Graph) -> Vec<Vec<f64>> {
        let mut a = vec![vec![0.0; g.n]; g.n];
        for (u, row) in a.iter_mut().enumerate() {
            for p in g.indptr[u]..g.indptr[u + 1] {
                row[g.indices[p] as usize] = g.data[p];
            }
        }
        a
    }

    /// A 3-2-2 network with a stored zero, a negative weight and an isolated
    /// input neuron (node 2).
    fn small() -> LayeredNet {
        LayeredNet::new(vec![
            dense(3, 2, &[1.0, -2.0, 0.0, 3.0, 0.0, 0.0]),
            sparse(2, 2, &[0.5, 0.0, 0.0, -4.0]),
        ])
        .unwrap()
    }

    #[test]
    fn adjacency_by_hand() {
        let net = small();
        let g = adjacency(&net);
        assert_eq!(g.n, 7);
        // node 0: -> 3 (1), 4 (2); node 1: -> 4 (3); node 2 isolated;
        // node 3: <- 0 (1), -> 5 (0.5); node 4: <- 0 (2), 1 (3), -> 6 (4)
        assert_eq!(g.indptr, vec![0, 2, 3, 3, 5, 8, 9, 10]);
        assert_eq!(g.indices, vec![3, 4, 4, 0, 5, 0, 1, 6, 3, 4]);
        assert_eq!(
            g.data,
            vec![1.0, 2.0, 3.0, 1.0, 0.5, 2.0, 3.0, 4.0, 0.5, 4.0]
        );
        assert_eq!(g.degree, vec![3.0, 3.0, 0.0, 1.5, 9.0, 0.5, 4.0]);
        assert_eq!(degrees(&net), g.degree);
    }

    #[test]
    fn reduce_isolated_mapping() {
        // 3-3-2: input 1 and hidden 2 are isolated (hidden 2 only has stored zeros).
        let net = LayeredNet::new(vec![
            dense(3, 3, &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]),
            dense(3, 2, &[0.0, 5.0, 6.0, 0.0, 0.0, 0.0]),
        ])
        .unwrap();
        let (red, kept) = reduce_isolated(&net).unwrap();
        assert_eq!(kept, vec![0, 2, 3, 4, 6, 7]);
        assert_eq!(red.widths(), vec![2, 2, 2]);
        // layer 0: rows {0, 2}, cols {0, 1}: the stored zeros among them are kept
        assert_eq!(red.layers[0].indptr, vec![0, 2, 4]);
        assert_eq!(red.layers[0].indices, vec![0, 1, 0, 1]);
        assert_eq!(red.layers[0].data, vec![1.0, 0.0, 0.0, 2.0]);
        assert_eq!(red.layers[1].data, vec![0.0, 5.0, 6.0, 0.0]);
        // the reduced graph is the induced subgraph on the kept nodes
        let a = dense_adjacency(&net);
        let b = dense_adjacency(&red);
        for (x, &u) in kept.iter().enumerate() {
            for (y, &v) in kept.iter().enumerate() {
                assert_eq!(a[u][v], b[x][y]);
            }
        }
        assert!(degrees(&red).iter().all(|&d| d > 0.0));
    }

    #[test]
    fn reduce_isolated_empty_layer_is_an_error() {
        let net = LayeredNet::new(vec![
            dense(2, 2, &[0.0, 0.0, 0.0, 0.0]),
            dense(2, 1, &[0.0, 0.0]),
        ])
        .unwrap();
        let err = reduce_isolated(&net).unwrap_err().to_string();
        assert!(err.contains("layer 0"), "{err}");
        let net = LayeredNet::new(vec![
            dense(2, 2, &[1.0, 0.0, 0.0, 1.0]),
            dense(2, 2, &[0.0, 0.0, 0.0, 0.0]),
        ])
        .unwrap();
        let err = reduce_isolated(&net).unwrap_err().to_string();
        assert!(err.contains("layer 2") && err.contains("output"), "{err}");
    }

    #[test]
    fn bipartite_by_hand() {
        let net = small();
        let b = normalized_bipartite(&net).unwrap();
        assert_eq!(b.even, vec![0, 1, 5, 6]);
        assert_eq!(b.odd, vec![3, 4]);
        assert_eq!(b.degree, degrees(&net));
        assert_eq!((b.block.nrows, b.block.ncols), (4, 2));
        assert_eq!(b.block.indptr, vec![0, 2, 3, 4, 5]);
        assert_eq!(b.block.indices, vec![0, 1, 1, 0, 1]);
        let d = &b.degree;
        let want = [
            1.0 / (d[0] * d[3]).sqrt(),
            2.0 / (d[0] * d[4]).sqrt(),
            3.0 / (d[1] * d[4]).sqrt(),
            0.5 / (d[5] * d[3]).sqrt(),
            4.0 / (d[6] * d[4]).sqrt(),
        ];
        for (x, y) in b.block.data.iter().zip(want) {
            assert!((x - y).abs() < 1e-15);
        }
    }

    #[test]
    fn bipartite_without_edges_is_an_error() {
        let net = LayeredNet::new(vec![dense(2, 2, &[0.0; 4])]).unwrap();
        assert!(matches!(normalized_bipartite(&net), Err(Error::Value(_))));
    }

    #[test]
    fn check_canonical_rejects_unsorted_and_duplicates() {
        assert!(check_canonical(&small()).is_ok());
        for idx in [vec![1u32, 0], vec![1, 1]] {
            let layer = CsrLayer::new(1, 2, vec![0, 2], idx, vec![1.0, 2.0]).unwrap();
            let net = LayeredNet::new(vec![layer]).unwrap();
            assert!(matches!(check_canonical(&net), Err(Error::Value(_))));
        }
    }

    /// A random network: `widths` in 1..=6 per layer, entries zero with
    /// probability ~1/2, stored densely or sparsely.
    fn arb_net() -> impl Strategy<Value = LayeredNet> {
        prop::collection::vec(1usize..6, 2..6)
            .prop_flat_map(|widths| {
                let mats: Vec<_> = widths
                    .windows(2)
                    .map(|w| {
                        let (r, c) = (w[0], w[1]);
                        (
                            prop::collection::vec(prop_oneof![Just(0.0), -3.0f64..3.0], r * c),
                            any::<bool>(),
                        )
                            .prop_map(move |(v, d)| {
                                if d {
                                    dense(r, c, &v)
                                } else {
                                    sparse(r, c, &v)
                                }
                            })
                    })
                    .collect();
                mats
            })
            .prop_map(|layers| LayeredNet::new(layers).unwrap())
    }

    proptest! {
        #[test]
        fn adjacency_matches_dense(net in arb_net()) {
            let g = adjacency(&net);
            let want = dense_adjacency(&net);
            prop_assert_eq!(graph_to_dense(&g), want.clone());
            for u in 0..g.n {
                let row = &g.indices[g.indptr[u]..g.indptr[u + 1]];
                prop_assert!(row.windows(2).all(|w| w[0] < w[1]));
            }
            prop_assert!(g.data.iter().all(|&x| x > 0.0));
            prop_assert_eq!(&g.degree, &degrees(&net));
            for (row, &d) in want.iter().zip(&g.degree) {
                let s: f64 = row.iter().sum();
                prop_assert!((s - d).abs() <= 1e-12 * (1.0 + s));
            }
        }

        #[test]
        fn bipartite_matches_brute_force(net in arb_net()) {
            let a = dense_adjacency(&net);
            let n = net.n_nodes();
            let deg: Vec<f64> = a.iter().map(|r| r.iter().sum()).collect();
            let layer_of: Vec<usize> = net
                .widths()
                .iter()
                .enumerate()
                .flat_map(|(l, &w)| std::iter::repeat(l).take(w))
                .collect();
            let even: Vec<usize> =
                (0..n).filter(|&u| layer_of[u] % 2 == 0 && deg[u] > 0.0).collect();
            let odd: Vec<usize> =
                (0..n).filter(|&u| layer_of[u] % 2 == 1 && deg[u] > 0.0).collect();
            match normalized_bipartite(&net) {
                Err(_) => prop_assert!(even.is_empty() && odd.is_empty()),
                Ok(b) => {
                    prop_assert_eq!(&b.even, &even);
                    prop_assert_eq!(&b.odd, &odd);
                    prop_assert_eq!(&b.degree, &degrees(&net));
                    let blk = &b.block;
                    prop_assert_eq!((blk.nrows, blk.ncols), (even.len(), odd.len()));
                    let mut got = vec![vec![0.0; odd.len()]; even.len()];
                    for (r, grow) in got.iter_mut().enumerate() {
                        let row = &blk.indices[blk.indptr[r]..blk.indptr[r + 1]];
                        prop_assert!(row.windows(2).all(|w| w[0] < w[1]));
                        for p in blk.indptr[r]..blk.indptr[r + 1] {
                            prop_assert!(blk.data[p] > 0.0);
                            grow[blk.indices[p] as usize] = blk.data[p];
                        }
                    }
                    for (r, &u) in even.iter().enumerate() {
                        for (c, &v) in odd.iter().enumerate() {
                            let want = a[u][v] / (deg[u] * deg[v]).sqrt();
                            prop_assert!((got[r][c] - want).abs() <= 1e-14 * (1.0 + want));
                        }
                    }
                }
            }
        }

        #[test]
        fn reduce_isolated_keeps_induced_subgraph(net in arb_net()) {
            let deg = degrees(&net);
            match reduce_isolated(&net) {
                Err(_) => {
                    let off = net.offsets();
                    prop_assert!(net
                        .widths()
                        .iter()
                        .enumerate()
                        .any(|(l, _)| deg[off[l]..off[l + 1]].iter().all(|&d| d == 0.0)));
                }
                Ok((red, kept)) => {
                    let want: Vec<usize> = (0..deg.len()).filter(|&u| deg[u] > 0.0).collect();
                    prop_assert_eq!(&kept, &want);
                    let a = dense_adjacency(&net);
                    let b = dense_adjacency(&red);
                    for (x, &u) in kept.iter().enumerate() {
                        for (y, &v) in kept.iter().enumerate() {
                            prop_assert_eq!(a[u][v], b[x][y]);
                        }
                    }
                    prop_assert!(check_canonical(&red).is_ok());
                }
            }
        }
    }
}
