//! Benchmarks of k-means: `cargo bench --bench kmeans`.
//!
//! A plain timing program (no harness): k-means (n_init 25) on Gaussian points
//! and on a null network's spectral embedding, with the runtime-dispatched and
//! the portable build. `MODCUT_ONE=1` instead runs fixed work for `perf stat`:
//! `MODCUT_REPS` calls with the build `MODCUT_TIER` = auto | avx2 | portable.

use modcut::kmeans::{kmeans, kmeans_build};
use modcut::rng::{rng_for, CLUSTER};
use modcut::spectral::embed;
use modcut::testkit::{gaussian, layered_block, time_ms};

fn main() {
    if std::env::var("MODCUT_ONE").is_ok() {
        bench_kmeans_one();
    } else {
        bench_kmeans();
    }
}

/// Fixed work for `perf stat`: MODCUT_REPS k-means calls (n_init 25) on a
/// null network's embedding; MODCUT_TIER = auto | avx2 | portable.
fn bench_kmeans_one() {
    let reps: usize = std::env::var("MODCUT_REPS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(20);
    let tier = std::env::var("MODCUT_TIER").unwrap_or_else(|_| "auto".into());
    let (b, de, dd) = layered_block(&[784, 256, 256, 256, 256, 10], 0.1, 1);
    let (emb, _) = embed(&b, &de, &dd, 12, &mut rng_for(1, CLUSTER, 0)).unwrap();
    let n = b.nrows + b.ncols;
    let t0 = std::time::Instant::now();
    let mut inertia = 0.0;
    for i in 0..reps {
        let mut rng = rng_for(i as u64, CLUSTER, 0);
        inertia += kmeans_build(&tier, &emb, n, 12, 12, 25, 300, 1e-4, &mut rng)
            .unwrap()
            .inertia;
    }
    println!(
        "{tier}: {:.2} ms per call (mean inertia {:.6e})",
        t0.elapsed().as_secs_f64() * 1e3 / reps as f64,
        inertia / reps as f64
    );
}

/// `cargo bench --bench kmeans`
fn bench_kmeans() {
    let (n, d, k) = (1818, 12, 12);
    let x = gaussian(n, d, 1);
    let (b, de, dd) = layered_block(&[784, 256, 256, 256, 256, 10], 0.1, 1);
    let (emb, _) = embed(&b, &de, &dd, 12, &mut rng_for(1, CLUSTER, 0)).unwrap();
    for (name, data) in [("gaussian", &x), ("null embedding", &emb)] {
        let mut it = 0;
        let (ms, r) = time_ms(20, || {
            it += 1;
            kmeans(data, n, d, k, 25, 300, 1e-4, &mut rng_for(it, CLUSTER, 0)).unwrap()
        });
        println!(
            "{name} {n}x{d} k={k} n_init=25: {ms:.2} ms (inertia {:.6e}, n_iter {})",
            r.inertia, r.n_iter
        );
        let (ms, _) = time_ms(5, || {
            kmeans_build(
                "portable",
                data,
                n,
                d,
                k,
                25,
                300,
                1e-4,
                &mut rng_for(1, CLUSTER, 0),
            )
            .unwrap()
        });
        println!("  portable (no AVX2/FMA) build of the same: {ms:.2} ms");
    }
}
