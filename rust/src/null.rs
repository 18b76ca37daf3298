//! The partition of one network and the null pipeline over many shuffles.
//!
//! [`spectral_labels`] is the whole clustering of method.md §2 for one network:
//! embedding ([`crate::embed`]) → k-means. [`null_ncuts`] runs shuffle →
//! [`spectral_labels`] → n-cut for a range of null sample indices in parallel;
//! sample `i` draws from the streams `(seed, SHUFFLE, i)` and
//! `(seed, NULL_CLUSTER, i)` only, so the results do not depend on the thread
//! count, the order of execution or the chunking.

use rand::Rng;
use rayon::prelude::*;

use crate::cut;
use crate::embed::{embedding, Embedding};
use crate::error::{Error, Result};
use crate::kmeans::{self, Restarts};
use crate::net::Network;
use crate::normalize;
use crate::rng::{rng_for, NULL_CLUSTER, SHUFFLE};
use crate::shuffle::{self, ShuffleMethod};

/// k-means settings of the reference (scikit-learn's defaults).
pub const KMEANS_MAX_ITER: usize = 300;
pub const KMEANS_TOL: f64 = 1e-4;
/// The reference's epsilon added to every cluster volume.
pub const NCUT_EPS: f64 = 1e-8;

/// A partition of every node of a network.
pub struct Partition {
    /// Cluster of every node (global ids), -1 for isolated nodes.
    pub labels: Vec<i64>,
    /// The eigenvalues of the embedding.
    pub eigenvalues: Vec<f64>,
}

/// Cluster every node of `net` into `k` clusters (isolated nodes get -1).
/// With `parallel_restarts` the k-means restarts run on the current rayon pool
/// (same result, see [`kmeans::kmeans_in_parallel`]).
pub fn spectral_labels<R: Rng>(
    net: &Network,
    k: usize,
    n_init: impl Into<Restarts>,
    rng: &mut R,
    parallel_restarts: bool,
) -> Result<Partition> {
    let emb = embedding(net, k, rng)?;
    partition_of(emb, net.n_nodes(), k, n_init, rng, parallel_restarts)
}

/// k-means on an embedding (the reference's settings), labels for all `n_nodes`
/// nodes (-1 for the nodes the embedding leaves out); with `parallel_restarts`
/// the restarts run on the current rayon pool (same result).
fn partition_of<R: Rng + ?Sized>(
    emb: Embedding,
    n_nodes: usize,
    k: usize,
    n_init: impl Into<Restarts>,
    rng: &mut R,
    parallel_restarts: bool,
) -> Result<Partition> {
    let n_init: Restarts = n_init.into();
    let rows = emb.node_ids.len();
    let run = if parallel_restarts {
        kmeans::kmeans_in_parallel
    } else {
        kmeans::kmeans
    };
    let km = run(&emb.x, rows, k, k, n_init, KMEANS_MAX_ITER, KMEANS_TOL, rng)?;
    let mut labels = vec![-1i64; n_nodes];
    for (row, &node) in emb.node_ids.iter().enumerate() {
        labels[node] = km.labels[row] as i64;
    }
    Ok(Partition {
        labels,
        eigenvalues: emb.eigenvalues,
    })
}

/// The n-cut of null sample `index`: shuffle, cluster, score (k-means
/// restarts in parallel with `parallel_restarts`; same result either way).
/// With `normalize = Some(eps)` the shuffle is normalised ([`crate::normalize`]) before
/// it is clustered and scored, as the authors' PyTorch pipeline does.
#[allow(clippy::too_many_arguments)]
pub fn null_sample(
    net: &Network,
    method: ShuffleMethod,
    k: usize,
    n_init: impl Into<Restarts>,
    seed: u64,
    index: u64,
    parallel_restarts: bool,
    normalize: Option<f64>,
) -> Result<f64> {
    let n_init: Restarts = n_init.into();
    let mut shuffled = shuffle::shuffle_net(net, method, &mut rng_for(seed, SHUFFLE, index));
    if let Some(eps) = normalize {
        normalize::normalize(&mut shuffled, eps);
    }
    let part = spectral_labels(
        &shuffled,
        k,
        n_init,
        &mut rng_for(seed, NULL_CLUSTER, index),
        parallel_restarts,
    )
    .map_err(|e| match e {
        Error::Value(msg) => Error::Value(format!("null sample {index}: {msg}")),
        other => other,
    })?;
    cut::ncut_value(&shuffled, &part.labels, NCUT_EPS)
}

