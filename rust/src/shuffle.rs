//! Shuffled ("null") networks (method.md §4).
//!
//! A null network keeps the architecture and each layer's weights and
//! destroys their arrangement. Every edge group (a chain's layer) is shuffled
//! independently, in order, from one random stream; [`shuffle_many`] gives sample `i` the stream
//! `rng_for(seed, SHUFFLE, i)`, so a sample depends on `(seed, i)` alone and
//! never on the thread count.
//!
//! Layers are expected in canonical CSR form (as [`Network`] checks); every
//! output layer is canonical.

use std::fmt;
use std::str::FromStr;

use rand::seq::{index, SliceRandom};
use rand::Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::net::{CsrLayer, EdgeGroup, Network};
use crate::rng::{rng_for, SHUFFLE};

/// Bandwidth of the Gaussian kernel density estimate used by the
/// `*_distribution` methods (the reference's `KernelDensity(bandwidth=0.01)`).
pub const KDE_BANDWIDTH: f64 = 0.01;

/// How a layer's weights are shuffled (method.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShuffleMethod {
    /// `"layer"`: a uniformly random permutation of all `rows × cols` entries
    /// of the dense matrix, zeros included (the reference default). The output
    /// stores no zeros.
    Layer,
    /// `"layer_nonzero"`: keep the positions of the non-zero weights and
    /// permute the non-zero values among them (stored zeros stay stored zeros).
    LayerNonzero,
    /// `"layer_nonzero_distribution"`: keep the positions of the non-zero
    /// weights; draw each new value from a Gaussian KDE (bandwidth
    /// [`KDE_BANDWIDTH`]) of the layer's non-zero values, i.e. a uniformly
    /// chosen non-zero value plus `Normal(0, 0.01)` noise.
    LayerNonzeroDistribution,
    /// `"layer_all_distribution"`: [`ShuffleMethod::Layer`], then
    /// [`ShuffleMethod::LayerNonzeroDistribution`].
    LayerAllDistribution,
}

impl ShuffleMethod {
    /// Every method, in documentation order.
    pub const ALL: [ShuffleMethod; 4] = [
        ShuffleMethod::Layer,
        ShuffleMethod::LayerNonzero,
        ShuffleMethod::LayerNonzeroDistribution,
        ShuffleMethod::LayerAllDistribution,
    ];

    /// The method's name as the Python API spells it (inverse of [`FromStr`]).
    pub fn name(&self) -> &'static str {
        match self {
            ShuffleMethod::Layer => "layer",
            ShuffleMethod::LayerNonzero => "layer_nonzero",
            ShuffleMethod::LayerNonzeroDistribution => "layer_nonzero_distribution",
            ShuffleMethod::LayerAllDistribution => "layer_all_distribution",
        }
    }
}

impl FromStr for ShuffleMethod {
    type Err = Error;

    /// Parse one of `"layer"`, `"layer_nonzero"`, `"layer_nonzero_distribution"`,
    /// `"layer_all_distribution"` (exact spelling).
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<String> = Self::ALL
                    .iter()
                    .map(|m| format!("'{}'", m.name()))
                    .collect();
                Error::Value(format!(
                    "unknown shuffle method '{s}'; valid methods are {}",
                    names.join(", ")
                ))
            })
    }
}

impl fmt::Display for ShuffleMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The non-zero stored values of a layer, in storage order.
fn nonzero_values(layer: &CsrLayer) -> Vec<f64> {
    layer.data.iter().copied().filter(|&w| w != 0.0).collect()
}

/// `amount` distinct positions drawn uniformly from `0..total`, ascending.
///
/// When a bitmap of `total` bits is not much larger than the output, draw
/// positions by rejection into the bitmap (of the complement when more than
/// half the positions are taken) and read it out in order: no sort and no
/// `total`-sized index array. Otherwise (very sparse, very large layers) fall
/// back to `rand::seq::index::sample` and sort. Both give a uniform subset.
fn sorted_positions<R: Rng + ?Sized>(rng: &mut R, total: usize, amount: usize) -> Vec<usize> {
    debug_assert!(amount <= total);
    let words = total.div_ceil(64);
    if words > 4 * amount + 1024 {
        let mut positions = index::sample(rng, total, amount).into_vec();
        positions.sort_unstable();
        return positions;
    }
    let complement = amount > total / 2;
    let draws = if complement { total - amount } else { amount };
    let mut bits = vec![0u64; words];
    let mut taken = 0;
    while taken < draws {
        let p = rng.random_range(0..total);
        let (w, b) = (p / 64, p % 64);
        if bits[w] >> b & 1 == 0 {
            bits[w] |= 1 << b;
            taken += 1;
        }
    }
    let mut out = Vec::with_capacity(amount);
    for (w, &word) in bits.iter().enumerate() {
        let mut word = if complement { !word } else { word };
        let valid = total - 64 * w;
        if valid < 64 {
            word &= (1u64 << valid) - 1;
        }
        while word != 0 {
            out.push(64 * w + word.trailing_zeros() as usize);
            word &= word - 1;
        }
    }
    out
}

