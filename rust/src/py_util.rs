//! Shared glue for the Python bindings: turning Python layer lists into a
//! [`LayeredNet`], mapping [`Error`] to Python exceptions, and running heavy
//! work with the GIL released and panics caught.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::error::Error;
use crate::kmeans::Restarts;
use crate::net::{CsrLayer, LayeredNet};

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

/// 1-D NumPy arrays handed back to Python.
pub type I64Array<'py> = Bound<'py, PyArray1<i64>>;
pub type I32Array<'py> = Bound<'py, PyArray1<i32>>;
pub type F64Array<'py> = Bound<'py, PyArray1<f64>>;

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

pub fn to_pyerr(e: Error) -> PyErr {
    match e {
        Error::Numerical(_) => PyRuntimeError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// Convert and check a layer list: valid CSR layers that chain, with canonical
/// (sorted, duplicate-free) rows.
pub fn net_from_py(layers: Vec<PyLayer<'_>>) -> PyResult<LayeredNet> {
    let mut out = Vec::with_capacity(layers.len());
    for (l, (rows, cols, indptr, indices, data)) in layers.into_iter().enumerate() {
        let indptr = indptr.as_slice()?;
        if indptr.iter().any(|&p| p < 0) {
            return Err(PyValueError::new_err(format!(
                "layer {l}: negative indptr entry"
            )));
        }
        let indices = indices.as_slice()?;
        if indices.iter().any(|&c| c < 0) {
            return Err(PyValueError::new_err(format!(
                "layer {l}: negative column index"
            )));
        }
        let layer = CsrLayer::new(
            rows,
            cols,
            indptr.iter().map(|&p| p as usize).collect(),
            indices.iter().map(|&c| c as u32).collect(),
            data.as_slice()?.to_vec(),
        )
        .map_err(|e| PyValueError::new_err(format!("layer {l}: {e}")))?;
        out.push(layer);
    }
    let net = LayeredNet::new(out).map_err(to_pyerr)?;
    crate::graph::check_canonical(&net).map_err(to_pyerr)?;
    Ok(net)
}

pub fn net_to_py<'py>(py: Python<'py>, net: &LayeredNet) -> Vec<PyLayerOut<'py>> {
    net.layers
        .iter()
        .map(|l| {
            (
                l.rows,
                l.cols,
                PyArray1::from_iter(py, l.indptr.iter().map(|&p| p as i64)),
                PyArray1::from_iter(py, l.indices.iter().map(|&c| c as i32)),
                PyArray1::from_slice(py, &l.data),
            )
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
