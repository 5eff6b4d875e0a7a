//! `referencesByPopularity`'s ordering (nixpkgs `closure-graph.py`, also the pipeline's
//! `popularity_contest`) and the legacy `streamLayeredImage` split of that list.
//!
//! Popularity of a path p is the number of walks along references that start at a root
//! (a path nothing else refers to) and end at p or at a path whose closure holds p.
//! With W(z) the number of walks from any root to z (1 for a root), popularity(p) is the
//! sum of W(z) over every z whose closure (z included) holds p. Order: popularity
//! descending, ties by `name-…-/nix/store/<hash>` (the path with its first `-`-separated
//! part moved to the end) ascending in code-point order.
//!
//! Walk counts grow exponentially with depth, so no fixed width is enough: the sum is
//! done in `u128` when the total of all W provably fits (every popularity is at most that
//! total), and in arbitrary precision otherwise.
use num_bigint::BigUint;
use num_traits::Zero;

use super::{Graph, LayeringError, Layers};

/// The tie-break key: `a-b-c` → `b-c-a`, the store-dir-and-hash part moved last.
pub fn package_name(path: &str) -> String {
    match path.split_once('-') {
        Some((start, rest)) => format!("{rest}-{start}"),
        None => path.to_string(),
    }
}

/// Every path of `graph`, most popular first (`closure-graph.py`'s output).
pub fn order_graph(graph: &Graph) -> Vec<String> {
    let keys: Vec<String> = graph.paths.iter().map(|p| package_name(p)).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    order(&graph.refs, &keys)
        .into_iter()
        .map(|i| graph.paths[i as usize].clone())
        .collect()
}

/// The popularity order of a DAG given as child lists (no self-loops), with each
/// node's tie-break key. Returns node indices, most popular first.
pub fn order(children: &[Vec<u32>], keys: &[&str]) -> Vec<u32> {
    let n = children.len();
    let mut indeg = vec![0u32; n];
    for cs in children {
        for &c in cs {
            indeg[c as usize] += 1;
        }
    }
    let roots: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    // Topological order (Kahn), roots first.
    let mut topo = Vec::with_capacity(n);
    let mut stack = roots.clone();
    let mut left = indeg.clone();
    while let Some(u) = stack.pop() {
        topo.push(u);
        for &c in &children[u] {
            left[c as usize] -= 1;
            if left[c as usize] == 0 {
                stack.push(c as usize);
            }
        }
    }
    if let Some(w) = walks_u128(children, &roots, &topo)
        && w.iter()
            .try_fold(0u128, |acc, &x| acc.checked_add(x))
            .is_some()
    {
        return sorted(&popularity_u128(children, &topo, &w), keys);
    }
    let mut w = vec![BigUint::zero(); n];
    for &r in &roots {
        w[r] = BigUint::from(1u8);
    }
    for &u in &topo {
        let wu = w[u].clone();
        for &c in &children[u] {
            w[c as usize] += &wu;
        }
    }
    sorted(&popularity_dfs(children, &w), keys)
}

/// Walk counts from the roots in `u128`, or `None` on overflow.
fn walks_u128(children: &[Vec<u32>], roots: &[usize], topo: &[usize]) -> Option<Vec<u128>> {
    let mut w = vec![0u128; children.len()];
    for &r in roots {
        w[r] = 1;
    }
    for &u in topo {
        let wu = w[u];
        for &c in &children[u] {
            w[c as usize] = w[c as usize].checked_add(wu)?;
        }
    }
    Some(w)
}

/// Columns (candidate ancestors) handled per pass of [`popularity_u128`], in 64-bit words.
const WORDS: usize = 64;

/// popularity(p) = Σ W(z) over the ancestors-or-self z of p, with bitsets: per pass, a
/// block of 4096 candidate ancestors; each path's row (which of them reach it) is the OR of
/// its parents' rows, built in topological order; the row is then summed a byte at a time
/// from a table of the 256 subset sums of each 8-path group. Memory: 512 bytes per path
/// plus a 2 MiB table, whatever the graph. The caller has checked that the sum of all W
/// fits, so no addition here can overflow.
fn popularity_u128(children: &[Vec<u32>], topo: &[usize], w: &[u128]) -> Vec<u128> {
    let n = children.len();
    let mut pop = vec![0u128; n];
    let mut rows = vec![0u64; n * WORDS];
    let mut table = vec![0u128; WORDS * 8 * 256];
    for base in (0..n).step_by(WORDS * 64) {
        let cols = (n - base).min(WORDS * 64);
        for blk in 0..cols.div_ceil(8) {
            let t = &mut table[blk * 256..blk * 256 + 256];
            t[0] = 0;
            for mask in 1..256usize {
                let z = base + blk * 8 + mask.trailing_zeros() as usize;
                let wz = if z < base + cols { w[z] } else { 0 };
                t[mask] = t[mask & (mask - 1)] + wz;
            }
        }
        rows.fill(0);
        for &u in topo {
            if (base..base + cols).contains(&u) {
                let b = u - base;
                rows[u * WORDS + b / 64] |= 1 << (b % 64);
            }
            for &c in &children[u] {
                let c = c as usize;
                let (src, dst) = if u < c {
                    let (a, b) = rows.split_at_mut(c * WORDS);
                    (&a[u * WORDS..(u + 1) * WORDS], &mut b[..WORDS])
                } else {
                    let (a, b) = rows.split_at_mut(u * WORDS);
                    (&b[..WORDS], &mut a[c * WORDS..(c + 1) * WORDS])
                };
                for (d, s) in dst.iter_mut().zip(src) {
                    *d |= *s;
                }
            }
        }
        for (p, slot) in pop.iter_mut().enumerate() {
            let row = &rows[p * WORDS..(p + 1) * WORDS];
            for (wi, &word) in row.iter().enumerate() {
                if word == 0 {
                    continue;
                }
                for byte in 0..8 {
                    let m = ((word >> (byte * 8)) & 0xff) as usize;
                    if m != 0 {
                        *slot += table[(wi * 8 + byte) * 256 + m];
                    }
                }
            }
        }
    }
    pop
}

