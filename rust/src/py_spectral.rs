//! Python binding of k-means (used by the SciPy/ARPACK cross-check path; the
//! Lanczos path runs k-means inside [`crate::null`]).

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::kmeans as km;
use crate::rng::{rng_for, CLUSTER};

use super::py_util::{pool, restarts, run_detached};

/// A count argument: an integer ≥ `min`.
fn count(name: &str, v: i64, min: i64) -> PyResult<usize> {
    if v < min {
        return Err(PyValueError::new_err(format!(
            "{name} = {v} must be at least {min}"
        )));
    }
    Ok(v as usize)
}

fn rows_to_py<'py>(py: Python<'py>, v: Vec<f64>, n: usize, d: usize) -> Bound<'py, PyArray2<f64>> {
    Array2::from_shape_vec((n, d), v)
        .expect("shape matches")
        .into_pyarray(py)
}

/// k-means (scikit-learn's Lloyd k-means with greedy k-means++ seeding).
///
/// Returns `(labels (int64, n), inertia, centers (k, d), n_iter, n_runs)`
/// (`n_runs`: restarts run; `n_init` unless `auto`, which stops by the rule of
/// `kmeans.rs`, at most `n_init`); the random stream is `(seed, CLUSTER, stream)`.
/// With `n_threads` ≠ 1 the restarts run in parallel on that many threads (0 =
/// all cores; `kmeans_in_parallel`), with the same result.
#[pyfunction]
#[pyo3(signature = (x, k, n_init, max_iter = 300, tol = 1e-4, *, seed, stream = 0, auto = false, n_threads = 1))]
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
    auto: bool,
    n_threads: usize,
) -> PyResult<(
    Bound<'py, PyArray1<i64>>,
    f64,
    Bound<'py, PyArray2<f64>>,
    usize,
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
    let n_init = restarts(count("n_init", n_init, 1)?, auto)?;
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
    let pool = if n_threads == 1 {
        None
    } else {
        Some(pool(n_threads)?)
    };
    let res = run_detached(py, move || {
        let mut rng = rng_for(seed, CLUSTER, stream);
        match &pool {
            None => km::kmeans(&xs, n, d, k, n_init, max_iter, tol, &mut rng),
            Some(p) => {
                p.install(|| km::kmeans_in_parallel(&xs, n, d, k, n_init, max_iter, tol, &mut rng))
            }
        }
    })?;
    let labels = PyArray1::from_iter(py, res.labels.iter().map(|&l| l as i64));
    let centers = rows_to_py(py, res.centers, k, d);
    Ok((labels, res.inertia, centers, res.n_iter, res.n_runs))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kmeans, m)?)?;
    Ok(())
}
