//! Python bindings of the spectral embedding and k-means: `top_singular`,
//! `spectral_embedding_block`, `spectral_labels_block` and `kmeans`.

use numpy::ndarray::Array2;
use numpy::{Element, IntoPyArray, PyArray1, PyArray2, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::kmeans as km;
use crate::rng::{rng_for, CLUSTER};
use crate::spectral::{self, SparseBlock};

use super::py_util::run_detached;

/// How Python hands a normalized block: `(nrows, ncols, indptr, indices, data)`
/// in CSR: 1-D integer `indptr` and `indices` (int64 or int32) and float64 `data`.
type PyBlock<'py> = (
    usize,
    usize,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    PyReadonlyArrayDyn<'py, f64>,
);

/// A 1-D array's values (any strides), or a ValueError naming it.
fn vec1<T: Element + Copy>(name: &str, a: &PyReadonlyArrayDyn<'_, T>) -> PyResult<Vec<T>> {
    if a.ndim() != 1 {
        return Err(PyValueError::new_err(format!(
            "{name} must be 1-D, got {} dimensions",
            a.ndim()
        )));
    }
    Ok(a.as_array().iter().copied().collect())
}

/// A 1-D int64 or int32 array as non-negative indices.
fn indices1(name: &str, a: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let v: Vec<i64> = if let Ok(x) = a.extract::<PyReadonlyArrayDyn<'_, i64>>() {
        vec1(name, &x)?
    } else if let Ok(x) = a.extract::<PyReadonlyArrayDyn<'_, i32>>() {
        vec1(name, &x)?.into_iter().map(i64::from).collect()
    } else {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a numpy array of int64 or int32"
        )));
    };
    if let Some(x) = v.iter().find(|&&x| x < 0) {
        return Err(PyValueError::new_err(format!(
            "{name} has a negative entry ({x})"
        )));
    }
    Ok(v.into_iter().map(|x| x as usize).collect())
}

/// A count argument: an integer ≥ `min`.
fn count(name: &str, v: i64, min: i64) -> PyResult<usize> {
    if v < min {
        return Err(PyValueError::new_err(format!(
            "{name} = {v} must be at least {min}"
        )));
    }
    Ok(v as usize)
}

fn block_from_py(block: PyBlock<'_>) -> PyResult<SparseBlock> {
    let (nrows, ncols, indptr, indices, data) = block;
    let indptr = indices1("block indptr", &indptr)?;
    let indices = indices1("block indices", &indices)?;
    if let Some(&c) = indices
        .iter()
        .find(|&&c| c >= ncols || c > u32::MAX as usize)
    {
        return Err(PyValueError::new_err(format!(
            "block column index {c} out of range for {ncols} columns"
        )));
    }
    let b = SparseBlock {
        nrows,
        ncols,
        indptr,
        indices: indices.into_iter().map(|c| c as u32).collect(),
        data: vec1("block data", &data)?,
    };
    spectral::validate_block(&b).map_err(|e| PyValueError::new_err(format!("block: {e}")))?;
    Ok(b)
}

fn check_k(k: i64, b: &SparseBlock) -> PyResult<usize> {
    if k < 1 || k as usize > b.nrows.min(b.ncols) {
        return Err(PyValueError::new_err(format!(
            "k = {k} must be between 1 and the smaller block dimension ({} × {})",
            b.nrows, b.ncols
        )));
    }
    Ok(k as usize)
}

fn degrees(name: &str, d: PyReadonlyArrayDyn<'_, f64>, len: usize) -> PyResult<Vec<f64>> {
    let d = vec1(name, &d)?;
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
    Array2::from_shape_vec((n, d), v)
        .expect("shape matches")
        .into_pyarray(py)
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
    x: PyReadonlyArrayDyn<'py, f64>,
    k: i64,
    n_init: i64,
    max_iter: i64,
    tol: f64,
    seed: u64,
    stream: u64,
) -> PyResult<(
    Bound<'py, PyArray1<i64>>,
    f64,
    Bound<'py, PyArray2<f64>>,
    usize,
)> {
    if x.ndim() != 2 {
        return Err(PyValueError::new_err(format!(
            "x must be a 2-D array (points × features), got {} dimensions",
            x.ndim()
        )));
    }
    let a = x.as_array();
    let (n, d) = (a.shape()[0], a.shape()[1]);
    if n == 0 || d == 0 {
        return Err(PyValueError::new_err(format!(
            "x must be a non-empty 2-D array, got shape ({n}, {d})"
        )));
    }
    if k < 1 || k as usize > n {
        return Err(PyValueError::new_err(format!(
            "k = {k} must be between 1 and the number of points ({n})"
        )));
    }
    let k = k as usize;
    let n_init = count("n_init", n_init, 1)?;
    let max_iter = count("max_iter", max_iter, 1)?;
    if tol.is_nan() || tol < 0.0 {
        return Err(PyValueError::new_err(format!(
            "tol = {tol} must be non-negative"
        )));
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
    k: i64,
    seed: u64,
    stream: u64,
) -> PyResult<(
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
)> {
    let b = block_from_py(block)?;
    let k = check_k(k, &b)?;
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
#[allow(clippy::type_complexity)]
fn spectral_embedding_block<'py>(
    py: Python<'py>,
    block: PyBlock<'py>,
    d_even: PyReadonlyArrayDyn<'py, f64>,
    d_odd: PyReadonlyArrayDyn<'py, f64>,
    k: i64,
    seed: u64,
    stream: u64,
) -> PyResult<(Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<f64>>)> {
    let b = block_from_py(block)?;
    let k = check_k(k, &b)?;
    let de = degrees("d_even", d_even, b.nrows)?;
    let dd = degrees("d_odd", d_odd, b.ncols)?;
    let n = b.nrows + b.ncols;
    let (emb, s) = run_detached(py, move || {
        let mut rng = rng_for(seed, CLUSTER, stream);
        spectral::embed(&b, &de, &dd, k, &mut rng)
    })?;
    Ok((rows_to_py(py, emb, n, k), PyArray1::from_vec(py, s)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kmeans, m)?)?;
    m.add_function(wrap_pyfunction!(top_singular, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_embedding_block, m)?)?;
    Ok(())
}
