//! Python bindings of the clustering and null pipeline (`null.rs`).
//!
//! The random stream of every entry point is fixed by its name: the observed
//! network's clustering draws from `(seed, CLUSTER, 0)` and null sample `i`'s
//! from `(seed, NULL_CLUSTER, i)` (see [`crate::rng`]); Python never passes a
//! stream purpose.

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;

use crate::kmeans::Restarts;
use crate::null;
use crate::py_net::CoreNetwork;
use crate::py_util::{pool, restarts, run_detached, to_pyerr, F64Array, I64Array};
use crate::rng::{rng_for, CLUSTER, NULL_CLUSTER};
use crate::shuffle::ShuffleMethod;

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
    Ok((
        PyArray1::from_vec(py, part.labels),
        PyArray1::from_vec(py, part.eigenvalues),
    ))
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
    labels_for(
        py,
        net,
        k,
        restarts(n_init, auto)?,
        seed,
        NULL_CLUSTER,
        sample,
    )
}

/// The spectral embedding of an observed network: `(node_ids, x (m, k), eigenvalues)`.
#[pyfunction]
#[pyo3(signature = (net, k, seed))]
fn observed_embedding<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreNetwork>,
    k: usize,
    seed: u64,
) -> PyResult<(I64Array<'py>, Bound<'py, PyArray2<f64>>, F64Array<'py>)> {
    let net = net.get().net();
    let emb = run_detached(py, || {
        null::embedding(net, k, &mut rng_for(seed, CLUSTER, 0))
    })?;
    let rows = emb.node_ids.len();
    let x = PyArray1::from_vec(py, emb.x).reshape([rows, k])?;
    Ok((
        PyArray1::from_iter(py, emb.node_ids.iter().map(|&i| i as i64)),
        x,
        PyArray1::from_vec(py, emb.eigenvalues),
    ))
}

/// n-cuts of null samples `start .. start + count` of a network (isolated
/// neurons already removed), computed on `n_threads` threads (0 = all cores);
/// `auto` as in [`observed_labels`].
#[pyfunction]
#[pyo3(signature = (net, method, k, n_init, seed, start, count, n_threads, *, auto = false))]
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
) -> PyResult<F64Array<'py>> {
    let method: ShuffleMethod = method.parse().map_err(to_pyerr)?;
    let n_init = restarts(n_init, auto)?;
    let net = net.get().net();
    let pool = pool(n_threads)?;
    let out = run_detached(py, || {
        pool.install(|| null::null_ncuts(net, method, k, n_init, seed, start, count))
    })?;
    Ok(PyArray1::from_vec(py, out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(observed_labels, m)?)?;
    m.add_function(wrap_pyfunction!(null_labels, m)?)?;
    m.add_function(wrap_pyfunction!(observed_embedding, m)?)?;
    m.add_function(wrap_pyfunction!(null_ncuts, m)?)?;
    Ok(())
}