/// popularity(p) in arbitrary precision: W(z) added into every path of z's closure.
fn popularity_dfs(children: &[Vec<u32>], w: &[BigUint]) -> Vec<BigUint> {
    let n = children.len();
    let mut pop = vec![BigUint::zero(); n];
    let mut stamp = vec![usize::MAX; n];
    let mut stack = Vec::new();
    for z in 0..n {
        if w[z].is_zero() {
            continue;
        }
        stamp[z] = z;
        stack.push(z);
        while let Some(u) = stack.pop() {
            pop[u] += &w[z];
            for &c in &children[u] {
                let c = c as usize;
                if stamp[c] != z {
                    stamp[c] = z;
                    stack.push(c);
                }
            }
        }
    }
    pop
}

/// Node indices by popularity descending, then tie-break key ascending.
fn sorted<A: Ord>(pop: &[A], keys: &[&str]) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..pop.len() as u32).collect();
    idx.sort_by(|&a, &b| {
        pop[b as usize]
            .cmp(&pop[a as usize])
            .then_with(|| keys[a as usize].cmp(keys[b as usize]))
    });
    idx
}

/// The legacy split of `streamLayeredImage`'s jq step: the first `layers − 1` paths get a
/// layer each, all others (in order) share the last; empty layers are dropped.
pub fn legacy_split(paths: Vec<String>, layers: usize) -> Result<Layers, LayeringError> {
    if layers == 0 {
        return Err(LayeringError::Limit(
            "the number of layers for store paths must be at least 1".into(),
        ));
    }
    let mut out: Layers = Vec::new();
    let mut rest = Vec::new();
    for (i, p) in paths.into_iter().enumerate() {
        if i < layers - 1 {
            out.push(vec![p]);
        } else {
            rest.push(p);
        }
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_name_moves_hash_last() {
        assert_eq!(
            package_name("/nix/store/abc-gtk+-3"),
            "gtk+-3-/nix/store/abc"
        );
        assert_eq!(package_name("nodash"), "nodash");
    }

    /// The bitset sum (several 4096-column passes here) equals the plain closure walk.
    #[test]
    fn bitset_popularity_equals_closure_walk() {
        let n = 9000usize;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // Node i refers only to nodes after it, so 0.. is a topological order.
        let children: Vec<Vec<u32>> = (0..n)
            .map(|i| {
                let k = if i + 1 < n { next() % 4 } else { 0 };
                let mut cs: Vec<u32> = (0..k)
                    .map(|_| (i + 1 + (next() as usize % (n - i - 1).min(300))) as u32)
                    .collect();
                cs.sort();
                cs.dedup();
                cs
            })
            .collect();
        let mut indeg = vec![0; n];
        children
            .iter()
            .flatten()
            .for_each(|&c| indeg[c as usize] += 1);
        let roots: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
        let topo: Vec<usize> = (0..n).collect();
        let w = walks_u128(&children, &roots, &topo).unwrap();
        assert!(w.iter().try_fold(0u128, |a, &x| a.checked_add(x)).is_some());
        let fast = popularity_u128(&children, &topo, &w);
        let big: Vec<BigUint> = w.iter().map(|&x| BigUint::from(x)).collect();
        let slow = popularity_dfs(&children, &big);
        assert!(fast.iter().zip(&slow).all(|(a, b)| BigUint::from(*a) == *b));
        assert!(fast.iter().any(|&p| p > 1));
    }

    #[test]
    fn legacy_split_edges() {
        let p = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(legacy_split(p(3), 3).unwrap().len(), 3);
        assert_eq!(legacy_split(p(4), 3).unwrap()[2], vec!["2", "3"]);
        assert_eq!(legacy_split(p(2), 3).unwrap().len(), 2);
        assert!(legacy_split(p(0), 3).unwrap().is_empty());
        assert!(legacy_split(p(2), 0).is_err());
    }
}
