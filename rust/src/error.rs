//! Errors of the Rust core. Each variant maps to one Python exception type in
//! `py_util.rs` (`to_pyerr`): `Shape`/`Value`/`Labels` → `ValueError`, `Numerical` → `RuntimeError`.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("shape error: {0}")]
    Shape(String),
    #[error("invalid value: {0}")]
    Value(String),
    #[error("invalid labels: {0}")]
    Labels(String),
    #[error("numerical failure: {0}")]
    Numerical(String),
}

pub type Result<T> = std::result::Result<T, Error>;
