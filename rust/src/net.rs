//! The network: the one input type every other module consumes.
//!
//! A [`Network`] has node groups of sizes `sizes` (the network's input and the
//! outputs of every weight layer) and edge groups, each a weight matrix in CSR
//! form from one group (rows) to another (columns); entry `(i, j)` is the weight
//! from neuron `i` of the source group to neuron `j` of the destination group.
//! Node ids are global, in group order. Skips, concatenations and parallel
//! branches are edge groups between any two groups; parallel edge groups
//! between the same two groups add up in the graph, and each edge group is
//! shuffled on its own. Only the absolute value of a weight matters to the
//! graph, but shuffles keep the signed values so that a shuffled network is a
//! network.
//!
//! A layered feed-forward network with widths `n0, n1, …, nL` is the *chain*:
//! groups `0 … L`, edge group `l` from group `l` to group `l + 1`
//! ([`Network::chain`], [`Network::is_chain`]). Chains are recognised by their
//! structure alone, whichever constructor built them; they take the fast path
//! of every function (each row's weights added to its node's sums at once,
//! see [`crate::graph::degrees`]), which keeps their numbers bit-identical to
//! the former layered-only core.

use crate::error::{Error, Result};

/// One weight matrix in compressed sparse row form (`rows` inputs × `cols` outputs).
/// Explicitly stored zeros are allowed (dense inputs are stored with all entries).
#[derive(Clone, Debug, PartialEq)]
pub struct CsrLayer {
    pub rows: usize,
    pub cols: usize,
    /// Row pointers, length `rows + 1`.
    pub indptr: Vec<usize>,
    /// Column index of every stored entry, sorted within a row.
    pub indices: Vec<u32>,
    /// Stored values (signed weights).
    pub data: Vec<f64>,
}

impl CsrLayer {
    /// Build and validate a CSR layer.
    pub fn new(
        rows: usize,
        cols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        data: Vec<f64>,
    ) -> Result<Self> {
        if indptr.len() != rows + 1 {
            return Err(Error::Shape(format!(
                "indptr has length {} but the layer has {} rows (expected {})",
                indptr.len(),
                rows,
                rows + 1
            )));
        }
        if indptr[0] != 0 || indptr.windows(2).any(|w| w[0] > w[1]) {
            return Err(Error::Shape(
                "indptr must start at 0 and never decrease".into(),
            ));
        }
        let nnz = *indptr.last().unwrap();
        if indices.len() != nnz || data.len() != nnz {
            return Err(Error::Shape(format!(
                "indptr says {} stored entries but indices has {} and data has {}",
                nnz,
                indices.len(),
                data.len()
            )));
        }
        if let Some(&c) = indices.iter().find(|&&c| c as usize >= cols) {
            return Err(Error::Shape(format!(
                "column index {c} out of range for a layer with {cols} columns"
            )));
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(Error::Value(
                "weights contain NaN or infinite values".into(),
            ));
        }
        Ok(Self {
            rows,
            cols,
            indptr,
            indices,
            data,
        })
    }

    /// Dense row-major constructor (all entries stored, zeros included).
    pub fn from_dense(rows: usize, cols: usize, values: &[f64]) -> Result<Self> {
        if values.len() != rows * cols {
            return Err(Error::Shape(format!(
                "dense layer has {} values, expected {rows}×{cols}",
                values.len()
            )));
        }
        let indptr = (0..=rows).map(|r| r * cols).collect();
        let indices = (0..rows).flat_map(|_| 0..cols as u32).collect();
        Self::new(rows, cols, indptr, indices, values.to_vec())
    }

    /// Square with every stored entry above the diagonal: the form of an edge group
    /// within one node group (each undirected edge `(i, j)`, `i < j`, stored once).
    pub fn is_strictly_upper(&self) -> bool {
        self.rows == self.cols
            && (0..self.rows).all(|r| {
                self.indices[self.indptr[r]..self.indptr[r + 1]]
                    .iter()
                    .all(|&c| c as usize > r)
            })
    }

    pub fn nnz(&self) -> usize {
        self.data.len()
    }

    /// Iterate over stored entries as `(row, col, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (usize, usize, f64)> + '_ {
        (0..self.rows).flat_map(move |r| {
            (self.indptr[r]..self.indptr[r + 1])
                .map(move |p| (r, self.indices[p] as usize, self.data[p]))
        })
    }
}

/// A weight matrix from node group `src` (rows) to node group `dst` (columns).
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeGroup {
    pub src: usize,
    pub dst: usize,
    pub layer: CsrLayer,
}

