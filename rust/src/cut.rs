//! Normalized cut of a partition (method.md §3).
//!
//! For clusters `X_1 … X_k` of a network's nodes,
//! `ncut = Σ_c cut(X_c) / (vol(X_c) + ε)`, where `cut(X_c)` is the total `|w|`
//! of edges with exactly one end in `X_c` and `vol(X_c)` is the sum of the
//! (full) degrees of `X_c`'s nodes. Nodes labelled `-1` belong to no cluster:
//! edges to them count as leaving a cluster and they add nothing themselves.
//! A cluster of volume 0 contributes 0.
//!
//! ε is relative to the graph's scale: the ε passed in (the reference's 1e-8)
//! is multiplied by `min(1, total volume)`, the total volume being the sum of
//! all degrees (`2 Σ |w|`). For a network of total volume ≥ 1 this is exactly
//! the reference's ε; for a tiny-weight network it shrinks with the weights, so
//! the n-cut does not depend on the scale of the weights ([`effective_eps`]).
//!
//! Both functions read the edge groups directly (no adjacency is built) in one pass
//! over the stored weights, and give bit-identical ncut values.

use crate::error::{Error, Result};
use crate::net::Network;

/// The normalized cut of a partition with its per-cluster terms.
#[derive(Clone, Debug, PartialEq)]
pub struct NcutParts {
    /// `Σ_c cut[c] / (volume[c] + ε)` over clusters with `volume[c] > 0`.
    pub ncut: f64,
    /// Ids of the non-empty clusters (labels carried by at least one node), ascending.
    pub cluster_ids: Vec<i64>,
    /// `cut[c]`: total `|w|` of edges leaving cluster `cluster_ids[c]`.
    pub cut: Vec<f64>,
    /// `volume[c]`: sum of the degrees of the nodes of cluster `cluster_ids[c]`.
    pub volume: Vec<f64>,
}

/// Labels mapped to dense slot numbers `0..n_slots`.
struct Slots {
    /// Slot of every node; unlabelled nodes (label -1) get the dummy slot `n_slots`.
    of_node: Vec<u32>,
    n_slots: usize,
    /// `Some(ids)`: slot `s` is cluster `ids[s]` (every slot non-empty).
    /// `None`: slot `s` is label `s` itself (slots may be empty).
    ids: Option<Vec<i64>>,
}

/// Validate `labels` and `eps` and assign slots.
///
/// Small labels (at most about twice the node count) are used as slots
/// directly; larger ones are compacted by sort + dedup + binary search.
fn slots(net: &Network, labels: &[i64], eps: f64) -> Result<Slots> {
    let n = net.n_nodes();
    if labels.len() != n {
        return Err(Error::Labels(format!(
            "got {} labels but the network has {n} neurons (one label per neuron of every \
             group, inputs and outputs included)",
            labels.len()
        )));
    }
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(Error::Value(format!(
            "eps must be finite and >= 0, got {eps}"
        )));
    }
    let mut max = -1i64;
    for (u, &c) in labels.iter().enumerate() {
        if c < -1 {
            return Err(Error::Labels(format!(
                "label {c} of neuron {u} is invalid: labels must be >= 0, or -1 for an \
                 unclustered neuron"
            )));
        }
        max = max.max(c);
    }
    let dense_limit = (2 * n as u64 + 1024).min(u32::MAX as u64 - 1);
    if max < 0 || (max as u64) < dense_limit {
        let n_slots = (max + 1) as usize;
        let of_node = labels
            .iter()
            .map(|&c| if c < 0 { n_slots as u32 } else { c as u32 })
            .collect();
        return Ok(Slots {
            of_node,
            n_slots,
            ids: None,
        });
    }
    let mut ids: Vec<i64> = labels.iter().copied().filter(|&c| c >= 0).collect();
    ids.sort_unstable();
    ids.dedup();
    let of_node = labels
        .iter()
        .map(|&c| {
            if c < 0 {
                ids.len() as u32
            } else {
                ids.binary_search(&c).unwrap() as u32
            }
        })
        .collect();
    Ok(Slots {
        of_node,
        n_slots: ids.len(),
        ids: Some(ids),
    })
}

