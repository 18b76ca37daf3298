//! k-means as scikit-learn's `KMeans(init="k-means++", algorithm="lloyd")` runs it.
//!
//! - Data are centered first (as scikit-learn does for dense input); centers
//!   are returned in the original coordinates.
//! - Seeding: greedy k-means++ with `2 + floor(ln k)` local trials per center
//!   (the candidate that most lowers the potential wins).
//! - Lloyd iterations until the labels stop changing ("strict convergence") or
//!   the total squared center shift is at most `tol × mean per-feature
//!   variance`, or `max_iter`. Empty clusters are relocated to the points
//!   farthest from their (previous) centers, as scikit-learn does.
//! - After the last iteration every point is reassigned to its nearest final
//!   center in exact f64 arithmetic and the inertia is computed there (in
//!   scikit-learn that final E-step runs only without strict convergence; it
//!   changes nothing when the labels had converged).
//! - Best of `n_init` runs by inertia (a run replaces the best one only if its
//!   inertia is strictly lower and it is not the same partition).
//! - [`Restarts::Auto`] (`n_init="auto"`): restarts in rounds of
//!   [`AUTO_ROUND`]; after each whole round the best inertia is compared with
//!   the best after the previous round, and the run stops once it has improved
//!   by at most [`AUTO_TOL`] (relative) in [`AUTO_PATIENCE`] consecutive rounds,
//!   or at the cap (the reference's n_init). Restart `i` uses the same random
//!   numbers as restart `i` of a fixed run, and the decision is taken only on
//!   whole rounds, so stopping after `m` restarts gives exactly the result of
//!   `Restarts::Fixed(m)`, for any thread count.
//! - Randomness: all of a call's random numbers (each restart's first seed and
//!   its k-means++ trial draws, restart after restart) are drawn up front in
//!   the order a sequential loop draws them, so [`kmeans_in_parallel`] can run
//!   the restarts on the rayon pool (in batches of the pool's size, results
//!   folded in restart order with the rule above) and give bit-identical
//!   results to [`kmeans`]. Memory: one centered copy of the data (in three
//!   layouts) for all restarts, plus O(n) scratch per restart in flight (one
//!   sequentially, at most the pool's size in parallel).
//!
//! # Speed
//! The assignment step is the hot loop. It uses the GEMM form of the squared
//! distance, `‖c‖² − 2 x·c` (the `‖x‖²` term does not change the argmin), in
//! f32, with points in SIMD lanes (chunks of [`LANES`] points, features
//! major, the chunk held in registers) so that the argmin is a lane-wise
//! compare-and-blend. The M-step spreads consecutive points over
//! `ACC_COPIES` partial sums (neighbouring nodes tend to share a cluster, and
//! one running sum per cluster serializes on store-to-load forwarding). On
//! x86-64 the whole routine is compiled again for AVX2+FMA and for AVX-512
//! and picked at run time; the two give bit-identical results (same fused
//! operations per point). f32 rounding can only matter for points (almost)
//! equidistant from two centers during the iterations; the final assignment
//! and the inertia, which decide between runs, are exact f64. Results are
//! deterministic for a seed on a given machine; the portable build (no FMA)
//! may round differently.
//!
//! Measured (1,818 × 12 spectral embedding of a 90%-pruned 784-256x4-10 null
//! network, k = 12, n_init = 25, one core of the 2-core AMD EPYC dev box,
//! shared): ~7 ms (AVX-512 tier), ~10 ms (AVX2 tier), ~20 ms (portable);
//! scikit-learn's `KMeans(n_init=25)` on the same embedding ~45 ms.
#![allow(clippy::needless_range_loop)]

use rand::Rng;

use crate::error::{Error, Result};

/// The outcome of [`kmeans`].
#[derive(Clone, Debug)]
pub struct KMeansResult {
    /// Cluster of each point, `0..k`.
    pub labels: Vec<u32>,
    /// Cluster centers, k × d row-major.
    pub centers: Vec<f64>,
    /// Sum of squared distances of the points to their centers.
    pub inertia: f64,
    /// Lloyd iterations of the winning run.
    pub n_iter: usize,
    /// Restarts run (`n_init` for [`Restarts::Fixed`]).
    pub n_runs: usize,
}

/// Restarts of an automatic run per round.
pub const AUTO_ROUND: usize = 5;
/// Consecutive rounds without a relative improvement above [`AUTO_TOL`] that
/// stop an automatic run.
pub const AUTO_PATIENCE: usize = 2;
/// Relative improvement of the best inertia over one round that counts as none.
pub const AUTO_TOL: f64 = 1e-3;

/// How many k-means restarts to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restarts {
    /// Exactly this many.
    Fixed(usize),
    /// The stopping rule of the module docs, at most `max` restarts.
    Auto { max: usize },
}

impl Restarts {
    /// The most restarts this setting can run.
    pub fn max(self) -> usize {
        match self {
            Restarts::Fixed(n) | Restarts::Auto { max: n } => n,
        }
    }
}

impl From<usize> for Restarts {
    fn from(n: usize) -> Self {
        Restarts::Fixed(n)
    }
}

/// Points per SIMD chunk (one AVX-512 register of f32, two of AVX2).
pub const LANES: usize = 16;
type Lane32 = [f32; LANES];
type Lane64 = [f64; LANES];

/// Best of `n_init` k-means runs on the `n × d` row-major points `x`
/// (`n_init`: a count, or [`Restarts::Auto`]).
///
/// Errors: `n == 0`, `d == 0`, `x.len() != n·d`, `k == 0`, `k > n`,
/// `n_init` (or its cap) 0, `max_iter == 0`, a negative or NaN `tol`,
/// non-finite values.
#[allow(clippy::too_many_arguments)]
pub fn kmeans<R: Rng + ?Sized>(
    x: &[f64],
    n: usize,
    d: usize,
    k: usize,
    n_init: impl Into<Restarts>,
    max_iter: usize,
    tol: f64,
    rng: &mut R,
) -> Result<KMeansResult> {
    let n_init = n_init.into();
    kmeans_impl(x, n, d, k, n_init, max_iter, tol, rng, false, detect_tier())
}

/// [`kmeans`] with the restarts run in parallel on the current rayon pool;
/// the result is bit-identical to [`kmeans`] for any pool size.
#[allow(clippy::too_many_arguments)]
pub fn kmeans_in_parallel<R: Rng + ?Sized>(
    x: &[f64],
    n: usize,
    d: usize,
    k: usize,
    n_init: impl Into<Restarts>,
    max_iter: usize,
    tol: f64,
    rng: &mut R,
) -> Result<KMeansResult> {
    let n_init = n_init.into();
    kmeans_impl(x, n, d, k, n_init, max_iter, tol, rng, true, detect_tier())
}

/// The argument checks of [`kmeans`].
fn validate(
    x: &[f64],
    n: usize,
    d: usize,
    k: usize,
    n_init: usize,
    max_iter: usize,
    tol: f64,
) -> Result<()> {
    if n == 0 {
        return Err(Error::Shape("k-means needs at least one point".into()));
    }
    if d == 0 {
        return Err(Error::Shape("k-means needs at least one feature".into()));
    }
    if x.len() != n * d {
        return Err(Error::Shape(format!(
            "k-means: {} values for {n} points × {d} features",
            x.len()
        )));
    }
    if k == 0 || k > n {
        return Err(Error::Value(format!(
            "k-means: k = {k} must be in 1..={n} (number of points)"
        )));
    }
    if n_init == 0 {
        return Err(Error::Value("k-means: n_init must be at least 1".into()));
    }
    if max_iter == 0 {
        return Err(Error::Value("k-means: max_iter must be at least 1".into()));
    }
    if tol.is_nan() || tol < 0.0 {
        return Err(Error::Value(format!(
            "k-means: tol = {tol} must be non-negative"
        )));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(Error::Value(
            "k-means: the points contain NaN or infinite values".into(),
        ));
    }
    Ok(())
}