/// Node groups and the edge groups between them (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Neurons per group (a reduced network may have empty groups).
    pub sizes: Vec<usize>,
    pub edges: Vec<EdgeGroup>,
}

impl Network {
    /// Validate: at least one edge group, group indices in range, no
    /// self-loops, shapes match the groups, canonical CSR rows (strictly
    /// increasing column indices). Errors name the edge group.
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
            if eg.src == eg.dst && !eg.layer.is_strictly_upper() {
                return Err(Error::Shape(format!(
                    "edge group {e} joins group {} to itself: its matrix must be square and \
                     strictly upper triangular (each edge within the group stored once, as \
                     (i, j) with i < j; no self-loops)",
                    eg.src
                )));
            }
            if eg.layer.rows != sizes[eg.src] || eg.layer.cols != sizes[eg.dst] {
                return Err(Error::Shape(format!(
                    "edge group {e} is {} × {} but joins groups of sizes {} and {}",
                    eg.layer.rows, eg.layer.cols, sizes[eg.src], sizes[eg.dst]
                )));
            }
            if let Some(r) = first_unsorted_row(&eg.layer) {
                return Err(Error::Shape(format!(
                    "edge group {e}: row {r} has unsorted or duplicate column indices"
                )));
            }
        }
        Ok(Self { sizes, edges })
    }

    /// The chain of a layered network: consecutive layers must chain
    /// (`layers[l].cols == layers[l + 1].rows`) and be canonical. Errors name
    /// the layer.
    pub fn chain(layers: Vec<CsrLayer>) -> Result<Self> {
        if layers.is_empty() {
            return Err(Error::Shape(
                "a network needs at least one weight matrix".into(),
            ));
        }
        for (l, pair) in layers.windows(2).enumerate() {
            if pair[0].cols != pair[1].rows {
                return Err(Error::Shape(format!(
                    "layer {l} has {} outputs but layer {} has {} inputs",
                    pair[0].cols,
                    l + 1,
                    pair[1].rows
                )));
            }
        }
        for (l, layer) in layers.iter().enumerate() {
            if let Some(r) = first_unsorted_row(layer) {
                return Err(Error::Value(format!(
                    "layer {l}: column indices of row {r} are not strictly increasing \
                     (unsorted or duplicate entries); pass canonical CSR matrices \
                     (scipy: m.sum_duplicates(); m.sort_indices())"
                )));
            }
        }
        Ok(Self::chain_unchecked(layers))
    }

    /// The chain of already valid layers (no checks).
    pub(crate) fn chain_unchecked(layers: Vec<CsrLayer>) -> Self {
        let mut sizes = vec![layers[0].rows];
        sizes.extend(layers.iter().map(|l| l.cols));
        let edges = layers
            .into_iter()
            .enumerate()
            .map(|(l, layer)| EdgeGroup {
                src: l,
                dst: l + 1,
                layer,
            })
            .collect();
        Self { sizes, edges }
    }

    /// Whether the groups form the path `0 → 1 → … → L` with edge group `l`
    /// joining groups `l` and `l + 1` (a layered network).
    pub fn is_chain(&self) -> bool {
        self.edges.len() + 1 == self.sizes.len()
            && self
                .edges
                .iter()
                .enumerate()
                .all(|(l, e)| e.src == l && e.dst == l + 1)
    }

    /// Neurons per group; for a chain the layer widths `[n0, n1, …, nL]`.
    pub fn widths(&self) -> Vec<usize> {
        self.sizes.clone()
    }

    /// Global id of the first neuron of every group, plus the total.
    pub fn offsets(&self) -> Vec<usize> {
        let mut off = Vec::with_capacity(self.sizes.len() + 1);
        off.push(0);
        for &s in &self.sizes {
            off.push(off.last().unwrap() + s);
        }
        off
    }

    pub fn n_nodes(&self) -> usize {
        self.sizes.iter().sum()
    }

    /// The weight matrices in edge-group order (a chain's layers).
    pub fn layers(&self) -> impl Iterator<Item = &CsrLayer> + '_ {
        self.edges.iter().map(|e| &e.layer)
    }
}

/// The first row of `layer` whose column indices are not strictly increasing.
fn first_unsorted_row(l: &CsrLayer) -> Option<usize> {
    (0..l.rows).find(|&r| {
        l.indices[l.indptr[r]..l.indptr[r + 1]]
            .windows(2)
            .any(|w| w[0] >= w[1])
    })
}
