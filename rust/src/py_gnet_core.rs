//! `CoreGroupNetwork`: the Python handle on a validated [`GroupNet`].
//!
//! `modcut.GroupNetwork.core` builds one per group network, once: the node-group
//! sizes and the edge groups `(src, dst, rows, cols, indptr, indices, data)` are
//! converted and checked here (CSR structure, finite weights, group indices,
//! shapes that match the groups, canonical rows, node ids that fit `int32`) and
//! every `g_*` binding takes the handle, so no call re-converts or re-checks the
//! weights. Like [`crate::py_net::CoreNetwork`] it holds nothing but the
//! network, is immutable (`frozen`, hence shareable across threads) and pickles
//! as `(sizes, edges)`.

use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};

use numpy::PyReadonlyArray1;

use crate::gnet::{EdgeGroup, GroupNet};
use crate::py_util::{
    check_node_ids, csr_from_py, layer_to_py, to_pyerr, F64Array, I32Array, I64Array, PyLayerOut,
};

/// One edge group from Python: `(src, dst, rows, cols, indptr, indices, data)`.
pub type PyEdge<'py> = (
    usize,
    usize,
    usize,
    usize,
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, i32>,
    PyReadonlyArray1<'py, f64>,
);

/// One edge group to Python: `(src, dst, rows, cols, indptr, indices, data)`.
pub type PyEdgeOut<'py> = (
    usize,
    usize,
    usize,
    usize,
    I64Array<'py>,
    I32Array<'py>,
    F64Array<'py>,
);

/// A validated group network owned by the Rust core.
#[pyclass(module = "modcut._core", name = "CoreGroupNetwork", frozen)]
pub struct CoreGroupNetwork {
    net: GroupNet,
}

impl CoreGroupNetwork {
    /// Wrap a network the core built itself (a shuffle, a reduction): already valid.
    pub fn from_net(net: GroupNet) -> Self {
        Self { net }
    }

    /// The network.
    pub fn net(&self) -> &GroupNet {
        &self.net
    }
}

/// Convert and check `(sizes, edges)`: every check of [`csr_from_py`] per edge
/// group, then [`GroupNet::new`] and the `int32` node-id limit.
pub fn checked_gnet(sizes: Vec<usize>, edges: Vec<PyEdge<'_>>) -> PyResult<GroupNet> {
    let mut out = Vec::with_capacity(edges.len());
    for (e, (src, dst, rows, cols, indptr, indices, data)) in edges.into_iter().enumerate() {
        let layer = csr_from_py(
            &format!("edge group {e}"),
            rows,
            cols,
            indptr,
            indices,
            data,
        )?;
        out.push(EdgeGroup { src, dst, layer });
    }
    let g = GroupNet::new(sizes, out).map_err(to_pyerr)?;
    check_node_ids(g.n_nodes())?;
    Ok(g)
}

fn edges_to_py<'py>(py: Python<'py>, g: &GroupNet) -> Vec<PyEdgeOut<'py>> {
    g.edges
        .iter()
        .map(|eg| {
            let (rows, cols, indptr, indices, data): PyLayerOut<'py> = layer_to_py(py, &eg.layer);
            (eg.src, eg.dst, rows, cols, indptr, indices, data)
        })
        .collect()
}

#[pymethods]
impl CoreGroupNetwork {
    /// `CoreGroupNetwork(sizes, edges)`: validate the group sizes and a list of
    /// `(src, dst, rows, cols, indptr, indices, data)`.
    #[new]
    fn new(sizes: Vec<usize>, edges: Vec<PyEdge<'_>>) -> PyResult<Self> {
        Ok(Self {
            net: checked_gnet(sizes, edges)?,
        })
    }

    /// Neurons per node group (a reduced network may have empty groups).
    #[getter]
    fn sizes(&self) -> Vec<usize> {
        self.net.sizes.clone()
    }

    /// Total number of neurons.
    #[getter]
    fn n_nodes(&self) -> usize {
        self.net.n_nodes()
    }

    /// Stored entries of every edge group.
    #[getter]
    fn nnz(&self) -> Vec<usize> {
        self.net.edges.iter().map(|e| e.layer.nnz()).collect()
    }

    /// The edge groups `[(src, dst, rows, cols, indptr, indices, data), …]` (fresh arrays).
    fn edges<'py>(&self, py: Python<'py>) -> Vec<PyEdgeOut<'py>> {
        edges_to_py(py, &self.net)
    }

    /// Pickle as `CoreGroupNetwork(sizes, edges)`: unpickling validates again.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyType>, Bound<'py, PyTuple>)> {
        let g = &slf.get().net;
        let args = (g.sizes.clone(), edges_to_py(py, g)).into_pyobject(py)?;
        Ok((py.get_type::<Self>(), args))
    }

    fn __repr__(&self) -> String {
        let s: Vec<String> = self.net.sizes.iter().map(|s| s.to_string()).collect();
        format!(
            "CoreGroupNetwork(sizes=[{}], edge_groups={})",
            s.join(", "),
            self.net.edges.len()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CoreGroupNetwork>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::CsrLayer;

    fn gnet() -> GroupNet {
        let e = |src, dst, rows, cols, v: &[f64]| EdgeGroup {
            src,
            dst,
            layer: CsrLayer::from_dense(rows, cols, v).unwrap(),
        };
        GroupNet::new(
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
        let g = gnet();
        let h = CoreGroupNetwork::from_net(g.clone());
        assert_eq!(h.net(), &g);
        assert_eq!(h.sizes(), vec![2, 3, 1]);
        assert_eq!(h.n_nodes(), 6);
        assert_eq!(h.nnz(), vec![6, 3, 2]);
        assert_eq!(
            h.__repr__(),
            "CoreGroupNetwork(sizes=[2, 3, 1], edge_groups=3)"
        );
    }

    #[test]
    fn handle_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CoreGroupNetwork>();
        let h = CoreGroupNetwork::from_net(gnet());
        let total: f64 = std::thread::scope(|s| {
            let a = s.spawn(|| crate::gnet::degrees(h.net()).iter().sum::<f64>());
            let b = s.spawn(|| crate::gnet::degrees(h.net()).iter().sum::<f64>());
            a.join().unwrap() + b.join().unwrap()
        });
        assert_eq!(total, 2.0 * 2.0 * (1.0 + 2.0 + 0.5 + 3.0 + 1.0 + 2.0 + 4.0));
    }
}
