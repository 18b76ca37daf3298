//! Shared glue for the Python bindings: turning Python layer and edge-group
//! lists into a [`Network`], mapping [`Error`] to Python exceptions, and running heavy
//! work with the GIL released and panics caught.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::cut::NcutParts;
use crate::embed::Embedding;
use crate::error::Error;
use crate::graph::Graph;
use crate::kmeans::Restarts;
use crate::net::{CsrLayer, EdgeGroup, Network};
use crate::null::Partition;
use crate::shuffle::ShuffleMethod;

/// How Python hands one layer to Rust: `(rows, cols, indptr, indices, data)`,
/// a canonical CSR matrix (`modcut._validate` builds it).
pub type PyLayer<'py> = (
    usize,
    usize,
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, i32>,
    PyReadonlyArray1<'py, f64>,
);

/// How Rust hands one layer back: `(rows, cols, indptr, indices, data)`.
pub type PyLayerOut<'py> = (
    usize,
    usize,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i32>>,
    Bound<'py, PyArray1<f64>>,
);

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

/// 1-D NumPy arrays handed back to Python.
pub type I64Array<'py> = Bound<'py, PyArray1<i64>>;
pub type I32Array<'py> = Bound<'py, PyArray1<i32>>;
pub type F64Array<'py> = Bound<'py, PyArray1<f64>>;

/// A symmetric adjacency handed to Python: `(n, indptr, indices, data, degree)`.
pub type PyAdjacency<'py> = (
    usize,
    I64Array<'py>,
    I32Array<'py>,
    F64Array<'py>,
    F64Array<'py>,
);
/// n-cut parts handed to Python: `(ncut, cluster_ids, cut, volume)`.
pub type PyNcut<'py> = (f64, I64Array<'py>, F64Array<'py>, F64Array<'py>);
/// An embedding handed to Python: `(node_ids, x (m, k), eigenvalues)`.
pub type PyEmbedding<'py> = (I64Array<'py>, Bound<'py, PyArray2<f64>>, F64Array<'py>);

/// Node ids (or other counts) as an `int64` array.
pub fn usize_array<'py>(py: Python<'py>, v: &[usize]) -> I64Array<'py> {
    PyArray1::from_iter(py, v.iter().map(|&x| x as i64))
}

/// Column indices as an `int32` array (ids fit: [`check_node_ids`]).
pub fn u32_array<'py>(py: Python<'py>, v: &[u32]) -> I32Array<'py> {
    PyArray1::from_iter(py, v.iter().map(|&x| x as i32))
}

