//! Python bindings of the clustering and null pipeline (`null.rs`).

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;

use crate::null;
use crate::py_util::{net_from_py, pool, run_detached, to_pyerr, F64Array, I64Array, PyLayer};
use crate::rng::rng_for;
use crate::shuffle::ShuffleMethod;

/// Labels of every neuron by normalized spectral clustering (-1 = isolated),
/// and the embedding's eigenvalues. Randomness: stream `(seed, purpose, stream)`.
#[pyfunction]
#[pyo3(signature = (layers, k, n_init, seed, purpose, stream))]
fn spectral_labels<'py>(
    py: Python<'py>,
    layers: Vec<PyLayer<'py>>,
    k: usize,
    n_init: usize,
    seed: u64,
    purpose: u64,
    stream: u64,
) -> PyResult<(I64Array<'py>, F64Array<'py>)> {
    let net = net_from_py(layers)?;
    if n_init == 0 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "n_init must be at least 1",
        ));
    }
    let part = run_detached(py, || {
        null::spectral_labels(&net, k, n_init, &mut rng_for(seed, purpose, stream))
    })?;
    Ok((
        PyArray1::from_vec(py, part.labels),
        PyArray1::from_vec(py, part.eigenvalues),
    ))
}

/// The spectral embedding: `(node_ids, x (m, k), eigenvalues)`.
#[pyfunction]
#[pyo3(signature = (layers, k, seed, purpose, stream))]
fn spectral_embedding<'py>(
    py: Python<'py>,
    layers: Vec<PyLayer<'py>>,
    k: usize,
    seed: u64,
    purpose: u64,
    stream: u64,
) -> PyResult<(I64Array<'py>, Bound<'py, PyArray2<f64>>, F64Array<'py>)> {
    let net = net_from_py(layers)?;
    let emb = run_detached(py, || {
        null::embedding(&net, k, &mut rng_for(seed, purpose, stream))
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
/// neurons already removed), computed on `n_threads` threads (0 = all cores).
#[pyfunction]
#[pyo3(signature = (layers, method, k, n_init, seed, start, count, n_threads))]
#[allow(clippy::too_many_arguments)]
fn null_ncuts<'py>(
    py: Python<'py>,
    layers: Vec<PyLayer<'py>>,
    method: &str,
    k: usize,
    n_init: usize,
    seed: u64,
    start: u64,
    count: usize,
    n_threads: usize,
) -> PyResult<F64Array<'py>> {
    let net = net_from_py(layers)?;
    let method: ShuffleMethod = method.parse().map_err(to_pyerr)?;
    if n_init == 0 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "n_init must be at least 1",
        ));
    }
    let pool = pool(n_threads)?;
    let out = run_detached(py, || {
        pool.install(|| null::null_ncuts(&net, method, k, n_init, seed, start, count))
    })?;
    Ok(PyArray1::from_vec(py, out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(spectral_labels, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_embedding, m)?)?;
    m.add_function(wrap_pyfunction!(null_ncuts, m)?)?;
    Ok(())
}
