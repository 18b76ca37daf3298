//! Python bindings of [`crate::gnet`]: general (group) networks.
//!
//! Every function takes the network as a [`CoreGroupNetwork`] handle (validated
//! once, when `modcut.GroupNetwork.core` built it); shuffles and reductions
//! return handles. Heavy work runs with the GIL released; the checks and the
//! conversions to NumPy are the chain bindings' ([`crate::py_util`]).

use numpy::{IntoPyArray, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::gnet;
use crate::kmeans::Restarts;
use crate::py_gnet_core::CoreGroupNetwork;
use crate::py_util::{
    adjacency_to_py, embedding_to_py, ncut_to_py, parse_method, partition_to_py, pool, restarts,
    run_detached, run_null, usize_array, F64Array, I64Array, PyAdjacency, PyEmbedding, PyNcut,
};
use crate::rng::{rng_for, CLUSTER, NULL_CLUSTER};

/// `(n, indptr, indices, data, degree)`: the symmetric |w| adjacency.
#[pyfunction]
fn g_adjacency<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
) -> PyResult<PyAdjacency<'py>> {
    let g = net.get().net();
    let a = run_detached(py, || Ok(gnet::adjacency(g)))?;
    Ok(adjacency_to_py(py, a))
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
    Ok((CoreGroupNetwork::from_net(r), usize_array(py, &kept)))
}

/// `(ncut, cluster_ids, cut, volume)` of a labelling.
#[pyfunction]
#[pyo3(signature = (net, labels, eps=1e-8))]
fn g_ncut<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
    labels: PyReadonlyArray1<'py, i64>,
    eps: f64,
) -> PyResult<PyNcut<'py>> {
    let g = net.get().net();
    let labels = labels.as_slice()?.to_vec();
    let p = run_detached(py, || gnet::ncut(g, &labels, eps))?;
    Ok(ncut_to_py(py, p))
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

/// `(labels, eigenvalues)` of a group network clustered with the random stream
/// `(seed, purpose, stream)`: `(CLUSTER, 0)` for the observed network,
/// `(NULL_CLUSTER, sample)` for a null sample's.
fn g_labels<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
    k: usize,
    n_init: Restarts,
    seed: u64,
    sample: Option<u64>,
) -> PyResult<(I64Array<'py>, F64Array<'py>)> {
    let (purpose, stream) = sample.map_or((CLUSTER, 0), |s| (NULL_CLUSTER, s));
    let g = net.get().net();
    let part = run_detached(py, || {
        gnet::spectral_labels(g, k, n_init, &mut rng_for(seed, purpose, stream))
    })?;
    Ok(partition_to_py(py, part))
}

/// `(labels, eigenvalues)`: normalized spectral clustering of every neuron of an
/// observed group network (`auto`: see `py_null.rs`).
#[pyfunction]
#[pyo3(signature = (net, k, n_init, seed, *, auto = false))]
fn g_observed_labels<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
    k: usize,
    n_init: usize,
    seed: u64,
    auto: bool,
) -> PyResult<(I64Array<'py>, F64Array<'py>)> {
    g_labels(py, net, k, restarts(n_init, auto)?, seed, None)
}

/// As [`g_observed_labels`], with the random stream of null sample `sample`.
#[pyfunction]
#[pyo3(signature = (net, k, n_init, seed, sample, *, auto = false))]
fn g_null_labels<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
    k: usize,
    n_init: usize,
    seed: u64,
    sample: u64,
    auto: bool,
) -> PyResult<(I64Array<'py>, F64Array<'py>)> {
    g_labels(py, net, k, restarts(n_init, auto)?, seed, Some(sample))
}

/// `(node_ids, x (m, k), eigenvalues)`: the embedding k-means runs on.
#[pyfunction]
fn g_observed_embedding<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreGroupNetwork>,
    k: usize,
    seed: u64,
) -> PyResult<PyEmbedding<'py>> {
    let g = net.get().net();
    let emb = run_detached(py, || gnet::embedding(g, k, &mut rng_for(seed, CLUSTER, 0)))?;
    embedding_to_py(py, emb, k)
}

/// n-cuts of null samples `start .. start + count` (isolated neurons removed first).
#[pyfunction]
#[pyo3(signature = (net, method, k, n_init, seed, start, count, n_threads, *, auto = false))]
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
    auto: bool,
) -> PyResult<F64Array<'py>> {
    let n_init = restarts(n_init, auto)?;
    let g = net.get().net();
    run_null(py, method, n_threads, |m| {
        gnet::null_ncuts(g, m, k, n_init, seed, start, count)
    })
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
