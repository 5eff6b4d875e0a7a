//! nixpkgs' `auto-layer.py`: split a closure into at most N layers, the largest paths
//! first, each with the dependencies only it (or only one set of large paths) uses.
//!
//! Every path has a key, the set of "primary" paths it belongs to (all empty at first).
//! Paths become primary one at a time, largest `narSize` first, equal sizes the later in
//! the input first. When P becomes primary, with D its dependencies and U its users
//! (transitive, P excluded): P's key becomes {P}; each d in D loses the members of U from
//! its key, then gains P if no member of its key is in D. If that makes more than N
//! distinct keys, the step is undone and the process stops. Paths sharing a key form a
//! layer; layers are ordered by closure size (sum of `narSize` over the layer's closure),
//! paths inside a layer by (name, hash). Excluded paths take part throughout and are
//! removed at the end, dropping layers left empty.
//!
//! **Tie-break (ours):** nixpkgs leaves layers of equal closure size in Python set order,
//! which changes with `PYTHONHASHSEED`. Here equal closure sizes are ordered by their key,
//! the list of the layer's primary paths in the order they became primary, compared
//! lexicographically: the layer whose primaries were chosen earlier (larger, or equal in
//! size and later in the input) comes first; the empty key (paths no primary claimed)
//! sorts before all. Fixed for a given graph, and one of the orders nixpkgs can produce.
use std::collections::{HashMap, HashSet};

use super::{Graph, LayeringError, Layers};

/// The (name, hash) sort key of a path: split at the first `-`.
fn path_key(path: &str) -> (&str, &str) {
    match path.split_once('-') {
        Some((hash, name)) => (name, hash),
        // auto-layer.py crashes on a path without `-`; sort it by the whole path.
        None => (path, ""),
    }
}

/// Runs auto-layer with layer limit `limit`, leaving `exclude`d paths out of the output.
pub fn auto_layer(
    graph: &Graph,
    exclude: &HashSet<&str>,
    limit: usize,
) -> Result<Layers, LayeringError> {
    let sizes = graph.sizes("auto")?;
    let n = graph.len();
    let refs = &graph.refs;
    let mut users: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (u, rs) in refs.iter().enumerate() {
        for &r in rs {
            users[r as usize].push(u as u32);
        }
    }
    // Ascending size, stable; popped from the end.
    let mut by_size: Vec<u32> = (0..n as u32).collect();
    by_size.sort_by_key(|&i| sizes[i as usize]);

    // Keys are sorted lists of primary sequence numbers (the order they became primary).
    let mut key: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut counts: HashMap<Vec<u32>, u32> = HashMap::new();
    if n > 0 {
        counts.insert(Vec::new(), n as u32);
    }
    let mut primary_node: Vec<u32> = Vec::new();
    let mut in_d = vec![u32::MAX; n];
    let mut in_u = vec![u32::MAX; n];
    let mut stack = Vec::new();
    let mut deps = Vec::new();
    let mut changes: Vec<(u32, Vec<u32>)> = Vec::new();

    while let Some(p) = by_size.pop() {
        let seq = primary_node.len() as u32;
        primary_node.push(p);
        let p = p as usize;
        // D: everything p depends on; U: everything depending on p (p excluded from both).
        deps.clear();
        walk(p, refs, &mut in_d, seq, &mut stack, |v| deps.push(v));
        walk(p, &users, &mut in_u, seq, &mut stack, |_| {});
        in_d[p] = u32::MAX;
        in_u[p] = u32::MAX;
        deps.retain(|&v| v as usize != p);

        changes.clear();
        changes.push((p as u32, vec![seq]));
        for &d in &deps {
            let mut k: Vec<u32> = key[d as usize]
                .iter()
                .copied()
                .filter(|&s| in_u[primary_node[s as usize] as usize] != seq)
                .collect();
            if !k
                .iter()
                .any(|&s| in_d[primary_node[s as usize] as usize] == seq)
            {
                k.push(seq);
            }
            changes.push((d, k));
        }
        let mut distinct = counts.len();
        for (v, k) in &changes {
            distinct = apply(&mut counts, &key[*v as usize], k, distinct);
        }
        if distinct > limit {
            for (v, k) in changes.iter().rev() {
                apply(&mut counts, k, &key[*v as usize], 0);
            }
            break;
        }
        for (v, k) in changes.drain(..) {
            key[v as usize] = k;
        }
    }

    // Group into layers.
    let mut groups: HashMap<&Vec<u32>, Vec<u32>> = HashMap::new();
    for (v, k) in key.iter().enumerate() {
        groups.entry(k).or_default().push(v as u32);
    }
    let mut layers: Vec<(u64, &Vec<u32>, Vec<&str>)> = Vec::with_capacity(groups.len());
    let mut seen = vec![usize::MAX; n];
    for (gi, (gkey, members)) in groups.into_iter().enumerate() {
        let mut closure_size = 0u64;
        for &m in &members {
            if seen[m as usize] != gi {
                seen[m as usize] = gi;
                stack.push(m);
            }
        }
        while let Some(u) = stack.pop() {
            closure_size = closure_size.saturating_add(sizes[u as usize]);
            for &r in &refs[u as usize] {
                if seen[r as usize] != gi {
                    seen[r as usize] = gi;
                    stack.push(r);
                }
            }
        }
        let mut paths: Vec<&str> = members
            .iter()
            .map(|&m| graph.paths[m as usize].as_str())
            .collect();
        paths.sort_by(|a, b| path_key(a).cmp(&path_key(b)));
        layers.push((closure_size, gkey, paths));
    }
    layers.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    Ok(layers
        .into_iter()
        .map(|(_, _, ps)| {
            ps.into_iter()
                .filter(|p| !exclude.contains(p))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.is_empty())
        .collect())
}

/// Moves one path from key `old` to key `new` in the counts; returns the new number of
/// distinct keys given the old one.
fn apply(counts: &mut HashMap<Vec<u32>, u32>, old: &[u32], new: &[u32], distinct: usize) -> usize {
    if old == new {
        return distinct;
    }
    let mut distinct = distinct;
    if let Some(c) = counts.get_mut(old) {
        *c -= 1;
        if *c == 0 {
            counts.remove(old);
            distinct = distinct.saturating_sub(1);
        }
    }
    match counts.get_mut(new) {
        Some(c) => *c += 1,
        None => {
            counts.insert(new.to_vec(), 1);
            distinct += 1;
        }
    }
    distinct
}

/// Marks everything reachable from `start` along `adj` (start included) with `mark`.
fn walk(
    start: usize,
    adj: &[Vec<u32>],
    marks: &mut [u32],
    mark: u32,
    stack: &mut Vec<u32>,
    mut visit: impl FnMut(u32),
) {
    marks[start] = mark;
    stack.push(start as u32);
    while let Some(u) = stack.pop() {
        visit(u);
        for &r in &adj[u as usize] {
            if marks[r as usize] != mark {
                marks[r as usize] = mark;
                stack.push(r);
            }
        }
    }
}