/// `layer`: scatter the non-zero values (randomly permuted) over uniformly
/// chosen distinct positions of the dense matrix.
fn permute_all<R: Rng + ?Sized>(layer: &CsrLayer, rng: &mut R) -> CsrLayer {
    let (rows, cols) = (layer.rows, layer.cols);
    let mut values = nonzero_values(layer);
    let total = rows.saturating_mul(cols);
    // A canonical layer has at most rows × cols entries; the truncation only
    // keeps non-canonical input (duplicate entries) from panicking.
    values.truncate(total);
    let positions = sorted_positions(rng, total, values.len());
    values.shuffle(rng);
    let mut indptr = vec![0usize; rows + 1];
    let mut indices = Vec::with_capacity(positions.len());
    for &p in &positions {
        indptr[p / cols + 1] += 1;
        indices.push((p % cols) as u32);
    }
    for r in 0..rows {
        indptr[r + 1] += indptr[r];
    }
    CsrLayer {
        rows,
        cols,
        indptr,
        indices,
        data: values,
    }
}

/// `layer` within one node group: the non-zero values placed at uniformly drawn
/// positions above the diagonal of the square matrix (position `p` numbers the upper
/// triangle row by row).
fn permute_all_upper<R: Rng + ?Sized>(layer: &CsrLayer, rng: &mut R) -> CsrLayer {
    let n = layer.rows;
    let mut values = nonzero_values(layer);
    let total = n * n.saturating_sub(1) / 2;
    values.truncate(total);
    let positions = sorted_positions(rng, total, values.len());
    values.shuffle(rng);
    let mut indptr = vec![0usize; n + 1];
    let mut indices = Vec::with_capacity(positions.len());
    let (mut row, mut row_start) = (0usize, 0usize); // row_start: first position of `row`
    for &p in &positions {
        while p >= row_start + (n - 1 - row) {
            row_start += n - 1 - row;
            row += 1;
        }
        indptr[row + 1] += 1;
        indices.push((row + 1 + (p - row_start)) as u32);
    }
    for r in 0..n {
        indptr[r + 1] += indptr[r];
    }
    CsrLayer {
        rows: n,
        cols: n,
        indptr,
        indices,
        data: values,
    }
}

/// `layer_nonzero`: permute the non-zero values among the non-zero positions.
fn permute_nonzero<R: Rng + ?Sized>(layer: &CsrLayer, rng: &mut R) -> CsrLayer {
    let mut values = nonzero_values(layer);
    values.shuffle(rng);
    let mut out = layer.clone();
    let mut next = values.into_iter();
    for w in out.data.iter_mut().filter(|w| **w != 0.0) {
        *w = next.next().unwrap_or(0.0);
    }
    out
}

/// `layer_nonzero_distribution`, in place: replace every non-zero value by a
/// draw from the Gaussian KDE of the layer's non-zero values. A draw of exactly
/// 0 (probability ~0) is redrawn so that the zero pattern is kept exactly.
fn kde_nonzero_in_place<R: Rng + ?Sized>(layer: &mut CsrLayer, rng: &mut R) {
    let values = nonzero_values(layer);
    if values.is_empty() {
        return;
    }
    let noise = Normal::new(0.0, KDE_BANDWIDTH).expect("valid normal distribution");
    for w in layer.data.iter_mut().filter(|w| **w != 0.0) {
        *w = loop {
            let v = values[rng.random_range(0..values.len())] + noise.sample(rng);
            if v != 0.0 {
                break v;
            }
        };
    }
}

/// Shuffle one layer with `method`, drawing from `rng`.
pub fn shuffle_layer<R: Rng + ?Sized>(
    layer: &CsrLayer,
    method: ShuffleMethod,
    rng: &mut R,
) -> CsrLayer {
    shuffle_group(layer, method, false, rng)
}

