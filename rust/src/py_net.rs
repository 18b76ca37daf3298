//! `CoreNetwork`: the Python handle on a validated [`LayeredNet`].
//!
//! `modcut.as_network` builds one per network, once: the layer list is
//! converted and checked here (CSR structure, chaining, finite weights,
//! canonical rows, node ids that fit `int32`) and every other binding takes
//! the handle, so no call re-converts or re-checks the weights. The handle is
//! a thin owner of the network: it holds nothing else, is immutable (`frozen`,
//! hence shareable across threads) and pickles as its layer list.

use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};

use crate::net::LayeredNet;
use crate::py_util::{check_node_ids, net_from_py, net_to_py, PyLayer, PyLayerOut};

/// A validated layered network owned by the Rust core.
#[pyclass(module = "modcut._core", name = "CoreNetwork", frozen)]
pub struct CoreNetwork {
    net: LayeredNet,
}

impl CoreNetwork {
    /// Wrap a network the core built itself (a shuffle, a reduction): already valid.
    pub fn from_net(net: LayeredNet) -> Self {
        Self { net }
    }

    /// The network.
    pub fn net(&self) -> &LayeredNet {
        &self.net
    }
}

/// Convert and check a layer list: valid CSR layers that chain, canonical
/// (sorted, duplicate-free) rows, and node ids that fit the `int32` index arrays.
pub fn checked_net(layers: Vec<PyLayer<'_>>) -> PyResult<LayeredNet> {
    let net = net_from_py(layers)?;
    check_node_ids(net.n_nodes())?;
    Ok(net)
}

#[pymethods]
impl CoreNetwork {
    /// `CoreNetwork(layers)`: validate a list of `(rows, cols, indptr, indices, data)`.
    #[new]
    fn new(layers: Vec<PyLayer<'_>>) -> PyResult<Self> {
        Ok(Self {
            net: checked_net(layers)?,
        })
    }

    /// Neurons per layer, `(n0, n1, …, nL)`.
    #[getter]
    fn widths(&self) -> Vec<usize> {
        self.net.widths()
    }

    /// Total number of neurons.
    #[getter]
    fn n_nodes(&self) -> usize {
        self.net.n_nodes()
    }

    /// Stored entries of every layer.
    #[getter]
    fn nnz(&self) -> Vec<usize> {
        self.net.layers.iter().map(|l| l.nnz()).collect()
    }

    /// The layer list `[(rows, cols, indptr, indices, data), …]` (fresh arrays).
    fn layers<'py>(&self, py: Python<'py>) -> Vec<PyLayerOut<'py>> {
        net_to_py(py, &self.net)
    }

    /// Pickle as `CoreNetwork(layers)`: unpickling validates again.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyType>, Bound<'py, PyTuple>)> {
        let layers = net_to_py(py, &slf.get().net);
        let args = PyTuple::new(py, [layers])?;
        Ok((py.get_type::<Self>(), args))
    }

    fn __repr__(&self) -> String {
        let w: Vec<String> = self.net.widths().iter().map(|w| w.to_string()).collect();
        format!("CoreNetwork(widths={})", w.join("×"))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CoreNetwork>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::CsrLayer;

    fn net() -> LayeredNet {
        LayeredNet::new(vec![
            CsrLayer::from_dense(2, 3, &[1.0, 0.0, -2.0, 0.5, 3.0, 0.0]).unwrap(),
            CsrLayer::from_dense(3, 1, &[1.0, 2.0, 0.0]).unwrap(),
        ])
        .unwrap()
    }

    #[test]
    fn handle_owns_the_network_unchanged() {
        let n = net();
        let h = CoreNetwork::from_net(n.clone());
        assert_eq!(h.net(), &n);
        assert_eq!(h.widths(), vec![2, 3, 1]);
        assert_eq!(h.n_nodes(), 6);
        assert_eq!(h.nnz(), vec![6, 3]);
        assert_eq!(h.__repr__(), "CoreNetwork(widths=2×3×1)");
    }

    #[test]
    fn handle_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CoreNetwork>();
        let h = CoreNetwork::from_net(net());
        let total: f64 = std::thread::scope(|s| {
            let a = s.spawn(|| crate::graph::degrees(h.net()).iter().sum::<f64>());
            let b = s.spawn(|| crate::graph::degrees(h.net()).iter().sum::<f64>());
            a.join().unwrap() + b.join().unwrap()
        });
        assert_eq!(total, 2.0 * 2.0 * (1.0 + 2.0 + 0.5 + 3.0 + 1.0 + 2.0));
    }
}
