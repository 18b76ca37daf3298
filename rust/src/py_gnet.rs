//! Python bindings of [`crate::gnet`]: general (group) networks.
//!
//! A group network is passed as `(sizes, edges)`: the node-group sizes and one
//! `(src, dst, rows, cols, indptr, indices, data)` canonical CSR matrix per edge
//! group (`modcut.groupnet.GroupNetwork.to_core()` builds it).

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::gnet::{self, EdgeGroup, GroupNet};
use crate::kmeans::Restarts;
use crate::net::CsrLayer;
use crate::py_util::{pool, restarts, run_detached, to_pyerr, F64Array, I32Array, I64Array};
use crate::rng::{rng_for, CLUSTER, NULL_CLUSTER};
use crate::shuffle::ShuffleMethod;

/// One edge group from Python.
pub type PyEdge<'py> = (
    usize,
    usize,
    usize,
    usize,
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, i32>,
    PyReadonlyArray1<'py, f64>,
);
/// One edge group to Python.
pub type PyEdgeOut<'py> = (
    usize,
    usize,
    usize,
    usize,
    I64Array<'py>,
    I32Array<'py>,
    F64Array<'py>,
);

fn gnet_from_py(sizes: Vec<usize>, edges: Vec<PyEdge<'_>>) -> PyResult<GroupNet> {
    let mut out = Vec::with_capacity(edges.len());
    for (e, (src, dst, rows, cols, indptr, indices, data)) in edges.into_iter().enumerate() {
        let indptr = indptr.as_slice()?;
        let indices = indices.as_slice()?;
        if indptr.iter().any(|&p| p < 0) || indices.iter().any(|&c| c < 0) {
            return Err(PyValueError::new_err(format!(
                "edge group {e}: negative index"
            )));
        }
        let layer = CsrLayer::new(
            rows,
            cols,
            indptr.iter().map(|&p| p as usize).collect(),
            indices.iter().map(|&c| c as u32).collect(),
            data.as_slice()?.to_vec(),
        )
        .map_err(|err| PyValueError::new_err(format!("edge group {e}: {err}")))?;
        out.push(EdgeGroup { src, dst, layer });
    }
    let g = GroupNet::new(sizes, out).map_err(to_pyerr)?;
    if g.n_nodes() > i32::MAX as usize {
        return Err(PyValueError::new_err("too many neurons for int32 node ids"));
    }
    Ok(g)
}

fn gnet_to_py<'py>(py: Python<'py>, g: &GroupNet) -> (Vec<usize>, Vec<PyEdgeOut<'py>>) {
    let edges = g
        .edges
        .iter()
        .map(|eg| {
            let l = &eg.layer;
            (
                eg.src,
                eg.dst,
                l.rows,
                l.cols,
                PyArray1::from_iter(py, l.indptr.iter().map(|&p| p as i64)),
                PyArray1::from_iter(py, l.indices.iter().map(|&c| c as i32)),
                PyArray1::from_slice(py, &l.data),
            )
        })
        .collect();
    (g.sizes.clone(), edges)
}

fn parse_method(method: &str) -> PyResult<ShuffleMethod> {
    method.parse().map_err(to_pyerr)
}

/// `(n, indptr, indices, data, degree)`: the symmetric |w| adjacency.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn g_adjacency<'py>(
    py: Python<'py>,
    sizes: Vec<usize>,
    edges: Vec<PyEdge<'py>>,
) -> PyResult<(
    usize,
    I64Array<'py>,
    I32Array<'py>,
    F64Array<'py>,
    F64Array<'py>,
)> {
    let g = gnet_from_py(sizes, edges)?;
    let a = run_detached(py, || Ok(gnet::adjacency(&g)))?;
    Ok((
        a.n,
        PyArray1::from_iter(py, a.indptr.iter().map(|&p| p as i64)),
        PyArray1::from_iter(py, a.indices.iter().map(|&c| c as i32)),
        a.data.into_pyarray(py),
        a.degree.into_pyarray(py),
    ))
}