/// [`kmeans`] with a chosen build, for benchmarks and `perf stat`: `"portable"`
/// (no FMA), `"avx2"` (x86-64 with AVX2 and FMA), anything else: the runtime
/// dispatch of [`kmeans`]. Not part of the API.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn kmeans_build<R: Rng + ?Sized>(
    build: &str,
    x: &[f64],
    n: usize,
    d: usize,
    k: usize,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    rng: &mut R,
) -> Result<KMeansResult> {
    let tier = match build {
        "portable" => Tier::Portable,
        #[cfg(target_arch = "x86_64")]
        "avx2" => {
            use std::arch::is_x86_feature_detected as has;
            if !(has!("avx2") && has!("fma")) {
                return Err(Error::Value("this CPU has no AVX2 and FMA".into()));
            }
            Tier::Avx2
        }
        _ => detect_tier(),
    };
    kmeans_impl(
        x,
        n,
        d,
        k,
        Restarts::Fixed(n_init),
        max_iter,
        tol,
        rng,
        false,
        tier,
    )
}

#[allow(clippy::too_many_arguments)]
fn kmeans_impl<R: Rng + ?Sized>(
    x: &[f64],
    n: usize,
    d: usize,
    k: usize,
    n_init: Restarts,
    max_iter: usize,
    tol: f64,
    rng: &mut R,
    parallel: bool,
    tier: Tier,
) -> Result<KMeansResult> {
    let cap = n_init.max();
    validate(x, n, d, k, cap, max_iter, tol)?;
    let p = Problem {
        x,
        n,
        d,
        k,
        max_iter,
        tol,
    };
    let mut pr = prepare(&p);
    #[cfg(target_arch = "x86_64")]
    {
        pr.avx512 = matches!(tier, Tier::Avx512);
    }
    let trials = 2 + (k as f64).ln().floor() as usize;
    // a fixed run is one round of all its restarts
    let round = match n_init {
        Restarts::Fixed(m) => m,
        Restarts::Auto { .. } => AUTO_ROUND,
    };
    let threads = if parallel {
        rayon::current_num_threads()
    } else {
        1
    };
    let mut best: Option<KMeansResult> = None;
    let mut done = 0;
    let mut stalled = 0;
    while done < cap {
        let m = round.min(cap - done);
        // this round's random numbers, in the order a sequential loop draws them
        let draws: Vec<Draws> = (0..m)
            .map(|_| Draws {
                first: rng.random_range(0..n),
                r: (0..(k - 1) * trials).map(|_| rng.random::<f64>()).collect(),
            })
            .collect();
        let before = best.as_ref().map(|b| b.inertia);
        run_round(&p, &pr, &draws, tier, threads.clamp(1, m), &mut best);
        done += m;
        if let (Some(prev), Some(b)) = (before, &best) {
            if prev - b.inertia <= AUTO_TOL * prev.abs() {
                stalled += 1;
            } else {
                stalled = 0;
            }
        }
        if matches!(n_init, Restarts::Auto { .. }) && stalled >= AUTO_PATIENCE {
            break;
        }
    }
    let mut best = best.expect("at least one restart");
    best.n_runs = done;
    Ok(best)
}

/// Run the restarts of `draws` (in batches of `batch` on the rayon pool when
/// `batch > 1`) and fold them into `best` in restart order.
fn run_round(
    p: &Problem<'_>,
    pr: &Prepared,
    draws: &[Draws],
    tier: Tier,
    batch: usize,
    best: &mut Option<KMeansResult>,
) {
    let (n, d, k) = (p.n, p.d, p.k);
    let npad = pr.nchunks * LANES;
    let mut consider = |inertia: f64, labels: &[u32], centers: &[f64], n_iter: usize| {
        let better = match &*best {
            None => true,
            Some(b) => inertia < b.inertia && !same_clustering(&labels[..n], &b.labels, k),
        };
        if better {
            let mut centers = centers.to_vec();
            for row in centers.chunks_exact_mut(d) {
                for f in 0..d {
                    row[f] += pr.mean[f];
                }
            }
            *best = Some(KMeansResult {
                labels: labels[..n].to_vec(),
                centers,
                inertia,
                n_iter,
                n_runs: 0,
            });
        }
    };
    if batch == 1 {
        let mut w = Work::new(pr, k, d);
        let mut labels = vec![0u32; npad];
        for dr in draws {
            let (inertia, n_iter) = one_run(tier, p, pr, dr, &mut w, &mut labels);
            consider(inertia, &labels, &w.centers, n_iter);
        }
    } else {
        use rayon::prelude::*;
        for group in draws.chunks(batch) {
            let runs: Vec<(f64, usize, Vec<u32>, Vec<f64>)> = group
                .par_iter()
                .map_init(
                    || Work::new(pr, k, d),
                    |w, dr| {
                        let mut labels = vec![0u32; npad];
                        let (inertia, n_iter) = one_run(tier, p, pr, dr, w, &mut labels);
                        (inertia, n_iter, labels, w.centers.clone())
                    },
                )
                .collect();
            for (inertia, n_iter, labels, centers) in &runs {
                consider(*inertia, labels, centers, *n_iter);
            }
        }
    }
}

struct Problem<'a> {
    x: &'a [f64],
    n: usize,
    d: usize,
    k: usize,
    max_iter: usize,
    tol: f64,
}

/// The random numbers of one restart: the first seed and the k-means++ draws.
struct Draws {
    first: usize,
    /// `(k − 1) × trials` uniforms in [0, 1), center after center.
    r: Vec<f64>,
}

/// Which compiled copy of the kernels the CPU can run.
#[derive(Clone, Copy)]
enum Tier {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

fn detect_tier() -> Tier {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx2") && has!("fma") {
            return Tier::Avx512;
        }
        if has!("avx2") && has!("fma") {
            return Tier::Avx2;
        }
    }
    Tier::Portable
}

/// One restart (seeding, Lloyd, exact final assignment into `labels`) on the
/// tier's kernels; returns `(inertia, n_iter)` and leaves the centers
/// (centered coordinates) in `w.centers`.
fn one_run(
    tier: Tier,
    p: &Problem<'_>,
    pr: &Prepared,
    dr: &Draws,
    w: &mut Work,
    labels: &mut [u32],
) -> (f64, usize) {
    match tier {
        // SAFETY: `detect_tier` found the CPU features these copies are compiled for.
        #[cfg(target_arch = "x86_64")]
        Tier::Avx512 => unsafe { run_avx512(p, pr, dr, w, labels) },
        #[cfg(target_arch = "x86_64")]
        Tier::Avx2 => unsafe { run_avx2(p, pr, dr, w, labels) },
        Tier::Portable => dispatch_dim::<false>(p, pr, dr, w, labels),
    }
}

