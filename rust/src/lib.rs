//! modcut's Rust core.
//!
//! Data flows one way: a [`net::Network`] (node groups and the weight
//! matrices between them; a layered network is the chain `0 → 1 → … → L`)
//! becomes a graph ([`graph`]), is embedded ([`embed`], [`spectral`]) and
//! partitioned ([`kmeans`], [`null`]), scored ([`cut`]), and compared against
//! shuffled copies of itself ([`shuffle`], [`null`]). Every stage is written
//! once for every network. The `py_*` modules are the only places that know
//! about Python.

pub mod cut;
pub mod embed;
pub mod error;
pub mod graph;
pub mod kmeans;
pub mod net;
pub mod normalize;
pub mod null;
pub mod rng;
pub mod shuffle;
pub mod spectral;
#[doc(hidden)]
pub mod testkit;

mod py_graph;
mod py_net;
mod py_null;
mod py_spectral;
mod py_util;

use pyo3::prelude::*;

/// The native extension `modcut._core`. Every function validates its input and
/// raises `ValueError` (bad input) or `RuntimeError` (numerical failure or an
/// internal panic); none of them can abort the interpreter.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    py_net::register(m)?;
    py_graph::register(m)?;
    py_spectral::register(m)?;
    py_null::register(m)?;
    Ok(())
}