/// The ε actually added to each volume: `eps * min(1, total_volume)`.
pub fn effective_eps(eps: f64, total_volume: f64) -> f64 {
    eps * total_volume.min(1.0)
}

/// Per-slot `(cut, volume)` and the total volume in one pass over the stored weights.
///
/// Branch-free inner loop: unlabelled nodes sit in a dummy slot `n_slots`
/// whose sums are dropped. Edge groups in order, entries in storage order; a
/// chain sums each row's own contributions in registers and adds them to its
/// slot once, other networks add them one by one (the summation orders of
/// [`crate::graph`]). Stored zeros add `+0.0`.
fn accumulate(net: &Network, s: &Slots) -> (Vec<f64>, Vec<f64>, f64) {
    if net.is_chain() {
        accumulate_in::<true>(net, s)
    } else {
        accumulate_in::<false>(net, s)
    }
}

fn accumulate_in<const ROW_SUM: bool>(net: &Network, s: &Slots) -> (Vec<f64>, Vec<f64>, f64) {
    let off = net.offsets();
    let mut cut = vec![0.0; s.n_slots + 1];
    let mut vol = vec![0.0; s.n_slots + 1];
    for eg in &net.edges {
        let layer = &eg.layer;
        let src = &s.of_node[off[eg.src]..off[eg.src + 1]];
        let dst = &s.of_node[off[eg.dst]..off[eg.dst + 1]];
        for (i, &cu) in src.iter().enumerate() {
            let (a0, a1) = (layer.indptr[i], layer.indptr[i + 1]);
            let (mut row_cut, mut row_vol) = (0.0, 0.0);
            for (&j, &w) in layer.indices[a0..a1].iter().zip(&layer.data[a0..a1]) {
                let a = w.abs();
                let cv = dst[j as usize];
                let leaving = if cv != cu { a } else { 0.0 };
                if ROW_SUM {
                    row_vol += a;
                    row_cut += leaving;
                } else {
                    vol[cu as usize] += a;
                    cut[cu as usize] += leaving;
                }
                vol[cv as usize] += a;
                cut[cv as usize] += leaving;
            }
            if ROW_SUM {
                vol[cu as usize] += row_vol;
                cut[cu as usize] += row_cut;
            }
        }
    }
    // every edge adds |w| to two volumes (the dummy slot's included)
    let total_volume: f64 = vol.iter().sum();
    cut.truncate(s.n_slots);
    vol.truncate(s.n_slots);
    (cut, vol, total_volume)
}

/// `Σ cut/(vol + ε)` over slots with positive volume, in slot order.
fn total(cut: &[f64], vol: &[f64], total_volume: f64, eps: f64) -> f64 {
    let eps = effective_eps(eps, total_volume);
    cut.iter()
        .zip(vol)
        .filter(|(_, &v)| v > 0.0)
        .map(|(&c, &v)| c / (v + eps))
        .sum()
}

/// The normalized cut of the partition `labels` of `net`'s nodes, with the
/// cut and volume of every non-empty cluster.
///
/// `labels` has one entry per node (global ids, layer order); `-1` marks an
/// unclustered node, other labels are arbitrary non-negative integers.
///
/// # Errors
/// [`Error::Labels`] if `labels` has the wrong length or a label below -1;
/// [`Error::Value`] if `eps` is negative or not finite.
///
/// `eps` is the reference ε before scaling (see [`effective_eps`]).
pub fn ncut(net: &Network, labels: &[i64], eps: f64) -> Result<NcutParts> {
    let s = slots(net, labels, eps)?;
    let (cut, vol, tv) = accumulate(net, &s);
    let ncut = total(&cut, &vol, tv, eps);
    Ok(match s.ids {
        Some(ids) => NcutParts {
            ncut,
            cluster_ids: ids,
            cut,
            volume: vol,
        },
        None => {
            let mut present = vec![false; s.n_slots];
            for &c in &s.of_node {
                if let Some(p) = present.get_mut(c as usize) {
                    *p = true;
                }
            }
            let keep: Vec<usize> = (0..s.n_slots).filter(|&c| present[c]).collect();
            NcutParts {
                ncut,
                cluster_ids: keep.iter().map(|&c| c as i64).collect(),
                cut: keep.iter().map(|&c| cut[c]).collect(),
                volume: keep.iter().map(|&c| vol[c]).collect(),
            }
        }
    })
}

