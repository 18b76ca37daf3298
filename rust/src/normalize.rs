//! The authors' weight normalisation (HumanCompatibleAI/nn-clustering-pytorch,
//! `normalize_weights_array`), on any network.
//!
//! A ReLU network computes the same function when a hidden neuron's incoming
//! weights are divided by `c > 0` and its outgoing weights multiplied by `c`.
//! The normalisation picks, for every hidden neuron `j`, `c_j = ‖in_j‖₂ + eps`
//! (the L2 norm of its incoming weights, `eps = 1e-5` as in the reference) so
//! that two networks that differ only by that symmetry get the same graph. Hidden
//! groups (groups with incoming and outgoing edge groups) are normalised one
//! after another in group order, each with the incoming weights as the groups
//! before it left them, as the reference loops over layers. For a layered network
//! this is the reference's operation on its weight matrices; for a channel graph
//! the incoming weights are the channel-to-channel edge weights (the kernels' L1
//! norms), which the symmetry scales the same way.

use crate::net::Network;

/// The reference's `eps` (added to every norm, so no division by zero).
pub const NORMALIZE_EPS: f64 = 1e-5;

/// Normalise `net` in place (see the module docs). `eps` must be finite and > 0
/// (checked by the callers).
pub fn normalize(net: &mut Network, eps: f64) {
    for g in 0..net.sizes.len() {
        let incoming: Vec<usize> = (0..net.edges.len())
            .filter(|&e| net.edges[e].dst == g)
            .collect();
        let outgoing: Vec<usize> = (0..net.edges.len())
            .filter(|&e| net.edges[e].src == g)
            .collect();
        if incoming.is_empty() || outgoing.is_empty() {
            continue;
        }
        // c_j = sqrt(sum over incoming edge groups of w_ij^2) + eps (column norms)
        let mut c = vec![0.0f64; net.sizes[g]];
        for &e in &incoming {
            let l = &net.edges[e].layer;
            for (&col, &v) in l.indices.iter().zip(&l.data) {
                c[col as usize] += v * v;
            }
        }
        for x in c.iter_mut() {
            *x = x.sqrt() + eps;
        }
        for &e in &incoming {
            let l = &mut net.edges[e].layer;
            for (&col, v) in l.indices.iter().zip(l.data.iter_mut()) {
                *v /= c[col as usize];
            }
        }
        for &e in &outgoing {
            let l = &mut net.edges[e].layer;
            for (r, &cr) in c.iter().enumerate() {
                let (a, b) = (l.indptr[r], l.indptr[r + 1]);
                for v in &mut l.data[a..b] {
                    *v *= cr;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{CsrLayer, EdgeGroup};

    fn chain(ws: &[(usize, usize, Vec<f64>)]) -> Network {
        let layers = ws
            .iter()
            .map(|(r, c, v)| CsrLayer::from_dense(*r, *c, v).unwrap())
            .collect();
        Network::chain(layers).unwrap()
    }

    #[test]
    fn hidden_neurons_get_unit_incoming_norm_and_the_product_is_kept() {
        // 2 -> 2 -> 1: hidden neuron 0 has incoming (3, 4) (norm 5), neuron 1 (0, 2)
        let mut net = chain(&[(2, 2, vec![3.0, 0.0, 4.0, 2.0]), (2, 1, vec![1.0, 1.0])]);
        normalize(&mut net, 0.0);
        let w1 = &net.edges[0].layer.data;
        let w2 = &net.edges[1].layer.data;
        assert!((w1[0] - 0.6).abs() < 1e-15 && (w1[2] - 0.8).abs() < 1e-15);
        assert!((w1[3] - 1.0).abs() < 1e-15);
        assert!((w2[0] - 5.0).abs() < 1e-15 && (w2[1] - 2.0).abs() < 1e-15);
    }

    #[test]
    fn inputs_and_outputs_are_not_rescaled_and_eps_is_added() {
        let mut net = chain(&[(1, 1, vec![0.0]), (1, 1, vec![2.0])]);
        normalize(&mut net, NORMALIZE_EPS);
        assert_eq!(net.edges[0].layer.data, vec![0.0]);
        assert!((net.edges[1].layer.data[0] - 2.0 * NORMALIZE_EPS).abs() < 1e-20);
    }

    #[test]
    fn parallel_incoming_groups_share_one_norm() {
        // input(1) -> hidden(1) twice (gate and up), hidden -> out(1)
        let e = |s, d, v: f64| EdgeGroup {
            src: s,
            dst: d,
            layer: CsrLayer::from_dense(1, 1, &[v]).unwrap(),
        };
        let mut net = Network::new(
            vec![1, 1, 1],
            vec![e(0, 1, 3.0), e(0, 1, 4.0), e(1, 2, 1.0)],
        )
        .unwrap();
        normalize(&mut net, 0.0);
        assert!((net.edges[0].layer.data[0] - 0.6).abs() < 1e-15);
        assert!((net.edges[1].layer.data[0] - 0.8).abs() < 1e-15);
        assert!((net.edges[2].layer.data[0] - 5.0).abs() < 1e-15);
    }
}
