//! nixpkgs' `flatten_references_graph`: the `layeringPipeline` language.
//!
//! A pipeline is a JSON list of steps, each `[name, args…]`, applied in turn to a value:
//! a graph, a list of values, or a map (`main`/`common`/`rest` keys, in that order). The
//! start value is the reference graph minus the excluded paths (references to them
//! dropped), its paths in ascending `narSize` order (equal sizes in input order). Every
//! graph made from it keeps that relative order; the final value is flattened and each
//! graph printed as its list of paths, empty ones dropped.
//!
//! Steps: `popularity_contest`, `limit_layers n`, `reverse`, `split_every n`,
//! `remove_paths p|[p…]`, `subcomponent_in [p…]`, `subcomponent_out [p…]`,
//! `split_paths [p | {"children_of": p|[p…]}…]`, `over key step`, `map step`,
//! `pipe [step…]`, `flatten`. The whole pipeline is checked before it runs: an unknown
//! step, a wrong argument count or type is an error naming the step (`step 2 (over) >
//! step 1 (pipe)`). Applying a step to a value it cannot take (e.g. `limit_layers` to a
//! graph, `over` to a missing key) is an error naming the step too (nixpkgs fails there
//! with a Python exception, or iterates a dict's keys).
//!
//! Where nixpkgs' result does not depend on Python's quirks it is matched exactly; choices
//! of our own: a graph left un-flattened at the end counts as one layer.
use std::collections::HashMap;

use serde_json::Value;

use super::popularity::{order, package_name};
use super::{Graph, LayeringError, Layers};

/// One parsed step, with its location for messages.
#[derive(Debug, Clone)]
pub struct Step {
    at: String,
    op: Op,
}

#[derive(Debug, Clone)]
enum Op {
    PopularityContest,
    LimitLayers(usize),
    Reverse,
    SplitEvery(usize),
    RemovePaths(Vec<String>),
    Subcomponent { out: bool, paths: Vec<String> },
    SplitPaths(Vec<Spec>),
    Over(String, Box<Step>),
    Map(Box<Step>),
    Pipe(Vec<Step>),
    Flatten,
}

#[derive(Debug, Clone)]
enum Spec {
    Path(String),
    ChildrenOf(Vec<String>),
}

/// Parses a pipeline (a JSON list of steps), checking every step and argument.
pub fn parse(value: &Value) -> Result<Vec<Step>, LayeringError> {
    parse_steps(value, "")
}

fn err(at: &str, msg: impl Into<String>) -> LayeringError {
    LayeringError::Pipeline {
        step: if at.is_empty() {
            "(top level)".into()
        } else {
            at.to_string()
        },
        msg: msg.into(),
    }
}

fn parse_steps(value: &Value, at: &str) -> Result<Vec<Step>, LayeringError> {
    let Value::Array(steps) = value else {
        return Err(err(
            at,
            format!("expected a list of steps, found {}", short(value)),
        ));
    };
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = s
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .unwrap_or("?");
            let here = if at.is_empty() {
                format!("step {} ({name})", i + 1)
            } else {
                format!("{at} > step {} ({name})", i + 1)
            };
            parse_step(s, &here)
        })
        .collect()
}

