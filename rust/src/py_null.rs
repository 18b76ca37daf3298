//! Python bindings of the clustering and null pipeline (`embed.rs`, `null.rs`),
//! for chains and general networks alike.
//!
//! The random stream of every entry point is fixed by its name: the observed
//! network's clustering draws from `(seed, CLUSTER, 0)` and null sample `i`'s
//! from `(seed, NULL_CLUSTER, i)` (see [`crate::rng`]); Python never passes a
//! stream purpose.

use pyo3::prelude::*;

use crate::embed;
use crate::kmeans::Restarts;
use crate::null;
use crate::py_net::CoreNetwork;
use crate::py_util::{
    embedding_to_py, partition_to_py, restarts, run_detached, run_null, F64Array, I64Array,
    PyEmbedding,
};
use crate::rng::{rng_for, CLUSTER, NULL_CLUSTER};

fn labels_for<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreNetwork>,
    k: usize,
    n_init: Restarts,
    seed: u64,
    purpose: u64,
    stream: u64,
) -> PyResult<(I64Array<'py>, F64Array<'py>)> {
    let net = net.get().net();
    let part = run_detached(py, || {
        null::spectral_labels(net, k, n_init, &mut rng_for(seed, purpose, stream), true)
    })?;
    Ok(partition_to_py(py, part))
}

/// Labels of every neuron of an observed network by normalized spectral
/// clustering (-1 = isolated), and the embedding's eigenvalues; with `auto`
/// the k-means restarts stop by the rule of `kmeans.rs`, at most `n_init`.
#[pyfunction]
#[pyo3(signature = (net, k, n_init, seed, *, auto = false))]
fn observed_labels<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreNetwork>,
    k: usize,
    n_init: usize,
    seed: u64,
    auto: bool,
) -> PyResult<(I64Array<'py>, F64Array<'py>)> {
    labels_for(py, net, k, restarts(n_init, auto)?, seed, CLUSTER, 0)
}

/// As [`observed_labels`], with the random stream of null sample `sample`
/// (the clustering that [`null_ncuts`] runs on that sample's shuffle).
#[pyfunction]
#[pyo3(signature = (net, k, n_init, seed, sample, *, auto = false))]
fn null_labels<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreNetwork>,
    k: usize,
    n_init: usize,
    seed: u64,
    sample: u64,
    auto: bool,
) -> PyResult<(I64Array<'py>, F64Array<'py>)> {
    let n_init = restarts(n_init, auto)?;
    labels_for(py, net, k, n_init, seed, NULL_CLUSTER, sample)
}

/// The spectral embedding of an observed network: `(node_ids, x (m, k), eigenvalues)`.
#[pyfunction]
#[pyo3(signature = (net, k, seed))]
fn observed_embedding<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreNetwork>,
    k: usize,
    seed: u64,
) -> PyResult<PyEmbedding<'py>> {
    let net = net.get().net();
    let emb = run_detached(py, || {
        embed::embedding(net, k, &mut rng_for(seed, CLUSTER, 0))
    })?;
    embedding_to_py(py, emb, k)
}

/// n-cuts of null samples `start .. start + count` of a network (isolated
/// neurons already removed), computed on `n_threads` threads (0 = all cores);
/// `auto` as in [`observed_labels`].
/// `normalize`: the `eps` of the authors' normalisation, applied to every shuffle
/// before it is clustered (`None`: not normalised).
#[pyfunction]
#[pyo3(signature = (net, method, k, n_init, seed, start, count, n_threads, *, auto = false, normalize = None))]
#[allow(clippy::too_many_arguments)]
fn null_ncuts<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreNetwork>,
    method: &str,
    k: usize,
    n_init: usize,
    seed: u64,
    start: u64,
    count: usize,
    n_threads: usize,
    auto: bool,
    normalize: Option<f64>,
) -> PyResult<F64Array<'py>> {
    let n_init = restarts(n_init, auto)?;
    let normalize = check_eps(normalize)?;
    let net = net.get().net();
    run_null(py, method, n_threads, |m| {
        null::null_ncuts(net, m, k, n_init, seed, start, count, normalize)
    })
}

fn check_eps(eps: Option<f64>) -> PyResult<Option<f64>> {
    match eps {
        Some(e) if !(e.is_finite() && e > 0.0) => Err(pyo3::exceptions::PyValueError::new_err(
            format!("normalize eps must be finite and > 0, got {e}"),
        )),
        other => Ok(other),
    }
}

/// The network normalised by the authors' rule (`crate::normalize`): a new handle.
#[pyfunction]
#[pyo3(signature = (net, eps))]
fn normalize(py: Python<'_>, net: &Bound<'_, CoreNetwork>, eps: f64) -> PyResult<CoreNetwork> {
    let eps = check_eps(Some(eps))?.unwrap_or(crate::normalize::NORMALIZE_EPS);
    let net = net.get().net();
    let copy = run_detached(py, || {
        let mut copy = net.clone();
        crate::normalize::normalize(&mut copy, eps);
        Ok(copy)
    })?;
    Ok(CoreNetwork::from_net(copy))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // the method's constants, for the batched null on a torch device (modcut.batched),
    // which must run the same procedure
    m.add("KMEANS_MAX_ITER", crate::null::KMEANS_MAX_ITER)?;
    m.add("KMEANS_TOL", crate::null::KMEANS_TOL)?;
    m.add("NCUT_EPS", crate::null::NCUT_EPS)?;
    m.add("KDE_BANDWIDTH", crate::shuffle::KDE_BANDWIDTH)?;
    m.add("AUTO_ROUND", crate::kmeans::AUTO_ROUND)?;
    m.add("AUTO_PATIENCE", crate::kmeans::AUTO_PATIENCE)?;
    m.add("AUTO_TOL", crate::kmeans::AUTO_TOL)?;
    m.add_function(wrap_pyfunction!(observed_labels, m)?)?;
    m.add_function(wrap_pyfunction!(null_labels, m)?)?;
    m.add_function(wrap_pyfunction!(observed_embedding, m)?)?;
    m.add_function(wrap_pyfunction!(null_ncuts, m)?)?;
    m.add_function(wrap_pyfunction!(normalize, m)?)?;
    Ok(())
}
