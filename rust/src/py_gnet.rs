//! Python bindings of [`crate::gnet`]: general (group) networks.
//!
//! Every function takes the network as a [`CoreGroupNetwork`] handle (validated
//! once, when `modcut.GroupNetwork.core` built it); shuffles and reductions
//! return handles. Heavy work runs with the GIL released.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::gnet;
use crate::py_gnet_core::CoreGroupNetwork;
use crate::py_util::{
    check_n_init, parse_method, pool, run_detached, F64Array, I32Array, I64Array,
};
use crate::rng::{rng_for, CLUSTER, NULL_CLUSTER};

/// `(n, indptr, indices, data, degree)`: the symmetric |w| adjacency.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn g_adjacency<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
) -> PyResult<(
    usize,
    I64Array<'py>,
    I32Array<'py>,
    F64Array<'py>,
    F64Array<'py>,
)> {
    let g = net.get().net();
    let a = run_detached(py, || Ok(gnet::adjacency(g)))?;
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
fn g_degrees<'py>(py: Python<'py>, net: &Bound<'py, CoreGroupNetwork>) -> PyResult<F64Array<'py>> {
    Ok(gnet::degrees(net.get().net()).into_pyarray(py))
}

/// A 2-colouring of the groups (0/1 each) or `None` when not bipartite.
#[pyfunction]
fn g_colouring(net: &Bound<'_, CoreGroupNetwork>) -> Option<Vec<u8>> {
    gnet::colouring(net.get().net())
}

/// `(reduced, kept)`: the network without isolated neurons, and the ascending
/// global ids of the kept neurons.
#[pyfunction]
fn g_reduce_isolated<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
) -> PyResult<(CoreGroupNetwork, I64Array<'py>)> {
    let g = net.get().net();
    let (r, kept) = run_detached(py, || gnet::reduce_isolated(g))?;
    Ok((
        CoreGroupNetwork::from_net(r),
        PyArray1::from_iter(py, kept.iter().map(|&u| u as i64)),
    ))
}

/// `(ncut, cluster_ids, cut, volume)` of a labelling.
#[pyfunction]
#[pyo3(signature = (net, labels, eps=1e-8))]
#[allow(clippy::type_complexity)]
fn g_ncut<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
    labels: PyReadonlyArray1<'py, i64>,
    eps: f64,
) -> PyResult<(f64, I64Array<'py>, F64Array<'py>, F64Array<'py>)> {
    let g = net.get().net();
    let labels = labels.as_slice()?.to_vec();
    let p = run_detached(py, || gnet::ncut(g, &labels, eps))?;
    Ok((
        p.ncut,
        p.cluster_ids.into_pyarray(py),
        p.cut.into_pyarray(py),
        p.volume.into_pyarray(py),
    ))
}

/// Null networks `start .. start + count`: each edge group shuffled on its own.
#[pyfunction]
fn g_shuffle(
    py: Python<'_>,
    net: &Bound<'_, CoreGroupNetwork>,
    method: &str,
    seed: u64,
    start: u64,
    count: usize,
    n_threads: usize,
) -> PyResult<Vec<CoreGroupNetwork>> {
    let g = net.get().net();
    let method = parse_method(method)?;
    let pool = pool(n_threads)?;
    let out = run_detached(py, || {
        Ok(pool.install(|| gnet::shuffle_many(g, method, seed, start, count)))
    })?;
    Ok(out.into_iter().map(CoreGroupNetwork::from_net).collect())
}

/// `(labels, eigenvalues)` of a group network, clustered with the random stream
/// `(seed, purpose, stream)` (the named entry points below choose it).
#[allow(clippy::too_many_arguments)]
fn g_labels_for<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
    k: usize,
    n_init: usize,
    seed: u64,
    purpose: u64,
    stream: u64,
) -> PyResult<(I64Array<'py>, F64Array<'py>)> {
    check_n_init(n_init)?;
    let g = net.get().net();
    let part = run_detached(py, || {
        gnet::spectral_labels(g, k, n_init, &mut rng_for(seed, purpose, stream))
    })?;
    Ok((
        part.labels.into_pyarray(py),
        part.eigenvalues.into_pyarray(py),
    ))
}

/// `(labels, eigenvalues)`: normalized spectral clustering of every neuron of an
/// observed group network.
#[pyfunction]
fn g_observed_labels<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
    k: usize,
    n_init: usize,
    seed: u64,
) -> PyResult<(I64Array<'py>, F64Array<'py>)> {
    g_labels_for(py, net, k, n_init, seed, CLUSTER, 0)
}

/// As [`g_observed_labels`], with the random stream of null sample `sample`.
#[pyfunction]
fn g_null_labels<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
    k: usize,
    n_init: usize,
    seed: u64,
    sample: u64,
) -> PyResult<(I64Array<'py>, F64Array<'py>)> {
    g_labels_for(py, net, k, n_init, seed, NULL_CLUSTER, sample)
}

/// `(node_ids, x (m, k), eigenvalues)`: the embedding k-means runs on.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn g_observed_embedding<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
    k: usize,
    seed: u64,
) -> PyResult<(I64Array<'py>, Bound<'py, PyArray2<f64>>, F64Array<'py>)> {
    let g = net.get().net();
    let emb = run_detached(py, || gnet::embedding(g, k, &mut rng_for(seed, CLUSTER, 0)))?;
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
#[allow(clippy::too_many_arguments)]
fn g_null_ncuts<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
    method: &str,
    k: usize,
    n_init: usize,
    seed: u64,
    start: u64,
    count: usize,
    n_threads: usize,
) -> PyResult<F64Array<'py>> {
    let method = parse_method(method)?;
    check_n_init(n_init)?;
    let g = net.get().net();
    let pool = pool(n_threads)?;
    let out = run_detached(py, || {
        pool.install(|| gnet::null_ncuts(g, method, k, n_init, seed, start, count))
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
