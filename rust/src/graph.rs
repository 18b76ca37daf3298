//! Network → graph (method.md §1).
//!
//! A [`Network`] is an undirected, weighted graph on all its neurons. Node ids
//! are global and in group order (see [`Network::offsets`]); for a chain,
//! layer 0's neurons (the inputs) come first, then layer 1's, and so on.
//! Neuron `i` of group `a` and neuron `j` of group `b` are joined by an edge of
//! weight `|W[i, j]|` for every edge group `a → b` (parallel edge groups add
//! up); stored zeros are not edges.
//!
//! Every function here reads the edge groups directly; only [`adjacency`]
//! builds the full CSR adjacency. The hot path of a null sample is
//! [`normalized_bipartite`], which goes from the edge groups to the normalized
//! even-to-odd block in two passes over the stored weights.
//!
//! **Summation order.** Degrees (and the cuts and volumes of [`crate::cut`])
//! are sums of `|w|` in edge-group order, entries in storage order. A chain
//! adds each row's weights to its source neuron as one sum (no loop-carried
//! dependency through memory: the fast path); any other network adds them one
//! by one. Both orders are those of the two former cores, so chains and group
//! networks keep their numbers bit for bit; every function of a network uses
//! the same order, so they agree bit for bit.
//!
//! All functions expect canonical layers (column indices strictly increasing
//! within each row, as [`Network::new`] and [`Network::chain`] check and the
//! shuffles produce).

use crate::error::{Error, Result};
use crate::net::{CsrLayer, EdgeGroup, Network};

/// Symmetric adjacency over all nodes of a network, in CSR form.
///
/// `A[u, v] = Σ |w|` over the weights joining `u` and `v`; only non-zero
/// weights are stored, column indices are sorted within each row, and isolated
/// nodes have empty rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// Number of nodes (all neurons of all groups).
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

/// The normalized adjacency `D^-1/2 A D^-1/2` of a bipartite network, reduced
/// to its even-to-odd block over non-isolated nodes.
///
/// The sides are the [`colouring`] of the groups (for a chain: even and odd
/// neuron layers). After ordering nodes as `even ++ odd` the full normalized
/// adjacency is `[[0, B], [Bᵀ, 0]]`; its eigenpairs are `±σ` with eigenvectors
/// built from the singular vectors of `B` (method.md §2).
#[derive(Clone, Debug, PartialEq)]
pub struct Bipartite {
    /// Ascending global ids of the non-isolated nodes of colour 0 (for a
    /// chain: even-indexed neuron layers, layer 0 included); row `r` of
    /// `block` is `even[r]`.
    pub even: Vec<usize>,
    /// Ascending global ids of the non-isolated nodes of colour 1; column `c`
    /// of `block` is `odd[c]`.
    pub odd: Vec<usize>,
    /// `block[r, c] = A[u, v] / sqrt(degree[u] * degree[v])` for `u = even[r]`,
    /// `v = odd[c]` (computed as `A[u, v] · d_u^-1/2 · d_v^-1/2`); no zeros stored.
    pub block: SparseBlock,
    /// Weighted degree of every node of the network (length `n_nodes`, isolated
    /// nodes included with 0); bit-identical to [`degrees`].
    pub degree: Vec<f64>,
}

/// The entries of a per-node vector for groups `a` and `b` (`a != b`).
#[inline]
fn two_groups<'a, T>(
    v: &'a mut [T],
    off: &[usize],
    a: usize,
    b: usize,
) -> (&'a mut [T], &'a mut [T]) {
    debug_assert_ne!(a, b);
    if a < b {
        let (lo, hi) = v.split_at_mut(off[b]);
        (&mut lo[off[a]..off[a + 1]], &mut hi[..off[b + 1] - off[b]])
    } else {
        let (lo, hi) = v.split_at_mut(off[a]);
        (&mut hi[..off[a + 1] - off[a]], &mut lo[off[b]..off[b + 1]])
    }
}

