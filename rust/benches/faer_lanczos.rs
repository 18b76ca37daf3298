//! modcut's Lanczos solver against faer 0.24's restarted Lanczos partial SVD
//! and partial self-adjoint eigensolver on the same problem (the comparison
//! behind the README's "why the Lanczos solver is hand-written"):
//! `cargo bench --bench faer_lanczos`. A plain timing program (no harness).

use faer::{Mat, MatMut, MatRef, Par};
use modcut::graph::SparseBlock;
use modcut::rng::{rng_for, CLUSTER};
use modcut::spectral::{gram_apply, top_singular, transpose, Svd};
use modcut::testkit::{check_triplets, layered_block, time_ms};
use rand::Rng;
use rand_distr::StandardNormal;

fn main() {
    bench_faer_partial();
}

/// `B` as a faer operator (for comparing with faer's partial SVD / eigensolver).
#[derive(Debug)]
struct FaerOp<'a> {
    b: &'a SparseBlock,
    bt: SparseBlock,
    /// apply `BᵀB` (ncols × ncols) instead of `B`
    gram: bool,
}

fn spmm(b: &SparseBlock, mut out: MatMut<'_, f64>, rhs: MatRef<'_, f64>) {
    for c in 0..rhs.ncols() {
        for r in 0..b.nrows {
            let mut t = 0.0;
            for e in b.indptr[r]..b.indptr[r + 1] {
                t += b.data[e] * rhs[(b.indices[e] as usize, c)];
            }
            out[(r, c)] = t;
        }
    }
}

impl faer::matrix_free::LinOp<f64> for FaerOp<'_> {
    fn apply_scratch(&self, _: usize, _: Par) -> faer::dyn_stack::StackReq {
        faer::dyn_stack::StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        if self.gram {
            self.b.ncols
        } else {
            self.b.nrows
        }
    }
    fn ncols(&self) -> usize {
        self.b.ncols
    }
    fn apply(
        &self,
        out: MatMut<'_, f64>,
        rhs: MatRef<'_, f64>,
        _: Par,
        _: &mut faer::dyn_stack::MemStack,
    ) {
        if self.gram {
            let n = self.b.ncols;
            let mut x = vec![0.0; n];
            let mut y = vec![0.0; n];
            let mut out = out;
            for c in 0..rhs.ncols() {
                for j in 0..n {
                    x[j] = rhs[(j, c)];
                }
                gram_apply(self.b, &x, &mut y).unwrap();
                for j in 0..n {
                    out[(j, c)] = y[j];
                }
            }
        } else {
            spmm(self.b, out, rhs);
        }
    }
    fn conj_apply(
        &self,
        out: MatMut<'_, f64>,
        rhs: MatRef<'_, f64>,
        p: Par,
        s: &mut faer::dyn_stack::MemStack,
    ) {
        self.apply(out, rhs, p, s)
    }
}

impl faer::matrix_free::BiLinOp<f64> for FaerOp<'_> {
    fn transpose_apply_scratch(&self, _: usize, _: Par) -> faer::dyn_stack::StackReq {
        faer::dyn_stack::StackReq::EMPTY
    }
    fn transpose_apply(
        &self,
        out: MatMut<'_, f64>,
        rhs: MatRef<'_, f64>,
        _: Par,
        _: &mut faer::dyn_stack::MemStack,
    ) {
        spmm(&self.bt, out, rhs);
    }
    fn adjoint_apply(
        &self,
        out: MatMut<'_, f64>,
        rhs: MatRef<'_, f64>,
        p: Par,
        s: &mut faer::dyn_stack::MemStack,
    ) {
        self.transpose_apply(out, rhs, p, s)
    }
}

