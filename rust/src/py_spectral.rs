//! Python bindings of the spectral embedding and k-means: `top_singular`,
//! `spectral_embedding_block`, `spectral_labels_block` and `kmeans`.

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::kmeans as km;
use crate::rng::{rng_for, CLUSTER};
use crate::spectral::{self, SparseBlock};

use super::py_util::run_detached;

/// How Python hands a normalized block: `(nrows, ncols, indptr, indices, data)` in CSR.
type PyBlock<'py> = (
    usize,
    usize,
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, i32>,
    PyReadonlyArray1<'py, f64>,
);

fn block_from_py(block: PyBlock<'_>) -> PyResult<SparseBlock> {
    let (nrows, ncols, indptr, indices, data) = block;
    let indptr = indptr.as_array();
    if indptr.iter().any(|&p| p < 0) {
        return Err(PyValueError::new_err("block: negative indptr entry"));
    }
    let indices = indices.as_array();
    if indices.iter().any(|&c| c < 0) {
        return Err(PyValueError::new_err("block: negative column index"));
    }
    let b = SparseBlock {
        nrows,
        ncols,
        indptr: indptr.iter().map(|&p| p as usize).collect(),
        indices: indices.iter().map(|&c| c as u32).collect(),
        data: data.as_array().iter().copied().collect(),
    };
    spectral::validate_block(&b).map_err(|e| PyValueError::new_err(format!("block: {e}")))?;
    Ok(b)
}

fn check_k(k: usize, b: &SparseBlock) -> PyResult<()> {
    if k == 0 || k > b.nrows.min(b.ncols) {
        return Err(PyValueError::new_err(format!(
            "k = {k} must be between 1 and the smaller block dimension ({} × {})",
            b.nrows, b.ncols
        )));
    }
    Ok(())
}

fn degrees(name: &str, d: PyReadonlyArray1<'_, f64>, len: usize) -> PyResult<Vec<f64>> {
    let d: Vec<f64> = d.as_array().iter().copied().collect();
    if d.len() != len {
        return Err(PyValueError::new_err(format!(
            "{name} has length {}, expected {len}",
            d.len()
        )));
    }
    if let Some(x) = d.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
        return Err(PyValueError::new_err(format!(
            "{name} must be finite and positive (got {x}); remove isolated nodes first"
        )));
    }
    Ok(d)
}

fn rows_to_py<'py>(py: Python<'py>, v: Vec<f64>, n: usize, d: usize) -> Bound<'py, PyArray2<f64>> {
    Array2::from_shape_vec((n, d), v).expect("shape matches").into_pyarray(py)
}

/// k-means (scikit-learn's Lloyd k-means with greedy k-means++ seeding).
///
/// Returns `(labels (int64, n), inertia, centers (k, d), n_iter)`; the random
/// stream is `(seed, CLUSTER, stream)`.
#[pyfunction]
#[pyo3(signature = (x, k, n_init, max_iter = 300, tol = 1e-4, *, seed, stream = 0))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn kmeans<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    k: usize,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    stream: u64,
) -> PyResult<(Bound<'py, PyArray1<i64>>, f64, Bound<'py, PyArray2<f64>>, usize)> {
    let a = x.as_array();
    let (n, d) = a.dim();
    if n == 0 || d == 0 {
        return Err(PyValueError::new_err(format!("x must be a non-empty 2-D array, got shape ({n}, {d})")));
    }
    if k == 0 || k > n {
        return Err(PyValueError::new_err(format!("k = {k} must be between 1 and the number of points ({n})")));
    }
    if n_init == 0 || max_iter == 0 {
        return Err(PyValueError::new_err("n_init and max_iter must be at least 1"));
    }
    if !(tol >= 0.0) {
        return Err(PyValueError::new_err(format!("tol = {tol} must be non-negative")));
    }
    let xs: Vec<f64> = a.iter().copied().collect(); // logical (row-major) order
    if xs.iter().any(|v| !v.is_finite()) {
        return Err(PyValueError::new_err("x contains NaN or infinite values"));
    }
    let res = run_detached(py, move || {
        let mut rng = rng_for(seed, CLUSTER, stream);
        km::kmeans(&xs, n, d, k, n_init, max_iter, tol, &mut rng)
    })?;
    let labels = PyArray1::from_iter(py, res.labels.iter().map(|&l| l as i64));
    let centers = rows_to_py(py, res.centers, k, d);
    Ok((labels, res.inertia, centers, res.n_iter))
}