/// A graph's adjacency for Python (chains and group networks alike).
pub fn adjacency_to_py(py: Python<'_>, g: Graph) -> PyAdjacency<'_> {
    (
        g.n,
        usize_array(py, &g.indptr),
        u32_array(py, &g.indices),
        g.data.into_pyarray(py),
        g.degree.into_pyarray(py),
    )
}

/// n-cut parts for Python.
pub fn ncut_to_py(py: Python<'_>, p: NcutParts) -> PyNcut<'_> {
    (
        p.ncut,
        p.cluster_ids.into_pyarray(py),
        p.cut.into_pyarray(py),
        p.volume.into_pyarray(py),
    )
}

/// `(labels, eigenvalues)` of a partition for Python.
pub fn partition_to_py(py: Python<'_>, p: Partition) -> (I64Array<'_>, F64Array<'_>) {
    (p.labels.into_pyarray(py), p.eigenvalues.into_pyarray(py))
}

/// An embedding of `k` columns for Python.
pub fn embedding_to_py(py: Python<'_>, e: Embedding, k: usize) -> PyResult<PyEmbedding<'_>> {
    let rows = e.node_ids.len();
    let x = PyArray1::from_vec(py, e.x).reshape([rows, k])?;
    Ok((
        usize_array(py, &e.node_ids),
        x,
        e.eigenvalues.into_pyarray(py),
    ))
}

/// The shared body of the null bindings: check `method`, then run `f(method)`
/// without the GIL on a pool of `n_threads` threads (0 = all cores); the
/// restarts are checked by the caller ([`restarts`]).
pub fn run_null<'py, F>(
    py: Python<'py>,
    method: &str,
    n_threads: usize,
    f: F,
) -> PyResult<F64Array<'py>>
where
    F: FnOnce(ShuffleMethod) -> crate::error::Result<Vec<f64>> + Send,
{
    let method = parse_method(method)?;
    let pool = pool(n_threads)?;
    let out = run_detached(py, || pool.install(|| f(method)))?;
    Ok(out.into_pyarray(py))
}

pub fn to_pyerr(e: Error) -> PyErr {
    match e {
        Error::Numerical(_) => PyRuntimeError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// Convert one CSR matrix from NumPy arrays (`what` names it in errors, e.g.
/// `"layer 2"` or `"edge group 0"`): no negative indices, then every check of
/// [`CsrLayer::new`] (shape, monotone `indptr`, columns in range, finite data).
pub fn csr_from_py(
    what: &str,
    rows: usize,
    cols: usize,
    indptr: PyReadonlyArray1<'_, i64>,
    indices: PyReadonlyArray1<'_, i32>,
    data: PyReadonlyArray1<'_, f64>,
) -> PyResult<CsrLayer> {
    let indptr = indptr.as_slice()?;
    if indptr.iter().any(|&p| p < 0) {
        return Err(PyValueError::new_err(format!(
            "{what}: negative indptr entry"
        )));
    }
    let indices = indices.as_slice()?;
    if indices.iter().any(|&c| c < 0) {
        return Err(PyValueError::new_err(format!(
            "{what}: negative column index"
        )));
    }
    CsrLayer::new(
        rows,
        cols,
        indptr.iter().map(|&p| p as usize).collect(),
        indices.iter().map(|&c| c as u32).collect(),
        data.as_slice()?.to_vec(),
    )
    .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

/// One CSR matrix as NumPy arrays `(rows, cols, indptr, indices, data)` (fresh copies).
pub fn layer_to_py<'py>(py: Python<'py>, l: &CsrLayer) -> PyLayerOut<'py> {
    (
        l.rows,
        l.cols,
        usize_array(py, &l.indptr),
        u32_array(py, &l.indices),
        PyArray1::from_slice(py, &l.data),
    )
}

/// Refuse a network whose global node ids do not fit the `int32` index arrays
/// the bindings hand to Python.
pub fn check_node_ids(n_nodes: usize) -> PyResult<()> {
    if n_nodes > i32::MAX as usize {
        return Err(PyValueError::new_err(format!(
            "the network has {n_nodes} neurons; at most {} are supported",
            i32::MAX
        )));
    }
    Ok(())
}

/// A shuffle method by name (`"layer"`, `"layer_nonzero"`, …).
pub fn parse_method(method: &str) -> PyResult<ShuffleMethod> {
    method.parse().map_err(to_pyerr)
}

/// The k-means restarts Python asked for: `n_init` of them, or with `auto`
/// the stopping rule of [`crate::kmeans`] capped at `n_init`.
pub fn restarts(n_init: usize, auto: bool) -> PyResult<Restarts> {
    if n_init == 0 {
        return Err(PyValueError::new_err("n_init must be at least 1"));
    }
    Ok(if auto {
        Restarts::Auto { max: n_init }
    } else {
        Restarts::Fixed(n_init)
    })
}

/// Convert and check a layer list: valid CSR layers that chain, with canonical
/// (sorted, duplicate-free) rows, and node ids that fit the `int32` index arrays.
pub fn chain_from_py(layers: Vec<PyLayer<'_>>) -> PyResult<Network> {
    let mut out = Vec::with_capacity(layers.len());
    for (l, (rows, cols, indptr, indices, data)) in layers.into_iter().enumerate() {
        out.push(csr_from_py(
            &format!("layer {l}"),
            rows,
            cols,
            indptr,
            indices,
            data,
        )?);
    }
    let net = Network::chain(out).map_err(to_pyerr)?;
    check_node_ids(net.n_nodes())?;
    Ok(net)
}

/// Convert and check `(sizes, edges)`: every check of [`csr_from_py`] per edge
/// group, then [`Network::new`] and the `int32` node-id limit.
pub fn network_from_py(sizes: Vec<usize>, edges: Vec<PyEdge<'_>>) -> PyResult<Network> {
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
    let net = Network::new(sizes, out).map_err(to_pyerr)?;
    check_node_ids(net.n_nodes())?;
    Ok(net)
}

/// The edge groups of `net` as NumPy arrays (fresh copies).
pub fn edges_to_py<'py>(py: Python<'py>, net: &Network) -> Vec<PyEdgeOut<'py>> {
    net.edges
        .iter()
        .map(|eg| {
            let (rows, cols, indptr, indices, data) = layer_to_py(py, &eg.layer);
            (eg.src, eg.dst, rows, cols, indptr, indices, data)
        })
        .collect()
}

/// Run `f` without the GIL, turning a Rust panic into a `RuntimeError` (PyO3
/// alone would raise `PanicException`, which `except Exception` does not catch).
pub fn run_detached<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> crate::error::Result<T> + Send,
{
    let res = py.detach(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    match res {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_pyerr(e)),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!(
                "internal error in modcut's Rust core (please report it): {msg}"
            )))
        }
    }
}

/// A rayon pool with `n_threads` workers (0 = all cores).
pub fn pool(n_threads: usize) -> PyResult<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n_threads)
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start thread pool: {e}")))
}