/// Weighted degree of every neuron.
#[pyfunction]
fn g_degrees<'py>(
    py: Python<'py>,
    sizes: Vec<usize>,
    edges: Vec<PyEdge<'py>>,
) -> PyResult<F64Array<'py>> {
    let g = gnet_from_py(sizes, edges)?;
    Ok(gnet::degrees(&g).into_pyarray(py))
}

/// A 2-colouring of the groups (0/1 each) or `None` when not bipartite.
#[pyfunction]
fn g_colouring(sizes: Vec<usize>, edges: Vec<PyEdge<'_>>) -> PyResult<Option<Vec<u8>>> {
    let g = gnet_from_py(sizes, edges)?;
    Ok(gnet::colouring(&g))
}

/// `(sizes, edges, kept)`: the network without isolated neurons.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn g_reduce_isolated<'py>(
    py: Python<'py>,
    sizes: Vec<usize>,
    edges: Vec<PyEdge<'py>>,
) -> PyResult<(Vec<usize>, Vec<PyEdgeOut<'py>>, I64Array<'py>)> {
    let g = gnet_from_py(sizes, edges)?;
    let (r, kept) = run_detached(py, || gnet::reduce_isolated(&g))?;
    let (s, e) = gnet_to_py(py, &r);
    Ok((
        s,
        e,
        PyArray1::from_iter(py, kept.iter().map(|&u| u as i64)),
    ))
}

/// `(ncut, cluster_ids, cut, volume)` of a labelling.
#[pyfunction]
#[pyo3(signature = (sizes, edges, labels, eps=1e-8))]
#[allow(clippy::type_complexity)]
fn g_ncut<'py>(
    py: Python<'py>,
    sizes: Vec<usize>,
    edges: Vec<PyEdge<'py>>,
    labels: PyReadonlyArray1<'py, i64>,
    eps: f64,
) -> PyResult<(f64, I64Array<'py>, F64Array<'py>, F64Array<'py>)> {
    let g = gnet_from_py(sizes, edges)?;
    let labels = labels.as_slice()?.to_vec();
    let p = run_detached(py, || gnet::ncut(&g, &labels, eps))?;
    Ok((
        p.ncut,
        p.cluster_ids.into_pyarray(py),
        p.cut.into_pyarray(py),
        p.volume.into_pyarray(py),
    ))
}

/// Null networks `start .. start + count`: each edge group shuffled on its own.
#[pyfunction]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn g_shuffle<'py>(
    py: Python<'py>,
    sizes: Vec<usize>,
    edges: Vec<PyEdge<'py>>,
    method: &str,
    seed: u64,
    start: u64,
    count: usize,
    n_threads: usize,
) -> PyResult<Vec<(Vec<usize>, Vec<PyEdgeOut<'py>>)>> {
    let g = gnet_from_py(sizes, edges)?;
    let method = parse_method(method)?;
    let pool = pool(n_threads)?;
    let out = run_detached(py, || {
        Ok(pool.install(|| gnet::shuffle_many(&g, method, seed, start, count)))
    })?;
    Ok(out.iter().map(|s| gnet_to_py(py, s)).collect())
}

/// `(labels, eigenvalues)` of a group network, clustered with the random stream
/// `(seed, purpose, stream)` (the named entry points below choose it).
#[allow(clippy::too_many_arguments)]
fn g_labels_for<'py>(
    py: Python<'py>,
    sizes: Vec<usize>,
    edges: Vec<PyEdge<'py>>,
    k: usize,
    n_init: Restarts,
    seed: u64,
    purpose: u64,
    stream: u64,
) -> PyResult<(I64Array<'py>, F64Array<'py>)> {
    let g = gnet_from_py(sizes, edges)?;
    let part = run_detached(py, || {
        gnet::spectral_labels(&g, k, n_init, &mut rng_for(seed, purpose, stream))
    })?;
    Ok((
        part.labels.into_pyarray(py),
        part.eigenvalues.into_pyarray(py),
    ))
}