/// One pass over an edge group's stored weights accumulating degrees: each
/// `|w|` is added to `dst_deg[col]`, and to `src_deg[row]` one by one or, with
/// `ROW_SUM`, as one sum per row. With `COUNT_SRC` / `COUNT_DST` it also
/// counts non-zero entries per row / per column.
///
/// Stored zeros add `+0.0`, which changes no sum, so the result does not
/// depend on them. Every function reporting degrees goes through here, edge
/// group by edge group in order, so they agree bit for bit.
#[inline]
fn scan_layer<const ROW_SUM: bool, const COUNT_SRC: bool, const COUNT_DST: bool>(
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
            if ROW_SUM {
                sum += a;
            } else {
                src_deg[i] += a;
            }
            dst_deg[j as usize] += a;
            if COUNT_SRC {
                nonzero += usize::from(w != 0.0);
            }
            if COUNT_DST {
                dst_cnt[j as usize] += usize::from(w != 0.0);
            }
        }
        if ROW_SUM {
            src_deg[i] += sum;
        }
        if COUNT_SRC {
            src_cnt[i] += nonzero;
        }
    }
}

/// [`scan_layer`] for an edge group within one group (a strictly upper triangular
/// matrix, each undirected edge once): `|w|` is added to both ends; with a non-empty
/// `cnt` the non-zero entries of both ends are counted.
fn scan_within(layer: &CsrLayer, deg: &mut [f64], cnt: &mut [usize]) {
    for i in 0..layer.rows {
        let (s, e) = (layer.indptr[i], layer.indptr[i + 1]);
        for (&j, &w) in layer.indices[s..e].iter().zip(&layer.data[s..e]) {
            let a = w.abs();
            deg[i] += a;
            deg[j as usize] += a;
            if !cnt.is_empty() {
                cnt[i] += usize::from(w != 0.0);
                cnt[j as usize] += usize::from(w != 0.0);
            }
        }
    }
}

/// [`scan_layer`] over every edge group of `net` in order, in the network's
/// summation order; `count_src(e)` / `count_dst(e)` choose, per edge group,
/// whether the non-zero entries of its source / destination nodes are counted.
fn scan_net(
    net: &Network,
    deg: &mut [f64],
    count: &mut [usize],
    count_src: impl Fn(&EdgeGroup) -> bool,
    count_dst: impl Fn(&EdgeGroup) -> bool,
) {
    let off = net.offsets();
    let row_sums = net.is_chain();
    for eg in &net.edges {
        if eg.src == eg.dst {
            // edges within one group (activation graphs): both ends in the same slice
            let range = off[eg.src]..off[eg.src + 1];
            let counting = !count.is_empty() && (count_src(eg) || count_dst(eg));
            let cnt = if counting {
                &mut count[range.clone()]
            } else {
                &mut [][..]
            };
            scan_within(&eg.layer, &mut deg[range], cnt);
            continue;
        }
        let (sd, dd) = two_groups(deg, &off, eg.src, eg.dst);
        let (cs, cd) = if count.is_empty() {
            (&mut [][..], &mut [][..])
        } else {
            two_groups(count, &off, eg.src, eg.dst)
        };
        let l = &eg.layer;
        match (row_sums, count_src(eg), count_dst(eg)) {
            (true, false, false) => scan_layer::<true, false, false>(l, sd, dd, cs, cd),
            (true, true, false) => scan_layer::<true, true, false>(l, sd, dd, cs, cd),
            (true, false, true) => scan_layer::<true, false, true>(l, sd, dd, cs, cd),
            (true, true, true) => scan_layer::<true, true, true>(l, sd, dd, cs, cd),
            (false, false, false) => scan_layer::<false, false, false>(l, sd, dd, cs, cd),
            (false, true, false) => scan_layer::<false, true, false>(l, sd, dd, cs, cd),
            (false, false, true) => scan_layer::<false, false, true>(l, sd, dd, cs, cd),
            (false, true, true) => scan_layer::<false, true, true>(l, sd, dd, cs, cd),
        }
    }
}

