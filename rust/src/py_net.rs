//! `CoreNetwork`: the Python handle on a validated [`Network`].
//!
//! `modcut.as_network` and `modcut.GroupNetwork.core` build one per network,
//! once: `CoreNetwork(sizes, edges)` takes the node-group sizes and the edge
//! groups `(src, dst, rows, cols, indptr, indices, data)`,
//! `CoreNetwork.chain(layers)` the layers `(rows, cols, indptr, indices, data)`
//! of a layered network. The arrays are converted and checked here (CSR
//! structure, finite weights, group indices, shapes, canonical rows, node ids
//! that fit `int32`) and every other binding takes the handle, so no call
//! re-converts or re-checks the weights. The handle is a thin owner of the
//! network: it holds nothing else, is immutable (`frozen`, hence shareable
//! across threads) and pickles as `(sizes, edges)` (a chain stays a chain: it
//! is recognised by its structure).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};

use crate::net::Network;
use crate::py_util::{
    chain_from_py, edges_to_py, layer_to_py, network_from_py, PyEdge, PyEdgeOut, PyLayer,
    PyLayerOut,
};

/// A validated network owned by the Rust core.
#[pyclass(module = "modcut._core", name = "CoreNetwork", frozen)]
pub struct CoreNetwork {
    net: Network,
}

impl CoreNetwork {
    /// Wrap a network the core built itself (a shuffle, a reduction): already valid.
    pub fn from_net(net: Network) -> Self {
        Self { net }
    }

    /// The network.
    pub fn net(&self) -> &Network {
        &self.net
    }
}

#[pymethods]
impl CoreNetwork {
    /// `CoreNetwork(sizes, edges)`: validate the group sizes and a list of
    /// `(src, dst, rows, cols, indptr, indices, data)`.
    #[new]
    fn new(sizes: Vec<usize>, edges: Vec<PyEdge<'_>>) -> PyResult<Self> {
        Ok(Self {
            net: network_from_py(sizes, edges)?,
        })
    }

    /// `CoreNetwork.chain(layers)`: the layered network of a list of
    /// `(rows, cols, indptr, indices, data)` (layer `l` joins groups `l`, `l + 1`).
    #[staticmethod]
    fn chain(layers: Vec<PyLayer<'_>>) -> PyResult<Self> {
        Ok(Self {
            net: chain_from_py(layers)?,
        })
    }

    /// Whether the network is a chain (groups `0 → 1 → … → L`, a layered network).
    #[getter]
    fn is_chain(&self) -> bool {
        self.net.is_chain()
    }

    /// Neurons per node group (a reduced network may have empty groups).
    #[getter]
    fn sizes(&self) -> Vec<usize> {
        self.net.widths()
    }

    /// Neurons per layer of a chain, `[n0, n1, …, nL]` (the group sizes).
    #[getter]
    fn widths(&self) -> Vec<usize> {
        self.net.widths()
    }

    /// Total number of neurons.
    #[getter]
    fn n_nodes(&self) -> usize {
        self.net.n_nodes()
    }

    /// Stored entries of every edge group (a chain's layers).
    #[getter]
    fn nnz(&self) -> Vec<usize> {
        self.net.layers().map(|l| l.nnz()).collect()
    }

    /// A chain's layer list `[(rows, cols, indptr, indices, data), …]` (fresh
    /// arrays); `ValueError` for a network that is not a chain.
    fn layers<'py>(&self, py: Python<'py>) -> PyResult<Vec<PyLayerOut<'py>>> {
        if !self.net.is_chain() {
            return Err(PyValueError::new_err(
                "this network is not a chain (it has skips, concatenations or parallel edge \
                 groups); use edges()",
            ));
        }
        Ok(self.net.layers().map(|l| layer_to_py(py, l)).collect())
    }

    /// The edge groups `[(src, dst, rows, cols, indptr, indices, data), …]` (fresh arrays).
    fn edges<'py>(&self, py: Python<'py>) -> Vec<PyEdgeOut<'py>> {
        edges_to_py(py, &self.net)
    }

    /// Pickle as `CoreNetwork(sizes, edges)`: unpickling validates again.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyType>, Bound<'py, PyTuple>)> {
        let g = &slf.get().net;
        let args = (g.widths(), edges_to_py(py, g)).into_pyobject(py)?;
        Ok((py.get_type::<Self>(), args))
    }

    fn __repr__(&self) -> String {
        if self.net.is_chain() {
            let w: Vec<String> = self.net.sizes.iter().map(|w| w.to_string()).collect();
            return format!("CoreNetwork(widths={})", w.join("×"));
        }
        let s: Vec<String> = self.net.sizes.iter().map(|s| s.to_string()).collect();
        format!(
            "CoreNetwork(sizes=[{}], edge_groups={})",
            s.join(", "),
            self.net.edges.len()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CoreNetwork>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{CsrLayer, EdgeGroup};

    fn chain() -> Network {
        Network::chain(vec![
            CsrLayer::from_dense(2, 3, &[1.0, 0.0, -2.0, 0.5, 3.0, 0.0]).unwrap(),
            CsrLayer::from_dense(3, 1, &[1.0, 2.0, 0.0]).unwrap(),
        ])
        .unwrap()
    }

    fn gnet() -> Network {
        let e = |src, dst, rows, cols, v: &[f64]| EdgeGroup {
            src,
            dst,
            layer: CsrLayer::from_dense(rows, cols, v).unwrap(),
        };
        Network::new(
            vec![2, 3, 1],
            vec![
                e(0, 1, 2, 3, &[1.0, 0.0, -2.0, 0.5, 3.0, 0.0]),
                e(1, 2, 3, 1, &[1.0, 2.0, 0.0]),
                e(0, 2, 2, 1, &[4.0, 0.0]),
            ],
        )
        .unwrap()
    }

    #[test]
    fn handle_owns_the_network_unchanged() {
        let n = chain();
        let h = CoreNetwork::from_net(n.clone());
        assert_eq!(h.net(), &n);
        assert!(h.is_chain());
        assert_eq!(h.widths(), vec![2, 3, 1]);
        assert_eq!(h.n_nodes(), 6);
        assert_eq!(h.nnz(), vec![6, 3]);
        assert_eq!(h.__repr__(), "CoreNetwork(widths=2×3×1)");
        let g = gnet();
        let h = CoreNetwork::from_net(g.clone());
        assert_eq!(h.net(), &g);
        assert!(!h.is_chain());
        assert_eq!(h.sizes(), vec![2, 3, 1]);
        assert_eq!(h.n_nodes(), 6);
        assert_eq!(h.nnz(), vec![6, 3, 2]);
        assert_eq!(h.__repr__(), "CoreNetwork(sizes=[2, 3, 1], edge_groups=3)");
    }

    #[test]
    fn handle_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CoreNetwork>();
        for (net, w) in [(chain(), 0.0), (gnet(), 4.0)] {
            let h = CoreNetwork::from_net(net);
            let total: f64 = std::thread::scope(|s| {
                let a = s.spawn(|| crate::graph::degrees(h.net()).iter().sum::<f64>());
                let b = s.spawn(|| crate::graph::degrees(h.net()).iter().sum::<f64>());
                a.join().unwrap() + b.join().unwrap()
            });
            assert_eq!(total, 2.0 * 2.0 * (1.0 + 2.0 + 0.5 + 3.0 + 1.0 + 2.0 + w));
        }
    }
}