/// The `k` largest singular triplets of a sparse block:
/// `(s (k,), u (nrows, k), v (ncols, k))`, singular values descending.
#[pyfunction]
#[pyo3(signature = (block, k, seed, stream = 0))]
#[allow(clippy::type_complexity)]
fn top_singular<'py>(
    py: Python<'py>,
    block: PyBlock<'py>,
    k: usize,
    seed: u64,
    stream: u64,
) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>)> {
    let b = block_from_py(block)?;
    check_k(k, &b)?;
    let (nrows, ncols) = (b.nrows, b.ncols);
    let svd = run_detached(py, move || {
        let mut rng = rng_for(seed, CLUSTER, stream);
        spectral::top_singular(&b, k, &mut rng)
    })?;
    Ok((
        PyArray1::from_vec(py, svd.s),
        rows_to_py(py, svd.u, nrows, k),
        rows_to_py(py, svd.v, ncols, k),
    ))
}

/// scikit-learn's spectral embedding (`norm_laplacian=True, drop_first=False`)
/// of the bipartite graph with normalized block `block` and degrees `d_even`
/// (block rows) and `d_odd` (block columns): `(embedding (nrows + ncols, k), s)`,
/// even nodes first.
#[pyfunction]
#[pyo3(signature = (block, d_even, d_odd, k, seed, stream = 0))]
fn spectral_embedding_block<'py>(
    py: Python<'py>,
    block: PyBlock<'py>,
    d_even: PyReadonlyArray1<'py, f64>,
    d_odd: PyReadonlyArray1<'py, f64>,
    k: usize,
    seed: u64,
    stream: u64,
) -> PyResult<(Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<f64>>)> {
    let b = block_from_py(block)?;
    check_k(k, &b)?;
    let de = degrees("d_even", d_even, b.nrows)?;
    let dd = degrees("d_odd", d_odd, b.ncols)?;
    let n = b.nrows + b.ncols;
    let (emb, s) = run_detached(py, move || {
        let mut rng = rng_for(seed, CLUSTER, stream);
        spectral::embed(&b, &de, &dd, k, &mut rng)
    })?;
    Ok((rows_to_py(py, emb, n, k), PyArray1::from_vec(py, s)))
}

/// Spectral clustering labels (embedding then k-means with `n_init` runs), even
/// nodes first: int64 array of length nrows + ncols.
#[pyfunction]
#[pyo3(signature = (block, d_even, d_odd, k, n_init, seed, stream = 0))]
#[allow(clippy::too_many_arguments)]
fn spectral_labels_block<'py>(
    py: Python<'py>,
    block: PyBlock<'py>,
    d_even: PyReadonlyArray1<'py, f64>,
    d_odd: PyReadonlyArray1<'py, f64>,
    k: usize,
    n_init: usize,
    seed: u64,
    stream: u64,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let b = block_from_py(block)?;
    check_k(k, &b)?;
    if n_init == 0 {
        return Err(PyValueError::new_err("n_init must be at least 1"));
    }
    let de = degrees("d_even", d_even, b.nrows)?;
    let dd = degrees("d_odd", d_odd, b.ncols)?;
    let labels = run_detached(py, move || {
        let mut rng = rng_for(seed, CLUSTER, stream);
        spectral::spectral_labels(&b, &de, &dd, k, n_init, &mut rng)
    })?;
    Ok(PyArray1::from_iter(py, labels.iter().map(|&l| l as i64)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kmeans, m)?)?;
    m.add_function(wrap_pyfunction!(top_singular, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_embedding_block, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_labels_block, m)?)?;
    Ok(())
}
