//! Benchmarks of the spectral embedding: `cargo bench --bench spectral`.
//!
//! A plain timing program (no harness): each number is the minimum wall time
//! over repeated runs, on a random 784-256×4-10 network at 10 % density and a
//! dense 784-1024×4-10 one. `MODCUT_BENCH=small|big` picks one network,
//! `MODCUT_TOL` the Lanczos tolerance; `MODCUT_ONE=1` instead times one Lanczos
//! configuration for profiling (`MODCUT_BS`, `MODCUT_MD`, `MODCUT_TOL`,
//! `MODCUT_FULL=1` for the whole `top_singular`).

use modcut::kmeans::kmeans;
use modcut::rng::{rng_for, CLUSTER};
use modcut::spectral::{embed, lanczos_gram, top_singular, LanczosOpts, MAX_RESTARTS, TOL};
use modcut::testkit::{check_triplets, layered_block, time_ms};

fn main() {
    if std::env::var("MODCUT_ONE").is_ok() {
        bench_lanczos_one();
    } else {
        bench_spectral();
    }
}

/// One Lanczos configuration, repeated (for profiling): MODCUT_BS, MODCUT_MD, MODCUT_TOL.
fn bench_lanczos_one() {
    let env = |k: &str, d: f64| {
        std::env::var(k)
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(d)
    };
    let (bs, md, tol) = (
        env("MODCUT_BS", 2.0) as usize,
        env("MODCUT_MD", 48.0) as usize,
        env("MODCUT_TOL", TOL),
    );
    let (b, _, _) = layered_block(&[784, 256, 256, 256, 256, 10], 0.1, 1);
    let opts = LanczosOpts {
        block: bs,
        max_dim: md,
        tol,
        max_restarts: MAX_RESTARTS,
    };
    let mut it = 0u64;
    if std::env::var("MODCUT_FULL").is_ok() {
        let (ms, _) = time_ms(200, || {
            it += 1;
            top_singular(&b, 12, &mut rng_for(it, CLUSTER, 0)).unwrap()
        });
        println!("top_singular: {ms:.2} ms");
        return;
    }
    let (ms, (_, _, st)) = time_ms(200, || {
        it += 1;
        lanczos_gram(&b, 12, &opts, &mut rng_for(it, CLUSTER, 0)).unwrap()
    });
    println!(
        "block {bs} max_dim {md} tol {tol:e}: {ms:.2} ms, {} G-vectors, {} restarts",
        st.applies, st.restarts
    );
}

/// `cargo bench --bench spectral`
fn bench_spectral() {
    for (name, widths, density, reps) in [
        (
            "784-256x4-10 at 10%",
            vec![784, 256, 256, 256, 256, 10],
            0.1,
            30,
        ),
        (
            "784-1024x4-10 dense",
            vec![784, 1024, 1024, 1024, 1024, 10],
            1.0,
            3,
        ),
    ] {
        // MODCUT_BENCH=small|big (default: both)
        let which = std::env::var("MODCUT_BENCH").unwrap_or_default();
        if (which == "small" && density >= 1.0) || (which == "big" && density < 1.0) {
            continue;
        }
        let (b, de, dd) = layered_block(&widths, density, 1);
        println!(
            "{name}: block {} x {}, nnz {}",
            b.nrows,
            b.ncols,
            b.indices.len()
        );
        let tol: f64 = std::env::var("MODCUT_TOL")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(TOL);
        for bs in [1usize, 2, 4, 8] {
            for md in [40usize, 64, 96] {
                let opts = LanczosOpts {
                    block: bs,
                    max_dim: md,
                    tol,
                    max_restarts: MAX_RESTARTS,
                };
                let mut it = 0u64;
                let (ms, (_, _, st)) = time_ms(reps, || {
                    it += 1;
                    lanczos_gram(&b, 12, &opts, &mut rng_for(it, CLUSTER, 0)).unwrap()
                });
                println!(
                    "  lanczos block {bs} max_dim {md}: {ms:.2} ms, {} G-vectors, {} restarts",
                    st.applies, st.restarts
                );
            }
        }
        let mut it = 0u64;
        let (ms, svd) = time_ms(reps, || {
            it += 1;
            top_singular(&b, 12, &mut rng_for(it, CLUSTER, 0)).unwrap()
        });
        let (res, orth) = check_triplets(&b, &svd, 12);
        println!("  top_singular k=12: {ms:.2} ms (residual {res:.1e}, orthonormality {orth:.1e})");
        let (ms, (emb, _)) = time_ms(reps, || {
            embed(&b, &de, &dd, 12, &mut rng_for(1, CLUSTER, 0)).unwrap()
        });
        println!("  embed: {ms:.2} ms");
        let n = b.nrows + b.ncols;
        let (ms, r) = time_ms(reps.min(10), || {
            kmeans(&emb, n, 12, 12, 25, 300, 1e-4, &mut rng_for(1, CLUSTER, 0)).unwrap()
        });
        println!(
            "  kmeans n={n} d=12 k=12 n_init=25: {ms:.2} ms (n_iter of best {})",
            r.n_iter
        );
    }
}