/// [`shuffle_layer`] of an edge group; `within` (an edge group inside one node group,
/// strictly upper triangular): "all positions" are the `n (n - 1) / 2` positions above
/// the diagonal, so a shuffle never creates a self-loop or stores an edge twice.
fn shuffle_group<R: Rng + ?Sized>(
    layer: &CsrLayer,
    method: ShuffleMethod,
    within: bool,
    rng: &mut R,
) -> CsrLayer {
    let all = |rng: &mut R| {
        if within {
            permute_all_upper(layer, rng)
        } else {
            permute_all(layer, rng)
        }
    };
    match method {
        ShuffleMethod::Layer => all(rng),
        ShuffleMethod::LayerNonzero => permute_nonzero(layer, rng),
        ShuffleMethod::LayerNonzeroDistribution => {
            let mut out = layer.clone();
            kde_nonzero_in_place(&mut out, rng);
            out
        }
        ShuffleMethod::LayerAllDistribution => {
            let mut out = all(rng);
            kde_nonzero_in_place(&mut out, rng);
            out
        }
    }
}

/// Shuffle every edge group of `net` independently (in order, one stream).
pub fn shuffle_net<R: Rng + ?Sized>(net: &Network, method: ShuffleMethod, rng: &mut R) -> Network {
    Network {
        sizes: net.sizes.clone(),
        edges: net
            .edges
            .iter()
            .map(|eg| EdgeGroup {
                src: eg.src,
                dst: eg.dst,
                layer: shuffle_group(&eg.layer, method, eg.src == eg.dst, rng),
            })
            .collect(),
    }
}