/// faer 0.24's restarted Lanczos partial SVD and partial self-adjoint
/// eigensolver on the same problem, for comparison.
fn bench_faer_partial() {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::matrix_free::eigen::{
        partial_self_adjoint_eigen, partial_self_adjoint_eigen_scratch, partial_svd,
        partial_svd_scratch, PartialEigenParams,
    };
    let (b, _, _) = layered_block(&[784, 256, 256, 256, 256, 10], 0.1, 1);
    let k = 12;
    let reference = top_singular(&b, k, &mut rng_for(1, CLUSTER, 0)).unwrap();
    for tol in [1e-8, 1e-9, 1e-10] {
        let op = FaerOp {
            b: &b,
            bt: transpose(&b),
            gram: false,
        };
        let params = PartialEigenParams::default();
        let mut mem = MemBuffer::new(partial_svd_scratch::<f64>(&op, k, Par::Seq, params));
        let mut it = 0u64;
        let (ms, (nconv, s, u, v)) = time_ms(50, || {
            it += 1;
            let mut rng = rng_for(it, CLUSTER, 0);
            let v0 = faer::Col::<f64>::from_fn(b.ncols, |_| rng.sample(StandardNormal));
            let mut u = Mat::<f64>::zeros(b.nrows, k);
            let mut v = Mat::<f64>::zeros(b.ncols, k);
            let mut s = vec![0.0; k];
            let info = partial_svd(
                u.as_mut(),
                v.as_mut(),
                &mut s,
                &op,
                v0.as_ref(),
                tol,
                Par::Seq,
                MemStack::new(&mut mem),
                params,
            );
            (info.n_converged_eigen, s, u, v)
        });
        let mut svd = Svd {
            s: s.clone(),
            u: vec![0.0; b.nrows * k],
            v: vec![0.0; b.ncols * k],
        };
        for r in 0..b.nrows {
            for j in 0..k {
                svd.u[r * k + j] = u[(r, j)];
            }
        }
        for c in 0..b.ncols {
            for j in 0..k {
                svd.v[c * k + j] = v[(c, j)];
            }
        }
        let (res, orth) = if nconv == k {
            check_triplets(&b, &svd, k)
        } else {
            (f64::NAN, f64::NAN)
        };
        let err = (0..nconv)
            .map(|j| (s[j] - reference.s[j]).abs())
            .fold(0.0, f64::max);
        println!("faer partial_svd tol {tol:e}: {ms:.2} ms, {nconv}/{k} converged, residual {res:.1e}, orth {orth:.1e}, max |σ − σ_ours| {err:.1e}");

        if tol < 1e-9 {
            // faer's partial_self_adjoint_eigen did not return within 14 minutes at
            // tol 1e-10 on this problem (measured); skip it
            continue;
        }
        let gop = FaerOp {
            b: &b,
            bt: transpose(&b),
            gram: true,
        };
        let mut mem = MemBuffer::new(partial_self_adjoint_eigen_scratch::<f64>(
            &gop,
            k,
            Par::Seq,
            params,
        ));
        let (ms, (nconv, lam)) = time_ms(50, || {
            it += 1;
            let mut rng = rng_for(it, CLUSTER, 0);
            let v0 = faer::Col::<f64>::from_fn(b.ncols, |_| rng.sample(StandardNormal));
            let mut x = Mat::<f64>::zeros(b.ncols, k);
            let mut lam = vec![0.0; k];
            let info = partial_self_adjoint_eigen(
                x.as_mut(),
                &mut lam,
                &gop,
                v0.as_ref(),
                tol,
                Par::Seq,
                MemStack::new(&mut mem),
                params,
            );
            (info.n_converged_eigen, lam)
        });
        let err = (0..nconv)
            .map(|j| (lam[j].sqrt() - reference.s[j]).abs())
            .fold(0.0, f64::max);
        println!("faer partial_self_adjoint_eigen(BᵀB) tol {tol:e}: {ms:.2} ms, {nconv}/{k} converged, max |σ − σ_ours| {err:.1e}");
    }
    let mut it = 0u64;
    let (ms, _) = time_ms(50, || {
        it += 1;
        top_singular(&b, k, &mut rng_for(it, CLUSTER, 0)).unwrap()
    });
    println!("ours (top_singular): {ms:.2} ms");
}