/// n-cuts of null samples `start .. start + count`, in index order, computed
/// in parallel in the caller's rayon pool: samples in parallel when there are
/// at least as many as threads, else one sample after another with the
/// k-means restarts of each in parallel (same numbers either way).
#[allow(clippy::too_many_arguments)]
pub fn null_ncuts(
    net: &Network,
    method: ShuffleMethod,
    k: usize,
    n_init: impl Into<Restarts>,
    seed: u64,
    start: u64,
    count: usize,
    normalize: Option<f64>,
) -> Result<Vec<f64>> {
    let n_init: Restarts = n_init.into();
    if count < rayon::current_num_threads() {
        return (0..count as u64)
            .map(|i| null_sample(net, method, k, n_init, seed, start + i, true, normalize))
            .collect();
    }
    (0..count as u64)
        .into_par_iter()
        .map(|i| null_sample(net, method, k, n_init, seed, start + i, false, normalize))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::CsrLayer;
    use crate::rng::CLUSTER;
    use rand::Rng;

    /// `k` disjoint sub-networks of widths `widths` (neuron i of a layer of
    /// width n is in module i·k/n), with random positive weights.
    fn planted(widths: &[usize], k: usize, seed: u64) -> Network {
        let mut rng = rng_for(seed, 99, 0);
        let layers = widths
            .windows(2)
            .map(|w| {
                let (a, b) = (w[0], w[1]);
                let vals: Vec<f64> = (0..a * b)
                    .map(|p| {
                        let (i, j) = (p / b, p % b);
                        if i * k / a == j * k / b {
                            rng.random_range(0.5..1.5)
                        } else {
                            0.0
                        }
                    })
                    .collect();
                CsrLayer::from_dense(a, b, &vals).unwrap()
            })
            .collect();
        Network::chain(layers).unwrap()
    }

    fn module_of(net: &Network, k: usize) -> Vec<usize> {
        net.widths()
            .iter()
            .flat_map(|&n| (0..n).map(move |i| i * k / n))
            .collect()
    }

    #[test]
    fn planted_modules_are_recovered_with_zero_ncut() {
        let k = 3;
        let net = planted(&[30, 24, 24, 12], k, 1);
        let part = spectral_labels(&net, k, 10, &mut rng_for(0, CLUSTER, 0), false).unwrap();
        let truth = module_of(&net, k);
        // same partition up to renaming: labels agree exactly where truth agrees
        for a in 0..truth.len() {
            for b in 0..truth.len() {
                assert_eq!(truth[a] == truth[b], part.labels[a] == part.labels[b]);
            }
        }
        assert!(cut::ncut_value(&net, &part.labels, NCUT_EPS).unwrap() < 1e-12);
        assert!(part
            .eigenvalues
            .iter()
            .take(k)
            .all(|&s| (s - 1.0).abs() < 1e-9));
    }

    #[test]
    fn tiny_graphs_use_the_dense_path() {
        let net = planted(&[4, 3, 2], 2, 2);
        let part = spectral_labels(&net, 3, 5, &mut rng_for(0, CLUSTER, 0), false).unwrap();
        assert!(part.labels.iter().all(|&l| (0..3).contains(&l)));
        assert!(spectral_labels(&net, 10, 5, &mut rng_for(0, CLUSTER, 0), true).is_err());
    }

    #[test]
    fn null_ncuts_do_not_depend_on_threads_or_chunks() {
        let net = planted(&[40, 30, 30, 10], 4, 3);
        let run = |threads: usize, start: u64, count: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| null_ncuts(&net, ShuffleMethod::Layer, 4, 5, 11, start, count, None))
                .unwrap()
        };
        let one = run(1, 0, 12);
        let four = run(4, 0, 12);
        let tail = run(3, 8, 4);
        // fewer samples than threads: restarts in parallel inside each sample
        let inner = run(8, 4, 3);
        assert_eq!(one, four);
        assert_eq!(&one[8..], &tail[..]);
        assert_eq!(&one[4..7], &inner[..]);
        assert!(one.iter().all(|&v| v > 0.0 && v <= 4.0));
        // a shuffled planted network is far less modular than the planted one
        assert!(one.iter().all(|&v| v > 0.5));
    }

    #[test]
    fn group_null_ncuts_do_not_depend_on_threads_or_chunks() {
        let g = crate::testkit::planted_residual(40, 4, 4);
        let run = |threads: usize, start: u64, count: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| null_ncuts(&g, ShuffleMethod::Layer, 4, 5, 11, start, count, None))
                .unwrap()
        };
        let one = run(1, 0, 8);
        assert_eq!(one, run(3, 0, 8));
        assert_eq!(&one[5..], &run(2, 5, 3)[..]);
        // fewer samples than threads: restarts in parallel inside each sample
        assert_eq!(&one[2..4], &run(8, 2, 2)[..]);
        assert!(one.iter().all(|&v| v > 0.5 && v <= 4.0));
    }
}