/// Null samples `start, start + 1, …, start + count - 1` of `net`.
///
/// Sample `k` is `shuffle_net(net, method, &mut rng_for(seed, SHUFFLE, k))`
/// (`k` wraps around at `u64::MAX`). Runs in parallel with rayon in whatever
/// pool the caller installed; the result, in index order, is the same for any
/// thread count and any split into `start`/`count` batches.
pub fn shuffle_many(
    net: &Network,
    method: ShuffleMethod,
    seed: u64,
    start: u64,
    count: usize,
) -> Vec<Network> {
    (0..count)
        .into_par_iter()
        .map(|i| {
            let mut rng = rng_for(seed, SHUFFLE, start.wrapping_add(i as u64));
            shuffle_net(net, method, &mut rng)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn sorted(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn shuffles_within_a_group_stay_above_the_diagonal() {
        let n = 7;
        let mut dense = vec![0.0; n * n];
        for (k, (i, j)) in [(0, 1), (0, 6), (2, 3), (4, 5), (5, 6)]
            .into_iter()
            .enumerate()
        {
            dense[i * n + j] = (k + 1) as f64;
        }
        let layer = {
            let full = CsrLayer::from_dense(n, n, &dense).unwrap();
            let mut indptr = vec![0];
            let (mut indices, mut data) = (vec![], vec![]);
            for r in 0..n {
                for p in full.indptr[r]..full.indptr[r + 1] {
                    if full.indices[p] as usize > r {
                        indices.push(full.indices[p]);
                        data.push(full.data[p]);
                    }
                }
                indptr.push(indices.len());
            }
            CsrLayer::new(n, n, indptr, indices, data).unwrap()
        };
        assert!(layer.is_strictly_upper());
        let mut seen = std::collections::HashSet::new();
        for seed in 0..200u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            for method in ShuffleMethod::ALL {
                let out = shuffle_group(&layer, method, true, &mut rng);
                assert!(out.is_strictly_upper(), "{method:?}");
                let nz: Vec<f64> = out.data.iter().copied().filter(|w| *w != 0.0).collect();
                assert_eq!(nz.len(), 5);
                if method == ShuffleMethod::Layer {
                    assert_eq!(sorted(nz), vec![1.0, 2.0, 3.0, 4.0, 5.0]);
                    for r in 0..n {
                        for p in out.indptr[r]..out.indptr[r + 1] {
                            seen.insert((r, out.indices[p]));
                        }
                    }
                }
            }
        }
        assert_eq!(seen.len(), n * (n - 1) / 2); // every position above the diagonal is used
    }

    /// A 6×5 dense layer with 12 non-zeros (some repeated) and 18 stored zeros.
    fn dense_layer() -> CsrLayer {
        let mut v = vec![0.0; 30];
        for (k, p) in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
            .into_iter()
            .enumerate()
        {
            v[p] = if k % 3 == 0 { 0.5 } else { -(k as f64) };
        }
        CsrLayer::from_dense(6, 5, &v).unwrap()
    }

    /// A sparse layer with one explicit stored zero.
    fn sparse_layer() -> CsrLayer {
        CsrLayer::new(
            3,
            4,
            vec![0, 2, 2, 5],
            vec![1, 3, 0, 1, 2],
            vec![1.5, 0.0, -2.0, 3.0, 1.5],
        )
        .unwrap()
    }

    fn net() -> Network {
        let l2 = CsrLayer::from_dense(5, 3, &[1.0; 15]).unwrap();
        Network::chain(vec![dense_layer(), l2]).unwrap()
    }

    /// The layer is a valid canonical CSR layer.
    fn assert_valid(l: &CsrLayer) {
        CsrLayer::new(
            l.rows,
            l.cols,
            l.indptr.clone(),
            l.indices.clone(),
            l.data.clone(),
        )
        .unwrap();
        Network::chain(vec![l.clone()]).unwrap();
    }

    #[test]
    fn from_str_and_name() {
        for m in ShuffleMethod::ALL {
            assert_eq!(m.name().parse::<ShuffleMethod>().unwrap(), m);
            assert_eq!(m.to_string(), m.name());
        }
        for bad in ["", "Layer", "layer ", "nonzero", "layer-nonzero"] {
            let err = bad.parse::<ShuffleMethod>().unwrap_err();
            assert!(matches!(err, Error::Value(_)));
            let msg = err.to_string();
            assert!(
                msg.contains("'layer_all_distribution'") && msg.contains("'layer'"),
                "{msg}"
            );
        }
    }

    #[test]
    fn permutations_keep_the_multiset() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for layer in [dense_layer(), sparse_layer()] {
            for m in [ShuffleMethod::Layer, ShuffleMethod::LayerNonzero] {
                for _ in 0..20 {
                    let out = shuffle_layer(&layer, m, &mut rng);
                    assert_valid(&out);
                    assert_eq!((out.rows, out.cols), (layer.rows, layer.cols));
                    assert_eq!(sorted(nonzero_values(&out)), sorted(nonzero_values(&layer)));
                }
            }
        }
    }

    #[test]
    fn nonzero_methods_keep_the_zero_pattern() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for layer in [dense_layer(), sparse_layer()] {
            for m in [
                ShuffleMethod::LayerNonzero,
                ShuffleMethod::LayerNonzeroDistribution,
            ] {
                let out = shuffle_layer(&layer, m, &mut rng);
                assert_eq!(out.indptr, layer.indptr);
                assert_eq!(out.indices, layer.indices);
                for (a, b) in out.data.iter().zip(&layer.data) {
                    assert_eq!(*a == 0.0, *b == 0.0);
                }
            }
        }
    }

    #[test]
    fn layer_spreads_zeros_uniformly() {
        // 12 non-zeros packed in the first 12 of 30 positions of a dense matrix
        let layer = dense_layer();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 3000;
        let mut hits = [0usize; 30];
        for _ in 0..n {
            let out = shuffle_layer(&layer, ShuffleMethod::Layer, &mut rng);
            assert_eq!(out.nnz(), 12);
            assert!(out.data.iter().all(|&w| w != 0.0));
            for (r, c, _) in out.iter() {
                hits[r * 5 + c] += 1;
            }
        }
        // every position is occupied with probability 12/30 = 0.4 (sd ≈ 0.009)
        for h in hits {
            let f = h as f64 / n as f64;
            assert!((f - 0.4).abs() < 0.05, "{hits:?}");
        }
    }

    #[test]
    fn sorted_positions_is_uniform_on_every_path() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // (total, amount, buckets): bitmap, bitmap of the complement, edge
        // cases, and the index::sample fallback (bitmap much larger than output)
        let cases = [
            (10, 3, 10),
            (10, 8, 10),
            (10, 0, 10),
            (10, 10, 10),
            (70, 69, 70),
            (200_000, 3, 10),
        ];
        for (total, amount, buckets) in cases {
            let n = 4000;
            let mut hits = vec![0usize; buckets];
            for _ in 0..n {
                let p = sorted_positions(&mut rng, total, amount);
                assert_eq!(p.len(), amount);
                assert!(p.windows(2).all(|w| w[0] < w[1]));
                assert!(p.iter().all(|&x| x < total));
                for x in p {
                    hits[x * buckets / total] += 1;
                }
            }
            let want = (n * amount) as f64 / buckets as f64;
            for &h in &hits {
                assert!(
                    (h as f64 - want).abs() <= 5.0 * want.sqrt() + 1e-9,
                    "{total} {amount}: {hits:?}"
                );
            }
        }
    }

    #[test]
    fn layer_moves_values_between_positions() {
        // the value at a fixed non-zero position is each of {1, 2, 3} equally often
        let layer = CsrLayer::from_dense(1, 3, &[1.0, 2.0, 3.0]).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut seen = [0usize; 3];
        for _ in 0..3000 {
            for m in [ShuffleMethod::Layer, ShuffleMethod::LayerNonzero] {
                let out = shuffle_layer(&layer, m, &mut rng);
                seen[out.data[0] as usize - 1] += 1;
            }
        }
        assert!(
            seen.iter()
                .all(|&s| (s as f64 / 6000.0 - 1.0 / 3.0).abs() < 0.04),
            "{seen:?}"
        );
    }

    #[test]
    fn distribution_methods_draw_near_the_values() {
        let layer = CsrLayer::from_dense(20, 50, &[1.0; 1000]).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for m in [
            ShuffleMethod::LayerNonzeroDistribution,
            ShuffleMethod::LayerAllDistribution,
        ] {
            let out = shuffle_layer(&layer, m, &mut rng);
            assert_valid(&out);
            assert_eq!(out.nnz(), 1000);
            let mean = out.data.iter().sum::<f64>() / 1000.0;
            let var = out.data.iter().map(|w| (w - mean).powi(2)).sum::<f64>() / 999.0;
            assert!((mean - 1.0).abs() < 0.002, "{mean}");
            assert!((var.sqrt() - KDE_BANDWIDTH).abs() < 0.001, "{}", var.sqrt());
        }
        // values are drawn around existing ones (bimodal layer: no draw near 0)
        let mut v = vec![0.0; 400];
        for (k, w) in v.iter_mut().enumerate().take(200) {
            *w = if k % 2 == 0 { 1.0 } else { -1.0 };
        }
        let layer = CsrLayer::from_dense(20, 20, &v).unwrap();
        for m in [
            ShuffleMethod::LayerNonzeroDistribution,
            ShuffleMethod::LayerAllDistribution,
        ] {
            let out = shuffle_layer(&layer, m, &mut rng);
            assert_eq!(out.data.iter().filter(|&&w| w != 0.0).count(), 200);
            assert!(out
                .data
                .iter()
                .all(|&w| w == 0.0 || (w.abs() - 1.0).abs() < 0.08));
            let pos = out.data.iter().filter(|&&w| w > 0.0).count();
            assert!((60..140).contains(&pos), "{pos}");
        }
        // layer_all_distribution stores no zeros and moves positions
        let out = shuffle_layer(&layer, ShuffleMethod::LayerAllDistribution, &mut rng);
        assert_eq!(out.nnz(), 200);
        assert!(out.iter().any(|(r, _, _)| r >= 10));
    }

    #[test]
    fn empty_and_all_zero_layers() {
        let zero = CsrLayer::from_dense(2, 3, &[0.0; 6]).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        for m in ShuffleMethod::ALL {
            let out = shuffle_layer(&zero, m, &mut rng);
            assert_valid(&out);
            assert!(out.data.iter().all(|&w| w == 0.0));
        }
        let none = CsrLayer::new(2, 3, vec![0, 0, 0], vec![], vec![]).unwrap();
        for m in ShuffleMethod::ALL {
            assert_eq!(shuffle_layer(&none, m, &mut rng), none);
        }
    }

    #[test]
    fn shuffle_many_is_deterministic_across_threads_and_batches() {
        let net = net();
        let run = |m: ShuffleMethod, seed: u64, threads: usize, start: u64, count: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| shuffle_many(&net, m, seed, start, count))
        };
        for m in ShuffleMethod::ALL {
            let one = run(m, 42, 1, 0, 9);
            assert_eq!(one, run(m, 42, 4, 0, 9));
            assert_eq!(run(m, 42, 4, 3, 4), one[3..7].to_vec());
            // sample k is shuffle_net with stream k
            let mut rng = rng_for(42, SHUFFLE, 5);
            assert_eq!(shuffle_net(&net, m, &mut rng), one[5]);
            // different samples and seeds differ
            assert_ne!(one[0], one[1]);
            assert_ne!(one[0], run(m, 43, 1, 0, 1)[0]);
            for s in &one {
                assert_eq!(s.widths(), net.widths());
                s.layers().for_each(assert_valid);
            }
        }
        assert!(shuffle_many(&net, ShuffleMethod::Layer, 1, u64::MAX, 2).len() == 2);
    }
}