// Both x86 tiers use fused multiply-adds in the same order per point, so they
// give bit-identical results; only the portable tier rounds differently.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn run_avx512(
    p: &Problem<'_>,
    pr: &Prepared,
    dr: &Draws,
    w: &mut Work,
    labels: &mut [u32],
) -> (f64, usize) {
    dispatch_dim::<true>(p, pr, dr, w, labels)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2(
    p: &Problem<'_>,
    pr: &Prepared,
    dr: &Draws,
    w: &mut Work,
    labels: &mut [u32],
) -> (f64, usize) {
    dispatch_dim::<true>(p, pr, dr, w, labels)
}

/// The feature count, fixed at compile time for small `d` (unrolled loops).
trait Dim: Copy {
    fn get(self) -> usize;
}
#[derive(Clone, Copy)]
struct Fixed<const D: usize>;
impl<const D: usize> Dim for Fixed<D> {
    #[inline(always)]
    fn get(self) -> usize {
        D
    }
}
#[derive(Clone, Copy)]
struct Dynamic(usize);
impl Dim for Dynamic {
    #[inline(always)]
    fn get(self) -> usize {
        self.0
    }
}

#[inline(always)]
fn dispatch_dim<const FMA: bool>(
    p: &Problem<'_>,
    pr: &Prepared,
    dr: &Draws,
    w: &mut Work,
    labels: &mut [u32],
) -> (f64, usize) {
    macro_rules! fixed {
        ($($d:literal)*) => {
            match p.d {
                $($d => run::<Fixed<$d>, FMA>(Fixed::<$d>, p, pr, dr, w, labels),)*
                _ => run::<Dynamic, FMA>(Dynamic(p.d), p, pr, dr, w, labels),
            }
        };
    }
    fixed!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

#[inline(always)]
fn fmadd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Data laid out for the kernels, built once per call.
struct Prepared {
    n: usize,
    nchunks: usize,
    /// Centered points, n × d row-major.
    xc: Vec<f64>,
    /// Centered points by chunk: chunk `ch`, feature `f` at `[ch·d + f]`.
    x64: Vec<Lane64>,
    /// `x64 · scale` in f32 (the assignment kernel's copy).
    x32: Vec<Lane32>,
    /// A power of two bringing the largest centered coordinate near 1, so
    /// that f32 neither overflows nor underflows (argmins are unchanged).
    scale: f64,
    /// Feature means (added back to the centers).
    mean: Vec<f64>,
    /// Absolute center-shift tolerance.
    tol_abs: f64,
    /// Whether the assignment step uses [`assign_f32_avx512`] (the AVX-512 tier).
    avx512: bool,
}

fn prepare(p: &Problem<'_>) -> Prepared {
    let (n, d) = (p.n, p.d);
    let mut mean = vec![0.0; d];
    for row in p.x.chunks_exact(d) {
        for f in 0..d {
            mean[f] += row[f];
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut xc = p.x.to_vec();
    for row in xc.chunks_exact_mut(d) {
        for f in 0..d {
            row[f] -= mean[f];
        }
    }
    // mean per-feature variance (the data are centered now)
    let var_sum: f64 = xc.iter().map(|v| v * v).sum::<f64>() / n as f64;
    let tol_abs = var_sum / d as f64 * p.tol;
    let nchunks = n.div_ceil(LANES);
    let mut x64 = vec![[0.0f64; LANES]; nchunks * d];
    for (i, row) in xc.chunks_exact(d).enumerate() {
        let (ch, lane) = (i / LANES, i % LANES);
        for f in 0..d {
            x64[ch * d + f][lane] = row[f];
        }
    }
    let maxabs = xc.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let scale = if maxabs > 0.0 {
        (-maxabs.log2().ceil()).exp2()
    } else {
        1.0
    };
    let x32 = x64.iter().map(|l| l.map(|v| (v * scale) as f32)).collect();
    Prepared {
        n,
        nchunks,
        xc,
        x64,
        x32,
        scale,
        mean,
        tol_abs,
        avx512: false,
    }
}

/// Scratch buffers of one call (no allocation inside the iterations).
struct Work {
    centers: Vec<f64>,
    sums: Vec<f64>,
    weight: Vec<f64>,
    labels: Vec<u32>,
    /// Squared distance of each point to its nearest seed so far.
    closest: Vec<f64>,
    cand: Vec<f64>,
    best_cand: Vec<f64>,
    /// Chunk sums of `closest`, `cand`, `best_cand`, and the prefix of the first.
    cs_closest: Vec<f64>,
    cs_cand: Vec<f64>,
    cs_best: Vec<f64>,
    prefix: Vec<f64>,
    /// −2·center, broadcast, k × d.
    cw: Vec<Lane32>,
    /// ‖center‖², broadcast, k.
    cn: Vec<Lane32>,
    far: Vec<(f64, usize)>,
    /// M-step scratch: `ACC_COPIES` copies of the sums and of the counts.
    acc: Vec<f64>,
    part: Vec<u32>,
}

impl Work {
    fn new(pr: &Prepared, k: usize, d: usize) -> Work {
        let npad = pr.nchunks * LANES;
        Work {
            centers: vec![0.0; k * d],
            sums: vec![0.0; k * d],
            weight: vec![0.0; k],
            labels: vec![0; npad],
            closest: vec![0.0; npad],
            cand: vec![0.0; npad],
            best_cand: vec![0.0; npad],
            cs_closest: vec![0.0; pr.nchunks],
            cs_cand: vec![0.0; pr.nchunks],
            cs_best: vec![0.0; pr.nchunks],
            prefix: vec![0.0; pr.nchunks],
            cw: vec![[0.0; LANES]; k * d],
            cn: vec![[0.0; LANES]; k],
            far: Vec::with_capacity(pr.n),
            acc: vec![0.0; ACC_COPIES * k * d],
            part: vec![0; ACC_COPIES * k],
        }
    }
}

#[inline(always)]
fn run<Dm: Dim, const FMA: bool>(
    dm: Dm,
    p: &Problem<'_>,
    pr: &Prepared,
    dr: &Draws,
    w: &mut Work,
    labels: &mut [u32],
) -> (f64, usize) {
    let k = p.k;
    kmeans_pp::<Dm>(dm, pr, k, w, dr);
    let n_iter = lloyd::<Dm, FMA>(dm, pr, k, p.max_iter, w);
    let inertia = assign_exact::<Dm>(dm, pr, k, &w.centers, labels);
    (inertia, n_iter)
}

/// scikit-learn's `_is_same_clustering`: `b` is a relabelling of `a`.
fn same_clustering(a: &[u32], b: &[u32], k: usize) -> bool {
    let mut map = vec![u32::MAX; k];
    for (&x, &y) in a.iter().zip(b) {
        let m = &mut map[x as usize];
        if *m == u32::MAX {
            *m = y;
        } else if *m != y {
            return false;
        }
    }
    true
}

/// `out[p] = min(‖x_p − x_q‖², bound[p])` for every point p (no bound: plain
/// distances), the sum of each chunk of `out` in `chunk_sum`; returns the total.
/// Padding lanes must have `bound = 0` (then they add nothing).
#[inline(always)]
fn dist_min_sum<Dm: Dim>(
    dm: Dm,
    x64: &[Lane64],
    xq: &[f64],
    bound: Option<&[f64]>,
    out: &mut [f64],
    chunk_sum: &mut [f64],
) -> f64 {
    let d = dm.get();
    let mut total = 0.0;
    for (ch, (o, cs)) in out
        .chunks_exact_mut(LANES)
        .zip(chunk_sum.iter_mut())
        .enumerate()
    {
        let xs = &x64[ch * d..ch * d + d];
        let mut acc = [0.0f64; LANES];
        for f in 0..d {
            for i in 0..LANES {
                let t = xs[f][i] - xq[f];
                acc[i] += t * t;
            }
        }
        if let Some(bound) = bound {
            let b = &bound[ch * LANES..ch * LANES + LANES];
            for i in 0..LANES {
                acc[i] = if b[i] < acc[i] { b[i] } else { acc[i] };
            }
        }
        o.copy_from_slice(&acc);
        // pairwise sum of the chunk
        let mut h = LANES / 2;
        while h > 0 {
            for i in 0..h {
                acc[i] += acc[i + h];
            }
            h /= 2;
        }
        *cs = acc[0];
        total += acc[0];
    }
    total
}

/// The first point whose running sum of `weights` reaches `r` (numpy's
/// `searchsorted(cumsum(weights), r)`, clipped to `n − 1`), using the chunk
/// sums' prefix `prefix` (inclusive) to skip whole chunks.
fn sample_point(weights: &[f64], prefix: &[f64], r: f64, n: usize) -> usize {
    let ch = prefix.partition_point(|&v| v < r);
    if ch == prefix.len() {
        return n - 1;
    }
    let mut acc = if ch > 0 { prefix[ch - 1] } else { 0.0 };
    for i in 0..LANES {
        acc += weights[ch * LANES + i];
        if acc >= r {
            return (ch * LANES + i).min(n - 1);
        }
    }
    (ch * LANES + LANES - 1).min(n - 1)
}

/// Greedy k-means++ seeding (scikit-learn's `_kmeans_plusplus`); leaves the
/// seeds in `w.centers`.
#[inline(always)]
fn kmeans_pp<Dm: Dim>(dm: Dm, pr: &Prepared, k: usize, w: &mut Work, dr: &Draws) {
    let (n, d) = (pr.n, dm.get());
    let trials = 2 + (k as f64).ln().floor() as usize;
    let first = dr.first;
    let mut draws = dr.r.iter();
    w.centers[..d].copy_from_slice(&pr.xc[first * d..first * d + d]);
    let xq = &pr.xc[first * d..first * d + d];
    dist_min_sum(dm, &pr.x64, xq, None, &mut w.closest, &mut w.cs_closest);
    // padding lanes weigh nothing
    w.closest[n..].fill(0.0);
    let last = pr.nchunks - 1;
    w.cs_closest[last] = w.closest[last * LANES..].iter().sum();
    let mut pot: f64 = w.cs_closest.iter().sum();
    for c in 1..k {
        let mut acc = 0.0;
        for (p, &v) in w.prefix.iter_mut().zip(&w.cs_closest) {
            acc += v;
            *p = acc;
        }
        let mut best_pot = f64::INFINITY;
        let mut best_id = 0usize;
        for _ in 0..trials {
            let r = draws.next().expect("(k - 1) × trials draws") * pot;
            let id = sample_point(&w.closest, &w.prefix, r, n);
            let xq = &pr.xc[id * d..id * d + d];
            let cand_pot = dist_min_sum(
                dm,
                &pr.x64,
                xq,
                Some(&w.closest),
                &mut w.cand,
                &mut w.cs_cand,
            );
            if cand_pot < best_pot {
                best_pot = cand_pot;
                best_id = id;
                std::mem::swap(&mut w.cand, &mut w.best_cand);
                std::mem::swap(&mut w.cs_cand, &mut w.cs_best);
            }
        }
        pot = best_pot;
        std::mem::swap(&mut w.closest, &mut w.best_cand);
        std::mem::swap(&mut w.cs_closest, &mut w.cs_best);
        w.centers[c * d..c * d + d].copy_from_slice(&pr.xc[best_id * d..best_id * d + d]);
    }
}

/// Lloyd iterations from the centers in `w.centers`; returns the iteration count.
#[inline(always)]
fn lloyd<Dm: Dim, const FMA: bool>(
    dm: Dm,
    pr: &Prepared,
    k: usize,
    max_iter: usize,
    w: &mut Work,
) -> usize {
    let (n, d) = (pr.n, dm.get());
    w.labels.fill(u32::MAX);
    let mut it = 0;
    while it < max_iter {
        it += 1;
        // f32 center data for the distance kernel (scaled like x32)
        for c in 0..k {
            let mut nrm = 0.0f64;
            for f in 0..d {
                let v = (w.centers[c * d + f] * pr.scale) as f32;
                w.cw[c * d + f] = [-2.0 * v; LANES];
                nrm += (v as f64) * (v as f64);
            }
            w.cn[c] = [nrm as f32; LANES];
        }
        #[cfg(target_arch = "x86_64")]
        let changed = if pr.avx512 {
            // SAFETY: set only on the AVX-512 tier, which `detect_tier` checked;
            // the buffers have the sizes `Work::new` and `prepare` give them.
            unsafe { assign_f32_avx512(dm, n, &pr.x32, k, &w.cw, &w.cn, &mut w.labels) }
        } else {
            assign_f32::<Dm, FMA>(dm, n, &pr.x32, k, &w.cw, &w.cn, &mut w.labels)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let changed = assign_f32::<Dm, FMA>(dm, n, &pr.x32, k, &w.cw, &w.cn, &mut w.labels);
        accumulate::<Dm, FMA>(
            dm,
            &pr.xc,
            &w.labels,
            &mut w.sums,
            &mut w.weight,
            &mut w.acc,
            &mut w.part,
        );
        if w.weight.contains(&0.0) {
            relocate_empty(dm, pr, k, w);
        }
        // new centers (in `sums`) and the total squared shift
        let mut shift = 0.0;
        for c in 0..k {
            let wc = w.weight[c];
            let s = &mut w.sums[c * d..c * d + d];
            if wc > 0.0 {
                let inv = 1.0 / wc;
                s.iter_mut().for_each(|v| *v *= inv);
            }
            for f in 0..d {
                let t = s[f] - w.centers[c * d + f];
                shift += t * t;
            }
        }
        std::mem::swap(&mut w.centers, &mut w.sums);
        if !changed || shift <= pr.tol_abs {
            break;
        }
    }
    it
}

/// Nearest center of every point (GEMM form, f32); returns whether any label
/// of a real (non-padding) point changed. Slices as arguments, so that the
/// compiler knows they do not alias.
#[inline(always)]
fn assign_f32<Dm: Dim, const FMA: bool>(
    dm: Dm,
    n: usize,
    x32: &[Lane32],
    k: usize,
    cw: &[Lane32],
    cn: &[Lane32],
    labels: &mut [u32],
) -> bool {
    const MAXD: usize = 16;
    let d = dm.get();
    let mut changed = 0u32;
    for (ch, out) in labels.chunks_exact_mut(LANES).enumerate() {
        let xs = &x32[ch * d..ch * d + d];
        // the chunk in a local array (registers) when d is small
        let mut xl = [[0.0f32; LANES]; MAXD];
        if d <= MAXD {
            xl[..d].copy_from_slice(xs);
        }
        let mut best = [f32::INFINITY; LANES];
        let mut bl = [0u32; LANES];
        for c in 0..k {
            let wc = &cw[c * d..c * d + d];
            let mut acc = cn[c];
            if d <= MAXD {
                for f in 0..d {
                    for i in 0..LANES {
                        acc[i] = fmadd::<FMA>(xl[f][i], wc[f][i], acc[i]);
                    }
                }
            } else {
                for f in 0..d {
                    for i in 0..LANES {
                        acc[i] = fmadd::<FMA>(xs[f][i], wc[f][i], acc[i]);
                    }
                }
            }
            for i in 0..LANES {
                let lt = acc[i] < best[i];
                best[i] = if lt { acc[i] } else { best[i] };
                bl[i] = if lt { c as u32 } else { bl[i] };
            }
        }
        changed |= store_labels(out, &bl, n, ch);
    }
    changed != 0
}

/// Write chunk `ch`'s labels `bl` to `out`; returns 1 if the label of a real point
/// (below `n`; padding lanes do not count) changed, else 0.
#[inline(always)]
fn store_labels(out: &mut [u32], bl: &[u32; LANES], n: usize, ch: usize) -> u32 {
    let valid = n.saturating_sub(ch * LANES).min(LANES);
    let mut changed = 0u32;
    for i in 0..valid {
        changed |= (out[i] != bl[i]) as u32;
    }
    out.copy_from_slice(bl);
    changed
}

/// Centers whose values [`assign_f32_avx512`] computes side by side.
#[cfg(target_arch = "x86_64")]
const CBLOCK: usize = 4;

/// [`assign_f32`] with AVX-512 registers, [`CBLOCK`] centers at a time: each
/// point's value for center `c` is the same chain of fused multiply-adds
/// (`‖c‖²`, then `x_f·(−2c_f)` in feature order), and the values are compared
/// in center order afterwards, so the labels are those of [`assign_f32`] bit
/// for bit (tested); the blocks give the CPU [`CBLOCK`] independent dependency
/// chains instead of one.
///
/// # Safety
/// The CPU has AVX-512F; `x32.len() ≥ (labels.len() / LANES) · d`,
/// `cw.len() ≥ k · d`, `cn.len() ≥ k`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn assign_f32_avx512<Dm: Dim>(
    dm: Dm,
    n: usize,
    x32: &[Lane32],
    k: usize,
    cw: &[Lane32],
    cn: &[Lane32],
    labels: &mut [u32],
) -> bool {
    use std::arch::x86_64::*;
    const MAXD: usize = 16;
    let d = dm.get();
    let mut changed = 0u32;
    // SAFETY (all loads): the caller's sizes; every Lane32 is 16 f32.
    let w =
        |c: usize, f: usize| unsafe { _mm512_loadu_ps(cw.as_ptr().add(c * d + f) as *const f32) };
    let nrm = |c: usize| unsafe { _mm512_loadu_ps(cn.as_ptr().add(c) as *const f32) };
    for (ch, out) in labels.chunks_exact_mut(LANES).enumerate() {
        let xs = unsafe { x32.as_ptr().add(ch * d) } as *const f32;
        let xload = |f: usize| unsafe { _mm512_loadu_ps(xs.add(f * LANES)) };
        // the chunk in registers when d is small
        let mut xl = [_mm512_setzero_ps(); MAXD];
        if d <= MAXD {
            for f in 0..d {
                xl[f] = xload(f);
            }
        }
        let xf = |f: usize| if d <= MAXD { xl[f] } else { xload(f) };
        let mut best = _mm512_set1_ps(f32::INFINITY);
        let mut bl = _mm512_setzero_si512();
        let mut pick = |acc: __m512, c: usize| {
            let lt = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(acc, best);
            best = _mm512_mask_blend_ps(lt, best, acc);
            bl = _mm512_mask_blend_epi32(lt, bl, _mm512_set1_epi32(c as i32));
        };
        let mut c = 0;
        while c + CBLOCK <= k {
            let (mut a0, mut a1, mut a2, mut a3) = (nrm(c), nrm(c + 1), nrm(c + 2), nrm(c + 3));
            for f in 0..d {
                let x = xf(f);
                a0 = _mm512_fmadd_ps(x, w(c, f), a0);
                a1 = _mm512_fmadd_ps(x, w(c + 1, f), a1);
                a2 = _mm512_fmadd_ps(x, w(c + 2, f), a2);
                a3 = _mm512_fmadd_ps(x, w(c + 3, f), a3);
            }
            pick(a0, c);
            pick(a1, c + 1);
            pick(a2, c + 2);
            pick(a3, c + 3);
            c += CBLOCK;
        }
        while c < k {
            let mut a = nrm(c);
            for f in 0..d {
                a = _mm512_fmadd_ps(xf(f), w(c, f), a);
            }
            pick(a, c);
            c += 1;
        }
        let mut bv = [0u32; LANES];
        unsafe { _mm512_storeu_si512(bv.as_mut_ptr() as *mut __m512i, bl) };
        changed |= store_labels(out, &bv, n, ch);
    }
    changed != 0
}

/// Copies of the per-cluster sums in the M-step: consecutive points (often in
/// the same cluster) go to different copies, which breaks the store-to-load
/// dependency chain through memory.
const ACC_COPIES: usize = 4;

/// `dst += src` (same length). LLVM leaves the 12-element version of this
/// scalar, so the SIMD tiers use AVX explicitly.
#[inline(always)]
fn add_assign<const SIMD: bool>(dst: &mut [f64], src: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if SIMD {
        // SAFETY: `SIMD` is only true inside functions compiled with AVX2.
        unsafe { add_assign_avx(dst, src) };
        return;
    }
    for (dv, sv) in dst.iter_mut().zip(src) {
        *dv += *sv;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
unsafe fn add_assign_avx(dst: &mut [f64], src: &[f64]) {
    use std::arch::x86_64::{_mm256_add_pd, _mm256_loadu_pd, _mm256_storeu_pd};
    let len = dst.len().min(src.len());
    let mut i = 0;
    while i + 4 <= len {
        // SAFETY: i + 4 <= len for both slices.
        unsafe {
            let a = _mm256_loadu_pd(dst.as_ptr().add(i));
            let b = _mm256_loadu_pd(src.as_ptr().add(i));
            _mm256_storeu_pd(dst.as_mut_ptr().add(i), _mm256_add_pd(a, b));
        }
        i += 4;
    }
    while i < len {
        dst[i] += src[i];
        i += 1;
    }
}

/// Per-cluster coordinate sums and point counts (the M-step's numerators);
/// `scratch` holds `ACC_COPIES · k · d` sums and `part` `ACC_COPIES · k` counts.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn accumulate<Dm: Dim, const SIMD: bool>(
    dm: Dm,
    xc: &[f64],
    labels: &[u32],
    sums: &mut [f64],
    weight: &mut [f64],
    scratch: &mut [f64],
    part: &mut [u32],
) {
    let d = dm.get();
    let kd = sums.len();
    let k = weight.len();
    let labels = &labels[..xc.len() / d]; // drop the padding lanes
    scratch.fill(0.0);
    part.fill(0);
    let mut rows = xc.chunks_exact(d * ACC_COPIES);
    let mut labs = labels.chunks_exact(ACC_COPIES);
    for (rr, ll) in (&mut rows).zip(&mut labs) {
        for a in 0..ACC_COPIES {
            let l = ll[a] as usize;
            part[a * k + l] += 1;
            let o = a * kd + l * d;
            add_assign::<SIMD>(&mut scratch[o..o + d], &rr[a * d..a * d + d]);
        }
    }
    for (row, &l) in rows.remainder().chunks_exact(d).zip(labs.remainder()) {
        let l = l as usize;
        part[l] += 1;
        add_assign::<SIMD>(&mut scratch[l * d..l * d + d], row);
    }
    for i in 0..kd {
        sums[i] = (scratch[i] + scratch[kd + i]) + (scratch[2 * kd + i] + scratch[3 * kd + i]);
    }
    for c in 0..k {
        weight[c] = ((part[c] + part[k + c]) + (part[2 * k + c] + part[3 * k + c])) as f64;
    }
}

/// Exact (f64) nearest centers and the inertia.
#[inline(always)]
fn assign_exact<Dm: Dim>(
    dm: Dm,
    pr: &Prepared,
    k: usize,
    centers: &[f64],
    labels: &mut [u32],
) -> f64 {
    let (n, d) = (pr.n, dm.get());
    let mut inertia = 0.0;
    for (ch, out) in labels.chunks_exact_mut(LANES).enumerate() {
        let xs = &pr.x64[ch * d..ch * d + d];
        let mut best = [f64::INFINITY; LANES];
        let mut bl = [0u32; LANES];
        for c in 0..k {
            let cc = &centers[c * d..c * d + d];
            let mut acc = [0.0f64; LANES];
            for f in 0..d {
                for i in 0..LANES {
                    let t = xs[f][i] - cc[f];
                    acc[i] += t * t;
                }
            }
            for i in 0..LANES {
                let lt = acc[i] < best[i];
                best[i] = if lt { acc[i] } else { best[i] };
                bl[i] = if lt { c as u32 } else { bl[i] };
            }
        }
        out.copy_from_slice(&bl);
        let valid = n.saturating_sub(ch * LANES).min(LANES);
        inertia += best[..valid].iter().sum::<f64>();
    }
    inertia
}

/// scikit-learn's `_relocate_empty_clusters_dense`: each empty cluster takes
/// one of the points farthest from their previous center (farthest first),
/// which leaves its old cluster's sums. Labels are not changed.
fn relocate_empty<Dm: Dim>(dm: Dm, pr: &Prepared, k: usize, w: &mut Work) {
    let (n, d) = (pr.n, dm.get());
    let n_empty = w.weight.iter().filter(|&&c| c == 0.0).count();
    w.far.clear();
    for i in 0..n {
        let l = w.labels[i] as usize;
        let row = &pr.xc[i * d..i * d + d];
        let dist: f64 = (0..d)
            .map(|f| (row[f] - w.centers[l * d + f]).powi(2))
            .sum();
        w.far.push((dist, i));
    }
    let far = &mut w.far;
    let sel = n_empty.min(far.len());
    if sel < far.len() {
        far.select_nth_unstable_by(sel, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    }
    far.truncate(sel);
    far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let empties: Vec<usize> = (0..k).filter(|&c| w.weight[c] == 0.0).collect();
    for (&new_c, &(_, idx)) in empties.iter().zip(far.iter()) {
        let old_c = w.labels[idx] as usize;
        let row = &pr.xc[idx * d..idx * d + d];
        for f in 0..d {
            w.sums[old_c * d + f] -= row[f];
            w.sums[new_c * d + f] = row[f];
        }
        w.weight[new_c] = 1.0;
        w.weight[old_c] -= 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{rng_for, CLUSTER};
    use crate::testkit::{gaussian, layered_block};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    /// One sequential call on a given tier's kernels.
    fn tiered(
        tier: Tier,
        x: &[f64],
        n: usize,
        d: usize,
        k: usize,
        n_init: usize,
        rng: &mut ChaCha8Rng,
    ) -> KMeansResult {
        kmeans_impl(
            x,
            n,
            d,
            k,
            Restarts::Fixed(n_init),
            300,
            1e-4,
            rng,
            false,
            tier,
        )
        .unwrap()
    }

    /// Well separated Gaussian blobs: `(points, true labels)`.
    fn blobs(n_per: usize, k: usize, d: usize, spread: f64, seed: u64) -> (Vec<f64>, Vec<u32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let centers: Vec<f64> = (0..k * d).map(|_| rng.random::<f64>() * 100.0).collect();
        let mut x = Vec::new();
        let mut y = Vec::new();
        // interleave the blobs so that labels are not sorted
        for i in 0..n_per * k {
            let c = (i * 7 + i / 3) % k;
            for f in 0..d {
                x.push(centers[c * d + f] + spread * rng.sample::<f64, _>(StandardNormal));
            }
            y.push(c as u32);
        }
        (x, y)
    }

    /// Labels equal up to a renaming of the clusters.
    fn same_partition(a: &[u32], b: &[u32]) -> bool {
        let k = 1 + a.iter().chain(b).copied().max().unwrap_or(0) as usize;
        same_clustering(a, b, k) && same_clustering(b, a, k)
    }

    fn brute_inertia(x: &[f64], d: usize, centers: &[f64], labels: &[u32]) -> f64 {
        x.chunks_exact(d)
            .zip(labels)
            .map(|(row, &l)| {
                (0..d)
                    .map(|f| (row[f] - centers[l as usize * d + f]).powi(2))
                    .sum::<f64>()
            })
            .sum()
    }

    fn check_result(x: &[f64], n: usize, d: usize, k: usize, r: &KMeansResult) {
        assert_eq!(r.labels.len(), n);
        assert_eq!(r.centers.len(), k * d);
        assert!(r.labels.iter().all(|&l| (l as usize) < k));
        let bi = brute_inertia(x, d, &r.centers, &r.labels);
        assert!(
            (bi - r.inertia).abs() <= 1e-9 * bi.max(1e-300),
            "{bi} vs {}",
            r.inertia
        );
        // every point is at its nearest center (exact f64 assignment)
        for (row, &l) in x.chunks_exact(d).zip(&r.labels) {
            let dist = |c: usize| {
                (0..d)
                    .map(|f| (row[f] - r.centers[c * d + f]).powi(2))
                    .sum::<f64>()
            };
            let dl = dist(l as usize);
            assert!((0..k).all(|c| dist(c) >= dl - 1e-9 * dl.max(1e-12)));
        }
    }

    #[test]
    fn recovers_well_separated_blobs() {
        for (k, d) in [(5, 3), (12, 12), (4, 20), (3, 1)] {
            let (x, y) = blobs(40, k, d, 0.5, k as u64 + 10 * d as u64);
            let n = y.len();
            let r = kmeans(&x, n, d, k, 10, 300, 1e-4, &mut rng_for(1, CLUSTER, 0)).unwrap();
            assert!(same_partition(&r.labels, &y), "k = {k}, d = {d}");
            check_result(&x, n, d, k, &r);
            // centers are the blob means
            for c in 0..k {
                let members: Vec<usize> = (0..n).filter(|&i| r.labels[i] == c as u32).collect();
                for f in 0..d {
                    let m =
                        members.iter().map(|&i| x[i * d + f]).sum::<f64>() / members.len() as f64;
                    assert!((m - r.centers[c * d + f]).abs() < 1e-9 * (1.0 + m.abs()));
                }
            }
        }
    }

    #[test]
    fn deterministic_for_a_seed() {
        let x = gaussian(500, 6, 3);
        let a = kmeans(&x, 500, 6, 7, 5, 300, 1e-4, &mut rng_for(4, CLUSTER, 1)).unwrap();
        let b = kmeans(&x, 500, 6, 7, 5, 300, 1e-4, &mut rng_for(4, CLUSTER, 1)).unwrap();
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.centers, b.centers);
        assert_eq!(a.inertia, b.inertia);
        assert_eq!(a.n_iter, b.n_iter);
        check_result(&x, 500, 6, 7, &a);
    }

    #[test]
    fn best_of_n_init_is_the_best_single_run() {
        // every run draws the same amount of randomness, so n_init = 10 runs
        // exactly the ten single runs that follow each other on the same stream
        let (n, d, k) = (600, 5, 8);
        let x = gaussian(n, d, 5);
        let all = kmeans(&x, n, d, k, 10, 300, 1e-4, &mut rng_for(9, CLUSTER, 0)).unwrap();
        let mut rng = rng_for(9, CLUSTER, 0);
        let singles: Vec<KMeansResult> = (0..10)
            .map(|_| kmeans(&x, n, d, k, 1, 300, 1e-4, &mut rng).unwrap())
            .collect();
        let best = singles
            .iter()
            .map(|r| r.inertia)
            .fold(f64::INFINITY, f64::min);
        assert!(
            singles.iter().any(|r| r.inertia != best),
            "all runs equal: weak test"
        );
        assert_eq!(all.inertia, best);
        assert!(singles.iter().all(|r| all.inertia <= r.inertia));
    }

    #[test]
    fn parallel_restarts_give_the_sequential_result() {
        // several shapes (fixed and dynamic d), pool sizes that do and do not
        // divide n_init; labels, centers, inertia and iterations all equal,
        // and the caller's stream is left at the same position
        for &(n, d, k, n_init, seed) in &[
            (700, 5, 8, 10, 1u64),
            (333, 12, 12, 7, 2),
            (250, 20, 6, 5, 3),
            (90, 3, 4, 1, 4),
        ] {
            let x = gaussian(n, d, seed);
            let mut r0 = rng_for(seed, CLUSTER, 0);
            let seq = kmeans(&x, n, d, k, n_init, 300, 1e-4, &mut r0).unwrap();
            let after: u64 = r0.random();
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut r1 = rng_for(seed, CLUSTER, 0);
                let par = pool
                    .install(|| kmeans_in_parallel(&x, n, d, k, n_init, 300, 1e-4, &mut r1))
                    .unwrap();
                assert_eq!(par.labels, seq.labels);
                assert_eq!(par.centers, seq.centers);
                assert_eq!(par.inertia.to_bits(), seq.inertia.to_bits());
                assert_eq!(par.n_iter, seq.n_iter);
                assert_eq!(r1.random::<u64>(), after);
            }
        }
    }

    #[test]
    fn auto_restarts_equal_the_fixed_run_they_stopped_at() {
        // the automatic rule stops after whole rounds; its result (and the
        // caller's stream position) is exactly that of a fixed run of as many
        // restarts, sequential or on any pool size
        let min_runs = AUTO_ROUND * (AUTO_PATIENCE + 1);
        let mut stopped_early = false;
        for &(n, d, k, cap, seed) in &[
            (700, 5, 8, 100, 1u64),
            (333, 12, 12, 25, 2),
            (250, 20, 6, 7, 3),
            (90, 3, 4, 1, 4),
            (400, 12, 12, 100, 5),
        ] {
            let x = gaussian(n, d, seed);
            let mut r0 = rng_for(seed, CLUSTER, 0);
            let auto =
                kmeans(&x, n, d, k, Restarts::Auto { max: cap }, 300, 1e-4, &mut r0).unwrap();
            let after: u64 = r0.random();
            let m = auto.n_runs;
            assert!(
                m <= cap && m >= min_runs.min(cap),
                "{m} restarts of at most {cap}"
            );
            assert!(m == cap || m % AUTO_ROUND == 0);
            stopped_early |= m < cap;
            let mut r1 = rng_for(seed, CLUSTER, 0);
            let fixed = kmeans(&x, n, d, k, m, 300, 1e-4, &mut r1).unwrap();
            assert_eq!(fixed.n_runs, m);
            assert_eq!(auto.labels, fixed.labels);
            assert_eq!(auto.centers, fixed.centers);
            assert_eq!(auto.inertia.to_bits(), fixed.inertia.to_bits());
            assert_eq!(auto.n_iter, fixed.n_iter);
            assert_eq!(r1.random::<u64>(), after);
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut r2 = rng_for(seed, CLUSTER, 0);
                let par = pool
                    .install(|| {
                        kmeans_in_parallel(
                            &x,
                            n,
                            d,
                            k,
                            Restarts::Auto { max: cap },
                            300,
                            1e-4,
                            &mut r2,
                        )
                    })
                    .unwrap();
                assert_eq!(par.n_runs, m);
                assert_eq!(par.labels, auto.labels);
                assert_eq!(par.inertia.to_bits(), auto.inertia.to_bits());
                assert_eq!(r2.random::<u64>(), after);
            }
        }
        assert!(stopped_early, "the rule never stopped before its cap");
    }

    #[test]
    fn auto_restarts_stop_once_well_separated_blobs_are_found() {
        let (x, _) = blobs(50, 6, 4, 0.5, 8);
        let run = |max| {
            kmeans(
                &x,
                300,
                4,
                6,
                Restarts::Auto { max },
                300,
                1e-4,
                &mut rng_for(0, CLUSTER, 0),
            )
        };
        assert_eq!(run(100).unwrap().n_runs, AUTO_ROUND * (AUTO_PATIENCE + 1));
        assert!(run(0).is_err());
    }

    #[test]
    fn edge_cases() {
        // k = n: every point is its own cluster
        let x = gaussian(20, 3, 7);
        let r = kmeans(&x, 20, 3, 20, 3, 300, 1e-4, &mut rng_for(1, CLUSTER, 0)).unwrap();
        let mut l = r.labels.clone();
        l.sort();
        l.dedup();
        assert_eq!(l.len(), 20);
        assert!(r.inertia < 1e-20);
        // k = 1: the mean
        let r = kmeans(&x, 20, 3, 1, 2, 300, 1e-4, &mut rng_for(1, CLUSTER, 0)).unwrap();
        for f in 0..3 {
            let m = (0..20).map(|i| x[i * 3 + f]).sum::<f64>() / 20.0;
            assert!((r.centers[f] - m).abs() < 1e-12);
        }
        // one point
        let r = kmeans(
            &[1.5, -2.0],
            1,
            2,
            1,
            1,
            300,
            1e-4,
            &mut rng_for(1, CLUSTER, 0),
        )
        .unwrap();
        assert_eq!(r.labels, vec![0]);
        assert_eq!(r.centers, vec![1.5, -2.0]);
        // duplicate points: fewer distinct points than clusters (empty clusters get relocated)
        let mut x = vec![0.0; 30 * 2];
        x[0] = 5.0;
        x[2] = -3.0;
        x[5] = 1.0;
        let r = kmeans(&x, 30, 2, 5, 4, 300, 1e-4, &mut rng_for(2, CLUSTER, 0)).unwrap();
        check_result(&x, 30, 2, 5, &r);
        assert!(r.inertia < 1e-20, "{}", r.inertia);
        // max_iter = 1
        let x = gaussian(100, 4, 8);
        let r = kmeans(&x, 100, 4, 6, 2, 1, 1e-4, &mut rng_for(2, CLUSTER, 0)).unwrap();
        assert_eq!(r.n_iter, 1);
        check_result(&x, 100, 4, 6, &r);
        // tol = 0: runs until the labels stop changing
        let r = kmeans(&x, 100, 4, 6, 2, 300, 0.0, &mut rng_for(2, CLUSTER, 0)).unwrap();
        check_result(&x, 100, 4, 6, &r);
    }

    #[test]
    fn extreme_scales() {
        // coordinates whose squares overflow (or underflow) f32
        for s in [1e25, 1e-25] {
            let (x, y) = blobs(30, 4, 3, 0.5, 3);
            let x: Vec<f64> = x.iter().map(|v| v * s).collect();
            let r = kmeans(&x, 120, 3, 4, 5, 300, 1e-4, &mut rng_for(1, CLUSTER, 0)).unwrap();
            assert!(same_partition(&r.labels, &y), "scale {s}");
            check_result(&x, 120, 3, 4, &r);
        }
    }

    #[test]
    fn errors() {
        let x = gaussian(10, 2, 1);
        let mut rng = rng_for(1, CLUSTER, 0);
        assert!(matches!(
            kmeans(&x, 10, 2, 11, 1, 300, 1e-4, &mut rng),
            Err(Error::Value(_))
        ));
        assert!(matches!(
            kmeans(&x, 10, 2, 0, 1, 300, 1e-4, &mut rng),
            Err(Error::Value(_))
        ));
        assert!(matches!(
            kmeans(&[], 0, 2, 1, 1, 300, 1e-4, &mut rng),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            kmeans(&x, 10, 3, 2, 1, 300, 1e-4, &mut rng),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            kmeans(&x, 10, 2, 2, 0, 300, 1e-4, &mut rng),
            Err(Error::Value(_))
        ));
        assert!(matches!(
            kmeans(&x, 10, 2, 2, 1, 0, 1e-4, &mut rng),
            Err(Error::Value(_))
        ));
        assert!(matches!(
            kmeans(&x, 10, 2, 2, 1, 300, f64::NAN, &mut rng),
            Err(Error::Value(_))
        ));
        let mut bad = x.clone();
        bad[3] = f64::NAN;
        assert!(matches!(
            kmeans(&bad, 10, 2, 2, 1, 300, 1e-4, &mut rng),
            Err(Error::Value(_))
        ));
        bad[3] = f64::INFINITY;
        assert!(matches!(
            kmeans(&bad, 10, 2, 2, 1, 300, 1e-4, &mut rng),
            Err(Error::Value(_))
        ));
    }

    #[test]
    fn simd_and_portable_tiers_agree_in_quality() {
        let (b, de, dd) = layered_block(&[200, 100, 100, 10], 0.1, 2);
        let (emb, _) =
            crate::spectral::embed(&b, &de, &dd, 8, &mut rng_for(1, CLUSTER, 0)).unwrap();
        let n = b.nrows + b.ncols;
        let fast = kmeans(&emb, n, 8, 8, 10, 300, 1e-4, &mut rng_for(3, CLUSTER, 0)).unwrap();
        let port = tiered(
            Tier::Portable,
            &emb,
            n,
            8,
            8,
            10,
            &mut rng_for(3, CLUSTER, 0),
        );
        check_result(&emb, n, 8, 8, &fast);
        check_result(&emb, n, 8, 8, &port);
        assert!(
            (fast.inertia - port.inertia).abs() <= 0.02 * port.inertia,
            "{} vs {}",
            fast.inertia,
            port.inertia
        );
        // the dynamic-dimension path (d > 16) against a fixed one
        let x = gaussian(300, 17, 4);
        let r = kmeans(&x, 300, 17, 5, 3, 300, 1e-4, &mut rng_for(3, CLUSTER, 0)).unwrap();
        check_result(&x, 300, 17, 5, &r);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_and_avx512_tiers_are_bit_identical() {
        use std::arch::is_x86_feature_detected as has;
        if !(has!("avx512f") && has!("avx2") && has!("fma")) {
            return; // nothing to compare on this CPU
        }
        let (b, de, dd) = layered_block(&[300, 120, 120, 10], 0.1, 5);
        let (emb, _) =
            crate::spectral::embed(&b, &de, &dd, 12, &mut rng_for(1, CLUSTER, 0)).unwrap();
        let n = b.nrows + b.ncols;
        for (x, n, d, k) in [(&emb, n, 12, 12), (&gaussian(700, 17, 2), 700, 17, 9)] {
            let a = tiered(Tier::Avx2, x, n, d, k, 6, &mut rng_for(7, CLUSTER, 0));
            let c = tiered(Tier::Avx512, x, n, d, k, 6, &mut rng_for(7, CLUSTER, 0));
            assert_eq!(a.labels, c.labels);
            assert_eq!(a.centers, c.centers);
            assert_eq!(a.inertia.to_bits(), c.inertia.to_bits());
            assert_eq!(a.n_iter, c.n_iter);
        }
    }

    #[test]
    fn seeding_samples_by_cumulative_weight() {
        // weights 1, 0, 2, 0, ..., one chunk and a bit
        let n = LANES + 3;
        let w: Vec<f64> = (0..2 * LANES)
            .map(|i| if i < n { (i % 3) as f64 } else { 0.0 })
            .collect();
        let cs: Vec<f64> = w.chunks(LANES).map(|c| c.iter().sum()).collect();
        let prefix: Vec<f64> = cs
            .iter()
            .scan(0.0, |a, &v| {
                *a += v;
                Some(*a)
            })
            .collect();
        let cum: Vec<f64> = w
            .iter()
            .scan(0.0, |a, &v| {
                *a += v;
                Some(*a)
            })
            .collect();
        let total = prefix[1];
        for t in 0..=100 {
            let r = total * t as f64 / 100.0;
            let expect = cum[..n].partition_point(|&v| v < r).min(n - 1);
            assert_eq!(sample_point(&w, &prefix, r, n), expect, "r = {r}");
        }
        assert_eq!(sample_point(&w, &prefix, total * 2.0, n), n - 1);
    }

    /// The AVX-512 assignment kernel (blocks of centers) gives the labels of the
    /// portable one-center-at-a-time kernel with fused multiply-adds, bit for
    /// bit: random points and centers, a repeated center (ties go to the
    /// first), `k` below, at and above multiples of the block, `d` above the
    /// register limit. (On a CPU without AVX-512 only the tie rule is checked.)
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_assignment_equals_the_portable_kernel() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for &(k, d) in &[
            (1, 3),
            (3, 12),
            (4, 12),
            (5, 1),
            (12, 12),
            (13, 7),
            (9, 17),
            (20, 16),
        ] {
            let n = 3 * LANES + 5;
            let nchunks = n.div_ceil(LANES);
            let x32: Vec<Lane32> = (0..nchunks * d)
                .map(|_| std::array::from_fn(|_| rng.sample::<f64, _>(StandardNormal) as f32))
                .collect();
            let mut cw: Vec<Lane32> = (0..k * d)
                .map(|_| [rng.sample::<f64, _>(StandardNormal) as f32; LANES])
                .collect();
            // a repeated center: equal values, the first one wins
            if k > 2 {
                for f in 0..d {
                    cw[(k - 1) * d + f] = cw[f];
                }
            }
            let cn: Vec<Lane32> = (0..k)
                .map(|c| {
                    let s: f64 = (0..d)
                        .map(|f| (cw[c * d + f][0] as f64 / 2.0).powi(2))
                        .sum();
                    [s as f32; LANES]
                })
                .collect();
            let run = |blocked: bool| {
                let mut labels = vec![u32::MAX; nchunks * LANES];
                let ch = if blocked {
                    // SAFETY: only called where the CPU has AVX-512F; sizes as required.
                    unsafe { assign_f32_avx512(Dynamic(d), n, &x32, k, &cw, &cn, &mut labels) }
                } else {
                    assign_f32::<Dynamic, true>(Dynamic(d), n, &x32, k, &cw, &cn, &mut labels)
                };
                (ch, labels)
            };
            let (b, lb) = run(false);
            if k > 2 {
                assert!(
                    !lb[..n].contains(&((k - 1) as u32)),
                    "ties go to the first center"
                );
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                let (a, la) = run(true);
                assert_eq!(a, b);
                assert_eq!(la, lb, "k = {k}, d = {d}");
            }
        }
    }
}
