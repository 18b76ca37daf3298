//! The layered network: the one input type every other module consumes.
//!
//! A network with widths `n0, n1, …, nL` is stored as `L` sparse layers in CSR
//! form. Layer `l` (0-based here) has `rows = n_l` (inputs) and `cols = n_{l+1}`
//! (outputs); entry `(i, j)` is the weight from input neuron `i` to output
//! neuron `j`. Only the absolute value of a weight matters to the graph, but
//! shuffles keep the signed values so that a shuffled network is a network.

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

/// A layered feed-forward network: consecutive layers must chain
/// (`layers[l].cols == layers[l + 1].rows`).
#[derive(Clone, Debug, PartialEq)]
pub struct LayeredNet {
    pub layers: Vec<CsrLayer>,
}

impl LayeredNet {
    pub fn new(layers: Vec<CsrLayer>) -> Result<Self> {
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
        Ok(Self { layers })
    }

    /// Neuron counts per layer of neurons: `[n0, n1, …, nL]`.
    pub fn widths(&self) -> Vec<usize> {
        let mut w = vec![self.layers[0].rows];
        w.extend(self.layers.iter().map(|l| l.cols));
        w
    }

    /// Global node id of the first neuron of every neuron layer, plus the total.
    pub fn offsets(&self) -> Vec<usize> {
        let mut off = vec![0];
        for w in self.widths() {
            off.push(off.last().unwrap() + w);
        }
        off
    }

    pub fn n_nodes(&self) -> usize {
        *self.offsets().last().unwrap()
    }
}