/// The normalized cut alone; same value, bit for bit, as [`ncut`]`(…).ncut`,
/// without building the per-cluster report.
///
/// # Errors
/// As [`ncut`].
pub fn ncut_value(net: &Network, labels: &[i64], eps: f64) -> Result<f64> {
    let s = slots(net, labels, eps)?;
    let (cut, vol, tv) = accumulate(net, &s);
    Ok(total(&cut, &vol, tv, eps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::adjacency;
    use crate::net::CsrLayer;
    use proptest::prelude::*;

    fn dense(rows: usize, cols: usize, v: &[f64]) -> CsrLayer {
        CsrLayer::from_dense(rows, cols, v).unwrap()
    }

    #[test]
    fn disjoint_blocks_have_ncut_zero() {
        // 4-4-4 made of two disjoint 2-2-2 blocks
        let block = |a: f64| {
            [
                a, -a, 0.0, 0.0, //
                a, a, 0.0, 0.0, //
                0.0, 0.0, a, a, //
                0.0, 0.0, -a, a,
            ]
        };
        let net = Network::chain(vec![dense(4, 4, &block(1.0)), dense(4, 4, &block(0.3))]).unwrap();
        let labels = [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1];
        let p = ncut(&net, &labels, 1e-8).unwrap();
        assert_eq!(p.ncut, 0.0);
        assert_eq!(p.cluster_ids, vec![0, 1]);
        assert_eq!(p.cut, vec![0.0, 0.0]);
        // volume = 2 × total weight of the block
        let w = 4.0 * 1.0 + 4.0 * 0.3;
        for v in &p.volume {
            assert!((v - 2.0 * w).abs() < 1e-12);
        }
        // merging the two blocks: still 0
        assert_eq!(ncut_value(&net, &[7; 12], 1e-8).unwrap(), 0.0);
    }

    #[test]
    fn two_by_two_by_hand() {
        // W = [[1, 2], [3, 4]]: nodes 0, 1 (inputs), 2, 3 (outputs).
        let net = Network::chain(vec![dense(2, 2, &[1.0, 2.0, 3.0, 4.0])]).unwrap();
        // clusters {0, 2} and {1, 3}: cut both = 2 + 3 = 5;
        // vol {0,2} = (1+2) + (1+3) = 7, vol {1,3} = (3+4) + (2+4) = 13
        let p = ncut(&net, &[0, 1, 0, 1], 0.0).unwrap();
        assert_eq!(p.cut, vec![5.0, 5.0]);
        assert_eq!(p.volume, vec![7.0, 13.0]);
        assert!((p.ncut - (5.0 / 7.0 + 5.0 / 13.0)).abs() < 1e-15);
        // node 3 unlabelled: {0, 2} as before, {1}: cut = 3 + 4, vol = 7
        let p = ncut(&net, &[5, 9, 5, -1], 0.0).unwrap();
        assert_eq!(p.cluster_ids, vec![5, 9]);
        assert_eq!(p.cut, vec![5.0, 7.0]);
        assert_eq!(p.volume, vec![7.0, 7.0]);
        // huge labels take the sort + dedup path and give the same numbers
        let q = ncut(
            &net,
            &[5_000_000_000, 9_000_000_000, 5_000_000_000, -1],
            0.0,
        )
        .unwrap();
        assert_eq!(q.cluster_ids, vec![5_000_000_000, 9_000_000_000]);
        assert_eq!((q.ncut, &q.cut, &q.volume), (p.ncut, &p.cut, &p.volume));
        // eps is added to each volume
        let p = ncut(&net, &[0, 1, 0, 1], 1.0).unwrap();
        assert!((p.ncut - (5.0 / 8.0 + 5.0 / 14.0)).abs() < 1e-15);
    }

    #[test]
    fn zero_volume_cluster_contributes_nothing() {
        // input 1 is isolated and alone in cluster 3
        let net = Network::chain(vec![dense(2, 2, &[1.0, 1.0, 0.0, 0.0])]).unwrap();
        let p = ncut(&net, &[0, 3, 0, 1], 0.0).unwrap();
        assert_eq!(p.cluster_ids, vec![0, 1, 3]);
        assert_eq!(p.volume[2], 0.0);
        assert!(p.ncut.is_finite());
        assert!((p.ncut - (1.0 / 3.0 + 1.0)).abs() < 1e-15);
        // all unlabelled: no cluster, ncut 0
        let p = ncut(&net, &[-1; 4], 1e-8).unwrap();
        assert!(p.cluster_ids.is_empty() && p.ncut == 0.0);
    }

    #[test]
    fn bad_input() {
        let net = Network::chain(vec![dense(2, 2, &[1.0, 2.0, 3.0, 4.0])]).unwrap();
        assert!(matches!(
            ncut(&net, &[0, 0, 0], 1e-8),
            Err(Error::Labels(_))
        ));
        assert!(matches!(
            ncut(&net, &[0, 0, -2, 0], 1e-8),
            Err(Error::Labels(_))
        ));
        assert!(matches!(
            ncut_value(&net, &[0; 5], 1e-8),
            Err(Error::Labels(_))
        ));
        assert!(matches!(ncut(&net, &[0; 4], -1.0), Err(Error::Value(_))));
        assert!(matches!(
            ncut(&net, &[0; 4], f64::NAN),
            Err(Error::Value(_))
        ));
    }

    #[test]
    fn eps_is_relative_to_the_total_volume() {
        assert_eq!(effective_eps(1e-8, 1.0), 1e-8);
        assert_eq!(effective_eps(1e-8, 123.0), 1e-8);
        assert_eq!(effective_eps(1e-8, 0.5), 0.5e-8);
        let w = [1.0, 0.02, 0.03, 1.5, 0.7, 0.01];
        let labels = [0, 1, 0, 1, 0, 1, 0];
        let at = |scale: f64| {
            let v: Vec<f64> = w.iter().map(|x| x * scale).collect();
            let net = Network::chain(vec![
                dense(2, 3, &v),
                dense(3, 2, &[1.0, 0.0, 0.0, 1.0, 0.5, 0.5]).iter_scaled(scale),
            ])
            .unwrap();
            ncut(&net, &labels, 1e-8).unwrap().ncut
        };
        let reference = at(1.0);
        assert!(reference > 0.01);
        for scale in [1e-12, 1e-9, 1e6] {
            let got = at(scale);
            assert!(
                (got - reference).abs() <= 1e-7 * reference,
                "scale {scale}: {got} vs {reference}"
            );
        }
    }

    impl CsrLayer {
        fn iter_scaled(mut self, scale: f64) -> Self {
            self.data.iter_mut().for_each(|x| *x *= scale);
            self
        }
    }

    #[test]
    fn chains_and_general_networks_share_one_ncut() {
        use crate::net::EdgeGroup;
        let g = crate::testkit::planted_residual(10, 2, 6);
        let chain =
            Network::chain(vec![g.edges[0].layer.clone(), g.edges[1].layer.clone()]).unwrap();
        // the same chain from edge groups is a chain: same numbers, bit for bit
        let same = Network::new(chain.sizes.clone(), chain.edges.clone()).unwrap();
        assert!(same.is_chain() && same == chain);
        // its edge groups in the other order: a general network (entry-by-entry sums)
        let edges: Vec<EdgeGroup> = chain.edges.iter().rev().cloned().collect();
        let general = Network::new(chain.sizes.clone(), edges).unwrap();
        assert!(!general.is_chain());
        let labels: Vec<i64> = (0..30).map(|u| ((u * 7) % 3) as i64 - 1).collect();
        let a = ncut(&chain, &labels, 1e-8).unwrap();
        let b = ncut(&general, &labels, 1e-8).unwrap();
        assert!((a.ncut - b.ncut).abs() < 1e-12);
        assert_eq!(a.cluster_ids, b.cluster_ids);
        for (x, y) in a.volume.iter().zip(&b.volume) {
            assert!((x - y).abs() < 1e-12);
        }
        // the residual network (a skip) against brute force
        let p = ncut(&g, &labels, 1e-8).unwrap();
        let (ids, cut, vol, total) = brute(&g, &labels, 1e-8);
        assert_eq!(p.cluster_ids, ids);
        assert!((p.ncut - total).abs() <= 1e-12 * (1.0 + total));
        for c in 0..ids.len() {
            assert!((p.cut[c] - cut[c]).abs() <= 1e-12 * (1.0 + cut[c]));
            assert!((p.volume[c] - vol[c]).abs() <= 1e-12 * (1.0 + vol[c]));
        }
        assert_eq!(
            ncut_value(&g, &labels, 1e-8).unwrap().to_bits(),
            p.ncut.to_bits()
        );
    }

    /// Brute force from the full adjacency.
    fn brute(net: &Network, labels: &[i64], eps: f64) -> (Vec<i64>, Vec<f64>, Vec<f64>, f64) {
        let g = adjacency(net);
        let mut ids: Vec<i64> = labels.iter().copied().filter(|&c| c >= 0).collect();
        ids.sort();
        ids.dedup();
        let mut cut = vec![0.0; ids.len()];
        let mut vol = vec![0.0; ids.len()];
        for (k, &c) in ids.iter().enumerate() {
            for u in 0..g.n {
                if labels[u] != c {
                    continue;
                }
                vol[k] += g.degree[u];
                for p in g.indptr[u]..g.indptr[u + 1] {
                    if labels[g.indices[p] as usize] != c {
                        cut[k] += g.data[p];
                    }
                }
            }
        }
        let eps = effective_eps(eps, g.degree.iter().sum());
        let total = cut
            .iter()
            .zip(&vol)
            .map(|(&c, &v)| if v > 0.0 { c / (v + eps) } else { 0.0 })
            .sum();
        (ids, cut, vol, total)
    }

    proptest! {
        #[test]
        fn matches_brute_force(
            widths in prop::collection::vec(1usize..6, 2..5),
            seed in any::<u64>(),
            k in 1i64..5,
            big in any::<bool>(),
        ) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let layers = widths
                .windows(2)
                .map(|w| {
                    let v: Vec<f64> = (0..w[0] * w[1])
                        .map(|_| if rng.random_bool(0.4) { 0.0 } else { rng.random_range(-2.0..2.0) })
                        .collect();
                    dense(w[0], w[1], &v)
                })
                .collect();
            let net = Network::chain(layers).unwrap();
            let scale = if big { 1_000_000_007 } else { 1 };
            let labels: Vec<i64> = (0..net.n_nodes())
                .map(|_| {
                    let c = rng.random_range(-1..k);
                    if c < 0 { c } else { c * scale }
                })
                .collect();
            let p = ncut(&net, &labels, 1e-8).unwrap();
            let (ids, cut, vol, total) = brute(&net, &labels, 1e-8);
            prop_assert_eq!(&p.cluster_ids, &ids);
            for c in 0..ids.len() {
                prop_assert!((p.cut[c] - cut[c]).abs() <= 1e-12 * (1.0 + cut[c]));
                prop_assert!((p.volume[c] - vol[c]).abs() <= 1e-12 * (1.0 + vol[c]));
            }
            prop_assert!((p.ncut - total).abs() <= 1e-12 * (1.0 + total));
            prop_assert!(p.ncut >= 0.0 && p.ncut <= ids.len() as f64);
            prop_assert_eq!(ncut_value(&net, &labels, 1e-8).unwrap().to_bits(), p.ncut.to_bits());
        }
    }
}
