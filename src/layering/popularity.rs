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
use std::ops::AddAssign;

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
        return rank(children, keys, &w);
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
    rank(children, keys, &w)
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

/// Sums W(z) into every path of z's closure, then sorts.
fn rank<A>(children: &[Vec<u32>], keys: &[&str], w: &[A]) -> Vec<u32>
where
    A: Clone + Ord + Zero + for<'a> AddAssign<&'a A>,
{
    let n = children.len();
    let mut pop = vec![A::zero(); n];
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
    let mut idx: Vec<u32> = (0..n as u32).collect();
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