/// `(labels, eigenvalues)`: normalized spectral clustering of every neuron of an
/// observed group network (`auto`: see `py_null.rs`).
#[pyfunction]
#[pyo3(signature = (sizes, edges, k, n_init, seed, *, auto = false))]
fn g_observed_labels<'py>(
    py: Python<'py>,
    sizes: Vec<usize>,
    edges: Vec<PyEdge<'py>>,
    k: usize,
    n_init: usize,
    seed: u64,
    auto: bool,
) -> PyResult<(I64Array<'py>, F64Array<'py>)> {
    g_labels_for(
        py,
        sizes,
        edges,
        k,
        restarts(n_init, auto)?,
        seed,
        CLUSTER,
        0,
    )
}

/// As [`g_observed_labels`], with the random stream of null sample `sample`.
#[pyfunction]
#[pyo3(signature = (sizes, edges, k, n_init, seed, sample, *, auto = false))]
#[allow(clippy::too_many_arguments)]
fn g_null_labels<'py>(
    py: Python<'py>,
    sizes: Vec<usize>,
    edges: Vec<PyEdge<'py>>,
    k: usize,
    n_init: usize,
    seed: u64,
    sample: u64,
    auto: bool,
) -> PyResult<(I64Array<'py>, F64Array<'py>)> {
    let n_init = restarts(n_init, auto)?;
    g_labels_for(py, sizes, edges, k, n_init, seed, NULL_CLUSTER, sample)
}

/// `(node_ids, x (m, k), eigenvalues)`: the embedding k-means runs on.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn g_observed_embedding<'py>(
    py: Python<'py>,
    sizes: Vec<usize>,
    edges: Vec<PyEdge<'py>>,
    k: usize,
    seed: u64,
) -> PyResult<(I64Array<'py>, Bound<'py, PyArray2<f64>>, F64Array<'py>)> {
    let g = gnet_from_py(sizes, edges)?;
    let emb = run_detached(py, || {
        gnet::embedding(&g, k, &mut rng_for(seed, CLUSTER, 0))
    })?;
    let rows = emb.node_ids.len();
    let x = PyArray1::from_vec(py, emb.x).reshape([rows, k])?;
    Ok((
        PyArray1::from_iter(py, emb.node_ids.iter().map(|&i| i as i64)),
        x,
        emb.eigenvalues.into_pyarray(py),
    ))
}

/// n-cuts of null samples `start .. start + count` (isolated neurons removed first).
#[pyfunction]
#[pyo3(signature = (sizes, edges, method, k, n_init, seed, start, count, n_threads, *, auto = false))]
#[allow(clippy::too_many_arguments)]
fn g_null_ncuts<'py>(
    py: Python<'py>,
    sizes: Vec<usize>,
    edges: Vec<PyEdge<'py>>,
    method: &str,
    k: usize,
    n_init: usize,
    seed: u64,
    start: u64,
    count: usize,
    n_threads: usize,
    auto: bool,
) -> PyResult<F64Array<'py>> {
    let g = gnet_from_py(sizes, edges)?;
    let method = parse_method(method)?;
    let n_init = restarts(n_init, auto)?;
    let pool = pool(n_threads)?;
    let out = run_detached(py, || {
        pool.install(|| gnet::null_ncuts(&g, method, k, n_init, seed, start, count))
    })?;
    Ok(out.into_pyarray(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(g_adjacency, m)?)?;
    m.add_function(wrap_pyfunction!(g_degrees, m)?)?;
    m.add_function(wrap_pyfunction!(g_colouring, m)?)?;
    m.add_function(wrap_pyfunction!(g_reduce_isolated, m)?)?;
    m.add_function(wrap_pyfunction!(g_ncut, m)?)?;
    m.add_function(wrap_pyfunction!(g_shuffle, m)?)?;
    m.add_function(wrap_pyfunction!(g_observed_labels, m)?)?;
    m.add_function(wrap_pyfunction!(g_null_labels, m)?)?;
    m.add_function(wrap_pyfunction!(g_observed_embedding, m)?)?;
    m.add_function(wrap_pyfunction!(g_null_ncuts, m)?)?;
    Ok(())
}