fn parse_step(value: &Value, at: &str) -> Result<Step, LayeringError> {
    let Some(items) = value.as_array() else {
        return Err(err(
            at,
            format!("a step is a list [name, args…], found {}", short(value)),
        ));
    };
    let Some((name, args)) = items.split_first() else {
        return Err(err(at, "empty step: expected [name, args…]"));
    };
    let Some(name) = name.as_str() else {
        return Err(err(
            at,
            format!("step name must be a string, found {}", short(name)),
        ));
    };
    let want = |n: usize| -> Result<(), LayeringError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(err(
                at,
                format!("`{name}` takes {n} argument(s), found {}", args.len()),
            ))
        }
    };
    let op = match name {
        "popularity_contest" => {
            want(0)?;
            Op::PopularityContest
        }
        "reverse" => {
            want(0)?;
            Op::Reverse
        }
        "flatten" => {
            want(0)?;
            Op::Flatten
        }
        "limit_layers" => {
            want(1)?;
            Op::LimitLayers(positive(&args[0], at)?)
        }
        "split_every" => {
            want(1)?;
            Op::SplitEvery(positive(&args[0], at)?)
        }
        "remove_paths" => {
            want(1)?;
            Op::RemovePaths(match &args[0] {
                Value::String(s) => vec![s.clone()],
                v => paths(v, at)?,
            })
        }
        "subcomponent_in" | "subcomponent_out" => {
            want(1)?;
            Op::Subcomponent {
                out: name == "subcomponent_out",
                paths: paths(&args[0], at)?,
            }
        }
        "split_paths" => {
            want(1)?;
            let Value::Array(specs) = &args[0] else {
                return Err(err(
                    at,
                    format!(
                        "expected a list of paths or {{\"children_of\": …}}, found {}",
                        short(&args[0])
                    ),
                ));
            };
            Op::SplitPaths(
                specs
                    .iter()
                    .map(|s| match s {
                        Value::String(p) => Ok(Spec::Path(p.clone())),
                        Value::Object(o) => match (o.get("children_of"), o.len()) {
                            (Some(Value::String(p)), 1) => Ok(Spec::ChildrenOf(vec![p.clone()])),
                            (Some(v), 1) => Ok(Spec::ChildrenOf(paths(v, at)?)),
                            _ => Err(err(
                                at,
                                format!(
                                    "a split spec object takes exactly the key `children_of`, found {}",
                                    short(s)
                                ),
                            )),
                        },
                        v => Err(err(
                            at,
                            format!(
                                "a split spec is a path or {{\"children_of\": …}}, found {}",
                                short(v)
                            ),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        "over" => {
            want(2)?;
            let Some(key) = args[0].as_str() else {
                return Err(err(
                    at,
                    format!("`over` takes a key string first, found {}", short(&args[0])),
                ));
            };
            Op::Over(key.to_string(), Box::new(nested(&args[1], at)?))
        }
        "map" => {
            want(1)?;
            Op::Map(Box::new(nested(&args[0], at)?))
        }
        "pipe" => {
            want(1)?;
            Op::Pipe(parse_steps(&args[0], at)?)
        }
        other => {
            return Err(err(
                at,
                format!(
                    "unknown step `{other}` (known: popularity_contest, limit_layers, split_paths, \
                     split_every, subcomponent_in, subcomponent_out, over, flatten, remove_paths, \
                     reverse, map, pipe)"
                ),
            ));
        }
    };
    Ok(Step {
        at: at.to_string(),
        op,
    })
}

fn nested(value: &Value, at: &str) -> Result<Step, LayeringError> {
    let name = value
        .as_array()
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or("?");
    parse_step(value, &format!("{at} > ({name})"))
}

fn positive(value: &Value, at: &str) -> Result<usize, LayeringError> {
    match value.as_u64() {
        Some(n) if n > 0 => Ok(n as usize),
        _ => Err(err(
            at,
            format!("expected a positive integer, found {}", short(value)),
        )),
    }
}

fn paths(value: &Value, at: &str) -> Result<Vec<String>, LayeringError> {
    let bad = || {
        err(
            at,
            format!("expected a list of store paths, found {}", short(value)),
        )
    };
    let Value::Array(items) = value else {
        return Err(bad());
    };
    items
        .iter()
        .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
        .collect()
}

fn short(value: &Value) -> String {
    let s = value.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// A graph: its vertices (global ids, in order) and their edges (local indices).
#[derive(Debug, Clone, Default)]
struct Sub {
    verts: Vec<u32>,
    children: Vec<Vec<u32>>,
}

#[derive(Debug, Clone)]
enum Val {
    Graph(Sub),
    List(Vec<Val>),
    Map(Vec<(&'static str, Val)>),
}

impl Val {
    fn kind(&self) -> &'static str {
        match self {
            Val::Graph(_) => "a graph",
            Val::List(_) => "a list",
            Val::Map(_) => "a map (main/common/rest)",
        }
    }
}

/// The global context: every path after exclusion, in graph order.
struct Ctx<'a> {
    names: Vec<&'a str>,
    keys: Vec<String>,
    by_name: HashMap<&'a str, u32>,
}

/// Runs `steps` on `graph` minus `exclude`.
pub fn run(graph: &Graph, steps: &[Step], exclude: &[String]) -> Result<Layers, LayeringError> {
    let sizes = graph.sizes("pipeline")?;
    let excluded: std::collections::HashSet<&str> = exclude.iter().map(String::as_str).collect();
    let mut kept: Vec<usize> = (0..graph.len())
        .filter(|&i| !excluded.contains(graph.paths[i].as_str()))
        .collect();
    kept.sort_by_key(|&i| sizes[i]);
    let mut new_id = vec![u32::MAX; graph.len()];
    for (k, &i) in kept.iter().enumerate() {
        new_id[i] = k as u32;
    }
    let names: Vec<&str> = kept.iter().map(|&i| graph.paths[i].as_str()).collect();
    let ctx = Ctx {
        keys: names.iter().map(|p| package_name(p)).collect(),
        by_name: names
            .iter()
            .enumerate()
            .map(|(k, p)| (*p, k as u32))
            .collect(),
        names,
    };
    let start = Sub {
        verts: (0..kept.len() as u32).collect(),
        children: kept
            .iter()
            .map(|&i| {
                graph.refs[i]
                    .iter()
                    .map(|&r| new_id[r as usize])
                    .filter(|&r| r != u32::MAX)
                    .collect()
            })
            .collect(),
    };
    let mut value = Val::Graph(start);
    for step in steps {
        value = apply(&ctx, step, value)?;
    }
    let mut leaves = Vec::new();
    flatten_into(value, &mut leaves);
    Ok(leaves
        .into_iter()
        .filter(|g| !g.verts.is_empty())
        .map(|g| {
            g.verts
                .iter()
                .map(|&v| ctx.names[v as usize].to_string())
                .collect()
        })
        .collect())
}

fn flatten_into(value: Val, out: &mut Vec<Sub>) {
    match value {
        Val::Graph(g) => out.push(g),
        Val::List(xs) => xs.into_iter().for_each(|x| flatten_into(x, out)),
        Val::Map(kv) => kv.into_iter().for_each(|(_, x)| flatten_into(x, out)),
    }
}

fn apply(ctx: &Ctx, step: &Step, value: Val) -> Result<Val, LayeringError> {
    let wrong = |v: &Val, want: &str| err(&step.at, format!("expects {want}, got {}", v.kind()));
    match &step.op {
        Op::PopularityContest => {
            let Val::Graph(g) = value else {
                return Err(wrong(&value, "a graph"));
            };
            let keys: Vec<&str> = g
                .verts
                .iter()
                .map(|&v| ctx.keys[v as usize].as_str())
                .collect();
            Ok(Val::List(
                order(&g.children, &keys)
                    .into_iter()
                    .map(|i| {
                        Val::Graph(Sub {
                            verts: vec![g.verts[i as usize]],
                            children: vec![Vec::new()],
                        })
                    })
                    .collect(),
            ))
        }
        Op::LimitLayers(n) => {
            let Val::List(items) = value else {
                return Err(wrong(&value, "a list"));
            };
            let mut out = Vec::with_capacity(*n);
            let mut merged = Sub::default();
            for (i, item) in items.into_iter().enumerate() {
                if i < n - 1 {
                    out.push(item);
                    continue;
                }
                // python-igraph's `graph + x`: a graph is joined; a list whose first
                // item is a graph has all its graphs joined; an empty list adds nothing.
                let graphs = match item {
                    Val::Graph(g) => vec![g],
                    Val::List(inner) => {
                        let mut gs = Vec::with_capacity(inner.len());
                        for v in inner {
                            match v {
                                Val::Graph(g) => gs.push(g),
                                other => {
                                    return Err(err(
                                        &step.at,
                                        format!(
                                            "can only merge graphs or lists of graphs into the last layer, item {} holds {}",
                                            i + 1,
                                            other.kind()
                                        ),
                                    ));
                                }
                            }
                        }
                        gs
                    }
                    other => {
                        return Err(err(
                            &step.at,
                            format!(
                                "can only merge graphs or lists of graphs into the last layer, item {} is {}",
                                i + 1,
                                other.kind()
                            ),
                        ));
                    }
                };
                for g in graphs {
                    let base = merged.verts.len() as u32;
                    merged.verts.extend(g.verts);
                    merged.children.extend(
                        g.children
                            .into_iter()
                            .map(|cs| cs.into_iter().map(|c| c + base).collect()),
                    );
                }
            }
            out.push(Val::Graph(merged));
            Ok(Val::List(out))
        }
        Op::Reverse => match value {
            Val::List(mut items) => {
                items.reverse();
                Ok(Val::List(items))
            }
            v => Err(wrong(&v, "a list")),
        },
        Op::Flatten => match value {
            Val::Graph(_) => Err(wrong(&value, "a list or a map")),
            v => {
                let mut leaves = Vec::new();
                flatten_into(v, &mut leaves);
                Ok(Val::List(leaves.into_iter().map(Val::Graph).collect()))
            }
        },
        Op::SplitEvery(n) => {
            let Val::Graph(g) = value else {
                return Err(wrong(&value, "a graph"));
            };
            let len = g.verts.len();
            Ok(Val::List(
                (0..len)
                    .step_by(*n)
                    .map(|s| Val::Graph(induced_range(&g, s, (s + n).min(len))))
                    .collect(),
            ))
        }
        Op::RemovePaths(ps) => {
            let Val::Graph(g) = value else {
                return Err(wrong(&value, "a graph"));
            };
            let local = locals(ctx, &g);
            let mut keep = vec![true; g.verts.len()];
            for i in find(ctx, &local, ps) {
                keep[i] = false;
            }
            Ok(Val::Graph(induced(&g, &keep)))
        }
        Op::Subcomponent { out, paths } => {
            let Val::Graph(g) = value else {
                return Err(wrong(&value, "a graph"));
            };
            let local = locals(ctx, &g);
            let start = find(ctx, &local, paths);
            let adj = if *out {
                g.children.clone()
            } else {
                parents(&g)
            };
            let main = reach(&adj, &start);
            let rest: Vec<bool> = main.iter().map(|m| !m).collect();
            Ok(Val::Map(vec![
                ("main", Val::Graph(induced(&g, &main))),
                ("rest", Val::Graph(induced(&g, &rest))),
            ]))
        }
        Op::SplitPaths(specs) => {
            let Val::Graph(g) = value else {
                return Err(wrong(&value, "a graph"));
            };
            Ok(split_paths(ctx, g, specs))
        }
        Op::Over(key, inner) => {
            let Val::Map(mut kv) = value else {
                return Err(wrong(&value, "a map (main/common/rest)"));
            };
            let Some(slot) = kv.iter().position(|(k, _)| k == key) else {
                let have: Vec<&str> = kv.iter().map(|(k, _)| *k).collect();
                return Err(err(
                    &step.at,
                    format!(
                        "key `{key}` is not in the result (it has: {})",
                        if have.is_empty() {
                            "nothing".to_string()
                        } else {
                            have.join(", ")
                        }
                    ),
                ));
            };
            let (k, v) = kv.remove(slot);
            let v = apply(ctx, inner, v)?;
            kv.insert(slot, (k, v));
            Ok(Val::Map(kv))
        }
        Op::Map(inner) => {
            let Val::List(items) = value else {
                return Err(wrong(&value, "a list"));
            };
            Ok(Val::List(
                items
                    .into_iter()
                    .map(|x| apply(ctx, inner, x))
                    .collect::<Result<_, _>>()?,
            ))
        }
        Op::Pipe(steps) => {
            let mut v = value;
            for s in steps {
                v = apply(ctx, s, v)?;
            }
            Ok(v)
        }
    }
}

/// `split_paths`: main = the split paths and what only they reach, common = what they
/// share with the rest, rest = everything else; references into split paths are cut in
/// all three (as nixpkgs deletes those edges before taking the subgraphs).
fn split_paths(ctx: &Ctx, g: Sub, specs: &[Spec]) -> Val {
    let local = locals(ctx, &g);
    let mut split: Vec<usize> = Vec::new();
    for spec in specs {
        match spec {
            Spec::Path(p) => split.extend(find(ctx, &local, std::slice::from_ref(p))),
            Spec::ChildrenOf(ps) => {
                for v in find(ctx, &local, ps) {
                    split.extend(g.children[v].iter().map(|&c| c as usize));
                }
            }
        }
    }
    if split.is_empty() {
        return Val::Map(vec![("rest", Val::Graph(g))]);
    }
    let n = g.verts.len();
    let mut is_split = vec![false; n];
    for &s in &split {
        is_split[s] = true;
    }
    let mut has_parent = vec![false; n];
    for cs in &g.children {
        for &c in cs {
            has_parent[c as usize] = true;
        }
    }
    let roots: Vec<usize> = (0..n).filter(|&i| !has_parent[i]).collect();
    if let [root] = roots.as_slice()
        && is_split[*root]
    {
        return Val::Map(vec![("main", Val::Graph(g))]);
    }
    let x = reach(&g.children, &split);
    // Cut every reference into a split path.
    let cut = Sub {
        verts: g.verts.clone(),
        children: g
            .children
            .iter()
            .map(|cs| {
                cs.iter()
                    .copied()
                    .filter(|&c| !is_split[c as usize])
                    .collect()
            })
            .collect(),
    };
    let from_roots: Vec<usize> = roots.into_iter().filter(|&r| !is_split[r]).collect();
    let r = reach(&cut.children, &from_roots);
    let common: Vec<bool> = (0..n).map(|i| x[i] && r[i]).collect();
    let main: Vec<bool> = (0..n).map(|i| x[i] && !common[i]).collect();
    let rest: Vec<bool> = (0..n).map(|i| r[i] && !common[i]).collect();
    let mut out = Vec::new();
    for (k, keep) in [("main", main), ("common", common), ("rest", rest)] {
        let sub = induced(&cut, &keep);
        if !sub.verts.is_empty() {
            out.push((k, Val::Graph(sub)));
        }
    }
    Val::Map(out)
}

/// Global id → local index in `g` (`u32::MAX` when absent).
fn locals(ctx: &Ctx, g: &Sub) -> Vec<u32> {
    let mut local = vec![u32::MAX; ctx.names.len()];
    for (i, &v) in g.verts.iter().enumerate() {
        local[v as usize] = i as u32;
    }
    local
}

/// Local indices of the named paths present in the graph (unknown names ignored).
fn find(ctx: &Ctx, local: &[u32], paths: &[String]) -> Vec<usize> {
    paths
        .iter()
        .filter_map(|p| ctx.by_name.get(p.as_str()))
        .map(|&gid| local[gid as usize])
        .filter(|&l| l != u32::MAX)
        .map(|l| l as usize)
        .collect()
}

fn parents(g: &Sub) -> Vec<Vec<u32>> {
    let mut ps = vec![Vec::new(); g.verts.len()];
    for (u, cs) in g.children.iter().enumerate() {
        for &c in cs {
            ps[c as usize].push(u as u32);
        }
    }
    ps
}

/// Everything reachable from `start` (included) along `adj`.
fn reach(adj: &[Vec<u32>], start: &[usize]) -> Vec<bool> {
    let mut seen = vec![false; adj.len()];
    let mut stack: Vec<usize> = Vec::new();
    for &s in start {
        if !seen[s] {
            seen[s] = true;
            stack.push(s);
        }
    }
    while let Some(u) = stack.pop() {
        for &c in &adj[u] {
            if !seen[c as usize] {
                seen[c as usize] = true;
                stack.push(c as usize);
            }
        }
    }
    seen
}

/// The subgraph on the consecutive vertices `start..end`.
fn induced_range(g: &Sub, start: usize, end: usize) -> Sub {
    Sub {
        verts: g.verts[start..end].to_vec(),
        children: g.children[start..end]
            .iter()
            .map(|cs| {
                cs.iter()
                    .map(|&c| c as usize)
                    .filter(|&c| c >= start && c < end)
                    .map(|c| (c - start) as u32)
                    .collect()
            })
            .collect(),
    }
}

/// The subgraph on the kept vertices, in their order, with the edges between them.
fn induced(g: &Sub, keep: &[bool]) -> Sub {
    let mut new_idx = vec![u32::MAX; g.verts.len()];
    let mut verts = Vec::new();
    for (i, &v) in g.verts.iter().enumerate() {
        if keep[i] {
            new_idx[i] = verts.len() as u32;
            verts.push(v);
        }
    }
    let children = (0..g.verts.len())
        .filter(|&i| keep[i])
        .map(|i| {
            g.children[i]
                .iter()
                .map(|&c| new_idx[c as usize])
                .filter(|&c| c != u32::MAX)
                .collect()
        })
        .collect();
    Sub { verts, children }
}
