//! Python bindings of [`crate::graph`], [`crate::cut`] and [`crate::shuffle`]
//! (chains and general networks alike).
//!
//! Every function takes the network as a [`CoreNetwork`] handle (validated
//! once, when it was built), releases the GIL for the work, and raises
//! `ValueError` for bad input.

use numpy::{IntoPyArray, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::cut;
use crate::graph::{self, SparseBlock};
use crate::py_net::CoreNetwork;
use crate::py_util::{
    adjacency_to_py, ncut_to_py, parse_method, pool, run_detached, u32_array, usize_array,
    F64Array, I32Array, I64Array, PyAdjacency, PyNcut,
};
use crate::shuffle::shuffle_many;

/// A CSR matrix handed to Python: `(nrows, ncols, indptr, indices, data)`.
type PyCsr<'py> = (usize, usize, I64Array<'py>, I32Array<'py>, F64Array<'py>);

fn csr_to_py<'py>(py: Python<'py>, b: SparseBlock) -> PyCsr<'py> {
    (
        b.nrows,
        b.ncols,
        usize_array(py, &b.indptr),
        u32_array(py, &b.indices),
        b.data.into_pyarray(py),
    )
}

/// `adjacency(net) -> (n, indptr, indices, data, degree)`: the symmetric
/// CSR adjacency (weights |w|, no zeros stored, sorted rows) over all neurons.
#[pyfunction]
fn adjacency<'py>(py: Python<'py>, net: &Bound<'py, CoreNetwork>) -> PyResult<PyAdjacency<'py>> {
    let net = net.get().net();
    let g = run_detached(py, || Ok(graph::adjacency(net)))?;
    Ok(adjacency_to_py(py, g))
}

/// `degrees(net) -> degree`: weighted degree (Σ|w|) of every neuron.
#[pyfunction]
fn degrees<'py>(py: Python<'py>, net: &Bound<'py, CoreNetwork>) -> PyResult<F64Array<'py>> {
    let net = net.get().net();
    let d = run_detached(py, || Ok(graph::degrees(net)))?;
    Ok(d.into_pyarray(py))
}

/// `colouring(net) -> [0/1 per group] | None`: a 2-colouring of the groups
/// along edge groups with a non-zero weight (a chain's: the layer parity), or
/// `None` when the group graph has an odd cycle.
#[pyfunction]
fn colouring(py: Python<'_>, net: &Bound<'_, CoreNetwork>) -> PyResult<Option<Vec<u32>>> {
    let net = net.get().net();
    // u32, not u8: PyO3 would hand a Vec<u8> to Python as bytes
    let c = run_detached(py, || Ok(graph::colouring(net)))?;
    Ok(c.map(|c| c.into_iter().map(u32::from).collect()))
}

/// `reduce_isolated(net) -> (reduced, kept)`: the network without its
/// degree-0 neurons, and the ascending global ids of the kept neurons.
#[pyfunction]
fn reduce_isolated<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreNetwork>,
) -> PyResult<(CoreNetwork, I64Array<'py>)> {
    let net = net.get().net();
    let (red, kept) = run_detached(py, || graph::reduce_isolated(net))?;
    Ok((CoreNetwork::from_net(red), usize_array(py, &kept)))
}

/// `normalized_bipartite(net) -> (even, odd, (nrows, ncols, indptr, indices, data))`:
/// the even-to-odd block of D^-1/2 A D^-1/2 over non-isolated neurons (sides:
/// the [`colouring`]; `ValueError` if there is none).
#[pyfunction]
fn normalized_bipartite<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreNetwork>,
) -> PyResult<(I64Array<'py>, I64Array<'py>, PyCsr<'py>)> {
    let net = net.get().net();
    let b = run_detached(py, || graph::normalized_bipartite(net))?;
    Ok((
        usize_array(py, &b.even),
        usize_array(py, &b.odd),
        csr_to_py(py, b.block),
    ))
}

/// `ncut(net, labels, eps=1e-8) -> (ncut, cluster_ids, cut, volume)`.
#[pyfunction]
#[pyo3(signature = (net, labels, eps = 1e-8))]
fn ncut<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreNetwork>,
    labels: PyReadonlyArray1<'py, i64>,
    eps: f64,
) -> PyResult<PyNcut<'py>> {
    let net = net.get().net();
    let labels: Vec<i64> = labels.as_array().iter().copied().collect();
    let p = run_detached(py, || cut::ncut(net, &labels, eps))?;
    Ok(ncut_to_py(py, p))
}

/// `shuffle(net, method, seed, start, count, n_threads) -> [net_0, …]`:
/// null samples (each edge group shuffled on its own) `start … start + count - 1`, in parallel on `n_threads`
/// threads (0 = all cores); identical for any thread count.
#[pyfunction]
fn shuffle<'py>(
    py: Python<'py>,
    net: &Bound<'py, CoreNetwork>,
    method: &str,
    seed: u64,
    start: u64,
    count: usize,
    n_threads: usize,
) -> PyResult<Vec<CoreNetwork>> {
    let method = parse_method(method)?;
    let net = net.get().net();
    let pool = pool(n_threads)?;
    let nets = run_detached(py, || {
        Ok(pool.install(|| shuffle_many(net, method, seed, start, count)))
    })?;
    Ok(nets.into_iter().map(CoreNetwork::from_net).collect())
}

/// Add the graph, cut and shuffle functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(adjacency, m)?)?;
    m.add_function(wrap_pyfunction!(degrees, m)?)?;
    m.add_function(wrap_pyfunction!(colouring, m)?)?;
    m.add_function(wrap_pyfunction!(reduce_isolated, m)?)?;
    m.add_function(wrap_pyfunction!(normalized_bipartite, m)?)?;
    m.add_function(wrap_pyfunction!(ncut, m)?)?;
    m.add_function(wrap_pyfunction!(shuffle, m)?)?;
    Ok(())
}