/// Weighted degree of every node: `Σ |w|` over the node's incident edges.
///
/// Reads the edge groups once without building the adjacency, in the
/// network's summation order (module docs).
pub fn degrees(net: &Network) -> Vec<f64> {
    let mut deg = vec![0.0; net.n_nodes()];
    scan_net(net, &mut deg, &mut [], |_| false, |_| false);
    deg
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

/// Columns per tile of [`for_each_edge_tiled`].
const EDGE_TILE: usize = 32;

/// [`for_each_edge`] over tiles of [`EDGE_TILE`] columns when the rows are long
/// (every row's entries of the first tile, then of the next, …): each row's
/// entries still come in storage order and each column's in row order (columns
/// are sorted within a row), only the two orders are interleaved differently.
#[inline]
fn for_each_edge_tiled(layer: &CsrLayer, mut f: impl FnMut(usize, usize, f64)) {
    let ntiles = layer.cols.div_ceil(EDGE_TILE);
    if ntiles <= 1 || layer.rows * ntiles * 4 > layer.indices.len() {
        return for_each_edge(layer, f);
    }
    let mut cur: Vec<usize> = layer.indptr[..layer.rows].to_vec();
    for t in 0..ntiles {
        let c1 = ((t + 1) * EDGE_TILE).min(layer.cols) as u32;
        for (i, p) in cur.iter_mut().enumerate() {
            let end = layer.indptr[i + 1];
            while *p < end && layer.indices[*p] < c1 {
                let w = layer.data[*p];
                if w != 0.0 {
                    f(i, layer.indices[*p] as usize, w.abs());
                }
                *p += 1;
            }
        }
    }
}

/// Row pointers from per-row counts.
fn indptr_of(count: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut indptr = vec![0usize];
    for c in count {
        indptr.push(indptr.last().unwrap() + c);
    }
    indptr
}

/// Sort the entries of every row by column (stably: parallel edges keep
/// edge-group order) and add up entries with the same column, left to right.
/// Rows already strictly increasing are left as they are.
///
/// A row is filled as a sequence of ascending runs (one per edge group touching its
/// node), so it is split into its maximal strictly ascending runs and those are merged,
/// ties taken from the earliest run first: the order a stable sort gives, and the same
/// left-to-right sums (bit-identical to sorting; tested against it). Rows are
/// compacted in place through a scratch copy of one row.
fn sort_and_merge(indptr: &mut [usize], indices: &mut Vec<u32>, data: &mut Vec<f64>) {
    let rows = indptr.len() - 1;
    let (mut si, mut sd) = (Vec::<u32>::new(), Vec::<f64>::new());
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut w = 0; // write position (never past the read position)
    let mut start = 0;
    for r in 0..rows {
        let end = indptr[r + 1];
        runs.clear();
        let mut a = 0;
        for p in start + 1..end {
            if indices[p] <= indices[p - 1] {
                runs.push((a, p - start));
                a = p - start;
            }
        }
        if runs.is_empty() {
            // one ascending run: already sorted, no column twice
            if w != start {
                indices.copy_within(start..end, w);
                data.copy_within(start..end, w);
            }
            w += end - start;
        } else {
            runs.push((a, end - start));
            si.clear();
            sd.clear();
            si.extend_from_slice(&indices[start..end]);
            sd.extend_from_slice(&data[start..end]);
            let row_start = w;
            loop {
                let mut best = usize::MAX;
                let mut bv = 0u32;
                for (q, &(h, e)) in runs.iter().enumerate() {
                    if h < e && (best == usize::MAX || si[h] < bv) {
                        best = q;
                        bv = si[h];
                    }
                }
                if best == usize::MAX {
                    break;
                }
                let h = runs[best].0;
                runs[best].0 += 1;
                if w > row_start && indices[w - 1] == bv {
                    data[w - 1] += sd[h];
                } else {
                    indices[w] = bv;
                    data[w] = sd[h];
                    w += 1;
                }
            }
        }
        start = end;
        indptr[r + 1] = w;
    }
    indices.truncate(w);
    data.truncate(w);
}

/// The full symmetric adjacency of `net` (see [`Graph`]).
///
/// Two passes over the stored weights: count each node's edges, then fill the
/// rows in edge-group order; rows are then sorted and parallel edges added up
/// (a chain's rows come out sorted: a node's neighbours in the previous layer
/// precede those in the next). Node ids must fit in `u32`.
pub fn adjacency(net: &Network) -> Graph {
    let off = net.offsets();
    let n = net.n_nodes();
    let mut deg = vec![0.0; n];
    let mut count = vec![0usize; n];
    scan_net(net, &mut deg, &mut count, |_| true, |_| true);
    let mut indptr = indptr_of(count.iter().copied());
    let nnz = indptr[n];
    let mut indices = vec![0u32; nnz];
    let mut data = vec![0.0; nnz];
    let mut cursor = indptr[..n].to_vec();
    for eg in &net.edges {
        let (a0, b0) = (off[eg.src], off[eg.dst]);
        let fill = |i: usize, j: usize, a: f64| {
            let (u, v) = (a0 + i, b0 + j);
            let p = cursor[u];
            indices[p] = v as u32;
            data[p] = a;
            cursor[u] += 1;
            let q = cursor[v];
            indices[q] = u as u32;
            data[q] = a;
            cursor[v] += 1;
        };
        // between two groups every node's row is filled by one side only, in the
        // same order either way; the tiles keep the scattered rows in cache
        if eg.src != eg.dst {
            for_each_edge_tiled(&eg.layer, fill);
        } else {
            for_each_edge(&eg.layer, fill);
        }
    }
    sort_and_merge(&mut indptr, &mut indices, &mut data);
    Graph {
        n,
        indptr,
        indices,
        data,
        degree: deg,
    }
}

/// A 2-colouring of the groups along edge groups with a non-zero weight, or
/// `None` when the group graph has an odd cycle. A chain's colouring is the
/// parity of its layers (whatever weights are zero); otherwise every connected
/// part of the group graph starts with colour 0 at its lowest group.
pub fn colouring(net: &Network) -> Option<Vec<u8>> {
    let ng = net.sizes.len();
    if net.is_chain() {
        return Some((0..ng).map(|g| (g % 2) as u8).collect());
    }
    let mut adj = vec![Vec::new(); ng];
    for eg in &net.edges {
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

/// Remove isolated (degree-0) neurons from every group.
///
/// Returns the reduced network (rows and columns of isolated neurons deleted,
/// so sizes shrink; stored zeros between surviving neurons are kept) and the
/// ascending global ids, in `net`, of the kept nodes: node `k` of the reduced
/// network is node `kept[k]` of `net`. Groups of a general network may become
/// empty; a chain's may not.
///
/// # Errors
/// [`Error::Value`] if every weight is zero, or if some neuron layer of a chain
/// has no neuron with a non-zero weight (the reduced chain would have a layer
/// of width 0).
pub fn reduce_isolated(net: &Network) -> Result<(Network, Vec<usize>)> {
    let deg = degrees(net);
    let widths = &net.sizes;
    let off = net.offsets();
    let chain = net.is_chain();
    if !chain && deg.iter().all(|&d| d == 0.0) {
        return Err(Error::Value(
            "all weights are zero: the network has no edges".into(),
        ));
    }
    // new_index[u] = index of node u within its group in the reduced net, or u32::MAX.
    let mut new_index = vec![u32::MAX; deg.len()];
    let mut kept = Vec::with_capacity(deg.len());
    let mut sizes = Vec::with_capacity(widths.len());
    for (l, &w) in widths.iter().enumerate() {
        let mut next = 0u32;
        for u in off[l]..off[l] + w {
            if deg[u] > 0.0 {
                new_index[u] = next;
                next += 1;
                kept.push(u);
            }
        }
        if chain && next == 0 {
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
        sizes.push(next as usize);
    }
    let edges = net
        .edges
        .iter()
        .map(|eg| EdgeGroup {
            src: eg.src,
            dst: eg.dst,
            layer: restrict(
                &eg.layer,
                &new_index[off[eg.src]..off[eg.src + 1]],
                &new_index[off[eg.dst]..off[eg.dst + 1]],
            ),
        })
        .collect();
    Ok((Network { sizes, edges }, kept))
}

/// The rows and columns of `layer` whose map entry is not `u32::MAX`, renumbered
/// by the maps (`row_map[i]` / `col_map[j]`: new index or `u32::MAX` = dropped);
/// stored zeros between kept entries stay stored.
fn restrict(layer: &CsrLayer, row_map: &[u32], col_map: &[u32]) -> CsrLayer {
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

/// The even-to-odd block of the normalized adjacency over non-isolated nodes
/// (see [`Bipartite`]), built straight from the edge groups.
///
/// # Errors
/// [`Error::Value`] if the group graph is not 2-colourable or the network has
/// no non-zero weight.
pub fn normalized_bipartite(net: &Network) -> Result<Bipartite> {
    let colour = colouring(net).ok_or_else(|| {
        Error::Value("the network is not bipartite: its group graph has an odd cycle".into())
    })?;
    bipartite_with(net, &colour)
}

/// [`normalized_bipartite`] for the 2-colouring `colour` of the groups.
///
/// Pass 1 accumulates degrees and counts each even node's edges; pass 2 fills
/// the rows of the block in edge-group order. A chain's rows come out sorted
/// (an even node's neighbours in the previous layer precede those in the
/// next) and are scaled as they are filled; other networks' rows are sorted,
/// their parallel edges added up, then scaled.
pub(crate) fn bipartite_with(net: &Network, colour: &[u8]) -> Result<Bipartite> {
    let off = net.offsets();
    let n = net.n_nodes();
    let chain = net.is_chain();
    let mut deg = vec![0.0; n];
    // Edge count of every even node (entries for odd nodes stay 0).
    let mut count = vec![0usize; n];
    scan_net(
        net,
        &mut deg,
        &mut count,
        |eg| colour[eg.src] == 0,
        |eg| colour[eg.dst] == 0,
    );

    // Kept nodes, their position in `even`/`odd`, and d^-1/2.
    let mut even = Vec::new();
    let mut odd = Vec::new();
    let mut pos = vec![u32::MAX; n];
    let mut inv_sqrt = vec![0.0; n];
    for (g, &c) in colour.iter().enumerate() {
        let list = if c == 0 { &mut even } else { &mut odd };
        for u in off[g]..off[g + 1] {
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
    let mut indptr = indptr_of(even.iter().map(|&u| count[u]));
    let nnz = indptr[nrows];
    let mut indices = vec![0u32; nnz];
    let mut data = vec![0.0; nnz];
    let mut cursor = indptr[..nrows].to_vec();
    for eg in &net.edges {
        let (a0, b0) = (off[eg.src], off[eg.dst]);
        let src_even = colour[eg.src] == 0;
        for_each_edge(&eg.layer, |i, j, a| {
            let (u, v) = if src_even {
                (a0 + i, b0 + j)
            } else {
                (b0 + j, a0 + i)
            };
            let r = pos[u] as usize;
            let p = cursor[r];
            indices[p] = pos[v];
            // a chain's entry is final; others are scaled after merging
            data[p] = if chain {
                a * inv_sqrt[u] * inv_sqrt[v]
            } else {
                a
            };
            cursor[r] += 1;
        });
    }
    if !chain {
        sort_and_merge(&mut indptr, &mut indices, &mut data);
        for (r, &u) in even.iter().enumerate() {
            for p in indptr[r]..indptr[r + 1] {
                data[p] = data[p] * inv_sqrt[u] * inv_sqrt[odd[indices[p] as usize]];
            }
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
    fn dense_adjacency(net: &Network) -> Vec<Vec<f64>> {
        let n = net.n_nodes();
        let off = net.offsets();
        let mut a = vec![vec![0.0; n]; n];
        for (l, layer) in net.layers().enumerate() {
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
    fn small() -> Network {
        Network::chain(vec![
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
        let net = Network::chain(vec![
            dense(3, 3, &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]),
            dense(3, 2, &[0.0, 5.0, 6.0, 0.0, 0.0, 0.0]),
        ])
        .unwrap();
        let (red, kept) = reduce_isolated(&net).unwrap();
        assert_eq!(kept, vec![0, 2, 3, 4, 6, 7]);
        assert_eq!(red.widths(), vec![2, 2, 2]);
        // layer 0: rows {0, 2}, cols {0, 1}: the stored zeros among them are kept
        assert_eq!(red.edges[0].layer.indptr, vec![0, 2, 4]);
        assert_eq!(red.edges[0].layer.indices, vec![0, 1, 0, 1]);
        assert_eq!(red.edges[0].layer.data, vec![1.0, 0.0, 0.0, 2.0]);
        assert_eq!(red.edges[1].layer.data, vec![0.0, 5.0, 6.0, 0.0]);
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
        let net = Network::chain(vec![
            dense(2, 2, &[0.0, 0.0, 0.0, 0.0]),
            dense(2, 1, &[0.0, 0.0]),
        ])
        .unwrap();
        let err = reduce_isolated(&net).unwrap_err().to_string();
        assert!(err.contains("layer 0"), "{err}");
        let net = Network::chain(vec![
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
        let net = Network::chain(vec![dense(2, 2, &[0.0; 4])]).unwrap();
        assert!(matches!(normalized_bipartite(&net), Err(Error::Value(_))));
    }

    #[test]
    fn colouring_finds_odd_cycles() {
        let g = crate::testkit::planted_residual(8, 2, 1);
        assert!(colouring(&g).is_none());
        assert!(matches!(normalized_bipartite(&g), Err(Error::Value(_))));
        let e = |src, dst, r, c| EdgeGroup {
            src,
            dst,
            layer: dense(r, c, &vec![1.0; r * c]),
        };
        let chain = Network::new(vec![2, 3, 2], vec![e(0, 1, 2, 3), e(1, 2, 3, 2)]).unwrap();
        assert!(chain.is_chain());
        assert_eq!(colouring(&chain), Some(vec![0, 1, 0]));
        // a chain's colouring is the layer parity even across an all-zero layer
        let mut z = chain.clone();
        z.edges[0].layer.data.fill(0.0);
        assert_eq!(colouring(&z), Some(vec![0, 1, 0]));
        // the same edge groups in another order: not a chain, same colouring
        let other = Network::new(vec![2, 3, 2], vec![e(1, 2, 3, 2), e(0, 1, 2, 3)]).unwrap();
        assert!(!other.is_chain());
        assert_eq!(colouring(&other), Some(vec![0, 1, 0]));
    }

    #[test]
    fn edges_within_a_group_are_undirected_edges_of_that_group() {
        // group 0 (3 nodes) with edges 0-1 (2.0) and 1-2 (-3.0) inside it, and 1 -> group 1
        let within = sparse(3, 3, &[0.0, 2.0, 0.0, 0.0, 0.0, -3.0, 0.0, 0.0, 0.0]);
        let g = Network::new(
            vec![3, 1],
            vec![
                EdgeGroup {
                    src: 0,
                    dst: 0,
                    layer: within,
                },
                EdgeGroup {
                    src: 0,
                    dst: 1,
                    layer: dense(3, 1, &[0.0, 1.0, 0.0]),
                },
            ],
        )
        .unwrap();
        let a = adjacency(&g);
        let want = vec![
            vec![0.0, 2.0, 0.0, 0.0],
            vec![2.0, 0.0, 3.0, 1.0],
            vec![0.0, 3.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0, 0.0],
        ];
        assert_eq!(graph_to_dense(&a), want);
        assert_eq!(a.degree, vec![2.0, 6.0, 3.0, 1.0]);
        assert_eq!(degrees(&g), a.degree);
        assert_eq!(colouring(&g), None); // a group joined to itself: not bipartite
                                         // a matrix below the diagonal, or a self-loop, is refused
        for bad in [
            sparse(2, 2, &[0.0, 0.0, 1.0, 0.0]),
            sparse(2, 2, &[1.0, 0.0, 0.0, 0.0]),
        ] {
            let e = vec![EdgeGroup {
                src: 0,
                dst: 0,
                layer: bad,
            }];
            assert!(Network::new(vec![2], e).is_err());
        }
    }

    #[test]
    fn adjacency_sums_parallel_edges_and_matches_degrees() {
        let e = |w: f64| EdgeGroup {
            src: 0,
            dst: 1,
            layer: dense(2, 2, &[w, 0.0, 0.0, w]),
        };
        let g = Network::new(vec![2, 2], vec![e(1.0), e(-2.0)]).unwrap();
        let a = adjacency(&g);
        assert_eq!(a.indptr, vec![0, 1, 2, 3, 4]);
        assert_eq!(a.data, vec![3.0; 4]);
        assert_eq!(a.degree, vec![3.0; 4]);
        assert_eq!(degrees(&g), a.degree);
        let b = normalized_bipartite(&g).unwrap();
        assert_eq!(b.block.indptr, vec![0, 1, 2]);
        assert_eq!(
            b.block.data,
            vec![3.0 * (1.0 / 3f64.sqrt()) * (1.0 / 3f64.sqrt()); 2]
        );
    }

    #[test]
    fn reduce_isolated_of_a_general_network_may_empty_a_group() {
        let e = |src, dst, v: &[f64]| EdgeGroup {
            src,
            dst,
            layer: dense(2, 2, v),
        };
        let g = Network::new(
            vec![2, 2, 2],
            vec![e(0, 2, &[1.0, 0.0, 0.0, 2.0]), e(1, 2, &[0.0; 4])],
        )
        .unwrap();
        let (red, kept) = reduce_isolated(&g).unwrap();
        assert_eq!(red.sizes, vec![2, 0, 2]);
        assert_eq!(kept, vec![0, 1, 4, 5]);
        let zero = Network::new(vec![2, 2, 2], vec![e(0, 2, &[0.0; 4])]).unwrap();
        assert!(reduce_isolated(&zero).is_err());
    }

    #[test]
    fn constructors_reject_unsorted_and_duplicates() {
        for idx in [vec![1u32, 0], vec![1, 1]] {
            let layer = CsrLayer::new(1, 2, vec![0, 2], idx, vec![1.0, 2.0]).unwrap();
            let err = Network::chain(vec![layer.clone()]).unwrap_err();
            assert!(matches!(err, Error::Value(_)) && err.to_string().contains("layer 0"));
            let eg = EdgeGroup {
                src: 0,
                dst: 1,
                layer,
            };
            let err = Network::new(vec![1, 2], vec![eg]).unwrap_err();
            assert!(err.to_string().contains("edge group 0: row 0"), "{err}");
        }
    }

    /// A random network: `widths` in 1..=6 per layer, entries zero with
    /// probability ~1/2, stored densely or sparsely.
    fn arb_net() -> impl Strategy<Value = Network> {
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
            .prop_map(|layers| Network::chain(layers).unwrap())
    }

    /// The first implementation (copy each row, stable sort, merge): the specification.
    fn sort_and_merge_by_sorting(
        indptr: &mut [usize],
        indices: &mut Vec<u32>,
        data: &mut Vec<f64>,
    ) {
        let rows = indptr.len() - 1;
        let sorted = (0..rows).all(|r| {
            indices[indptr[r]..indptr[r + 1]]
                .windows(2)
                .all(|w| w[0] < w[1])
        });
        if sorted {
            return;
        }
        let mut ent: Vec<(u32, f64)> = Vec::with_capacity(indices.len());
        let (mut out_i, mut out_d) = (
            Vec::with_capacity(indices.len()),
            Vec::with_capacity(data.len()),
        );
        let mut start = 0;
        for r in 0..rows {
            ent.clear();
            ent.extend((start..indptr[r + 1]).map(|p| (indices[p], data[p])));
            ent.sort_by_key(|e| e.0);
            let row_start = out_i.len();
            for &(v, a) in &ent {
                if out_i.len() > row_start && *out_i.last().unwrap() == v {
                    *out_d.last_mut().unwrap() += a;
                } else {
                    out_i.push(v);
                    out_d.push(a);
                }
            }
            start = indptr[r + 1];
            indptr[r + 1] = out_i.len();
        }
        *indices = out_i;
        *data = out_d;
    }

    proptest! {
        #[test]
        fn merging_runs_equals_sorting(
            rows in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::collection::btree_map(0u32..40, -2.0f64..2.0, 0..12), 0..4),
                0..12),
        ) {
            // each row: a few ascending runs (edge groups), columns may repeat across runs
            let (mut indptr, mut indices, mut data) = (vec![0usize], vec![], vec![]);
            for runs in &rows {
                for run in runs {
                    for (&c, &v) in run {
                        indices.push(c);
                        data.push(if v.abs() < 0.1 { -0.0 } else { v });
                    }
                }
                indptr.push(indices.len());
            }
            let (mut p1, mut i1, mut d1) = (indptr.clone(), indices.clone(), data.clone());
            let (mut p2, mut i2, mut d2) = (indptr, indices, data);
            sort_and_merge(&mut p1, &mut i1, &mut d1);
            sort_and_merge_by_sorting(&mut p2, &mut i2, &mut d2);
            prop_assert_eq!(p1, p2);
            prop_assert_eq!(i1, i2);
            let b1: Vec<u64> = d1.iter().map(|x| x.to_bits()).collect();
            let b2: Vec<u64> = d2.iter().map(|x| x.to_bits()).collect();
            prop_assert_eq!(b1, b2);
        }

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
                .flat_map(|(l, &w)| std::iter::repeat_n(l, w))
                .collect();
            let even: Vec<usize> =
                (0..n).filter(|&u| layer_of[u].is_multiple_of(2) && deg[u] > 0.0).collect();
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
                    prop_assert!(Network::new(red.sizes.clone(), red.edges.clone()).is_ok());
                }
            }
        }
    }

    /// The adjacency filled through column tiles equals the one filled row by
    /// row, bit for bit: wide dense and sparse edge groups (signed and zero
    /// weights), parallel edge groups between the same groups (summed in edge
    /// group order), a skip, and a within-group edge group (filled row by row).
    #[test]
    fn tiled_adjacency_equals_row_by_row() {
        use crate::net::{CsrLayer, EdgeGroup, Network};
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let sizes = vec![70usize, 3 * EDGE_TILE + 5, 40, 20];
        let mut group = |src: usize, dst: usize, density: f64| {
            let (r, c) = (sizes[src], sizes[dst]);
            let vals: Vec<f64> = (0..r * c)
                .map(|p| {
                    if src == dst && p % c <= p / c {
                        0.0
                    } else if rng.random::<f64>() < density {
                        if rng.random::<f64>() < 0.05 {
                            0.0
                        } else {
                            rng.random::<f64>() - 0.5
                        }
                    } else {
                        0.0
                    }
                })
                .collect();
            let layer = if src == dst {
                // strictly upper triangular: only the entries above the diagonal stored
                let (mut indptr, mut indices, mut data) = (vec![0], vec![], vec![]);
                for i in 0..r {
                    for j in i + 1..c {
                        indices.push(j as u32);
                        data.push(vals[i * c + j]);
                    }
                    indptr.push(indices.len());
                }
                CsrLayer::new(r, c, indptr, indices, data).unwrap()
            } else {
                CsrLayer::from_dense(r, c, &vals).unwrap()
            };
            EdgeGroup { src, dst, layer }
        };
        let edges = vec![
            group(0, 1, 1.0),
            group(1, 2, 0.9),
            group(0, 2, 0.3),
            group(0, 1, 0.5),
            group(2, 2, 0.5),
            group(2, 3, 0.05),
        ];
        let net = Network::new(sizes.clone(), edges).unwrap();
        let got = adjacency(&net);
        // the reference: every edge group row by row
        let off = net.offsets();
        let n = net.n_nodes();
        let (mut deg, mut count) = (vec![0.0; n], vec![0usize; n]);
        scan_net(&net, &mut deg, &mut count, |_| true, |_| true);
        let mut indptr = indptr_of(count.iter().copied());
        let mut indices = vec![0u32; indptr[n]];
        let mut data = vec![0.0; indptr[n]];
        let mut cursor = indptr[..n].to_vec();
        for eg in &net.edges {
            let (a0, b0) = (off[eg.src], off[eg.dst]);
            for_each_edge(&eg.layer, |i, j, a| {
                let (u, v) = (a0 + i, b0 + j);
                indices[cursor[u]] = v as u32;
                data[cursor[u]] = a;
                cursor[u] += 1;
                indices[cursor[v]] = u as u32;
                data[cursor[v]] = a;
                cursor[v] += 1;
            });
        }
        sort_and_merge(&mut indptr, &mut indices, &mut data);
        assert_eq!(got.indptr, indptr);
        assert_eq!(got.indices, indices);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got.data), bits(&data));
        assert_eq!(bits(&got.degree), bits(&deg));
    }
}
