//! The reference graph of a closure, as Nix hands it to a builder, read and validated.
//!
//! Two input shapes, told apart by content (the first non-blank byte):
//!
//! - **JSON** (`{` or `[`): the structured-attrs form, `exportReferencesGraph.graph = roots`
//!   with `__structuredAttrs = true`. Either a bare list of nodes, or an object holding the
//!   list under `graph` (when there is no `graph` key, the one key whose value is a list of
//!   objects with a `path`). A node is `{path, references, narSize?, closureSize?, narHash?}`;
//!   only `path`, `references` and `narSize` are read.
//! - **Text** (anything else): the plain `exportReferencesGraph` file. Per path: the path,
//!   the deriver (may be an empty line), the number of references, then one reference per
//!   line. It carries no `narSize`, so only the popularity algorithm can use it; `auto` and
//!   `pipeline` refuse it with an error saying so (they order by size, and inventing sizes
//!   would silently give other layers than nixpkgs).
//!
//! Defined behaviour for odd graphs (nixpkgs' tools crash or loop on most of these):
//!
//! - self-references are dropped (every tool ignores them);
//! - repeated references inside one node count once;
//! - a path listed twice with the same references (and size) is read once, at its first
//!   position; listed twice with different ones is an error;
//! - a reference to a path with no node is an error (nixpkgs: `KeyError`);
//! - a reference cycle is an error (nixpkgs: endless recursion; Nix cannot produce one).
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::LayeringError;

/// A validated, acyclic reference graph. Node `i` is the `i`-th distinct path of the input.
#[derive(Debug, Clone)]
pub struct Graph {
    /// The store paths, in input order.
    pub paths: Vec<String>,
    /// `narSize` per path; `None` when the input format has none (text).
    pub nar_size: Option<Vec<u64>>,
    /// References per path (node indices), self-references and repeats removed.
    pub refs: Vec<Vec<u32>>,
    /// Path → node index.
    pub index: HashMap<String, u32>,
    /// The file it was read from (for messages).
    pub file: PathBuf,
}

struct RawNode {
    path: String,
    nar_size: Option<u64>,
    refs: Vec<String>,
}

impl Graph {
    /// Reads a graph file in either format (see the module docs).
    pub fn read(file: &Path) -> crate::Result<Graph> {
        let bytes = std::fs::read(file).map_err(|e| crate::Error::io(file, e))?;
        Ok(Graph::parse(&bytes, file)?)
    }

    /// Parses graph bytes; `file` only names the input in messages.
    pub fn parse(bytes: &[u8], file: &Path) -> Result<Graph, LayeringError> {
        let fmt = |msg: String| LayeringError::Format {
            file: file.to_path_buf(),
            msg,
        };
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        let (nodes, has_size) = match first {
            Some(b'{') | Some(b'[') => match fast_json_nodes(bytes) {
                Some(nodes) => (nodes, true),
                None => {
                    // Slow path: the generic reader, which finds other keys and names the
                    // culprit of any error.
                    let value: Value = serde_json::from_slice(bytes)
                        .map_err(|e| fmt(format!("not valid JSON: {e}")))?;
                    (json_nodes(&value).map_err(fmt)?, true)
                }
            },
            _ => {
                let text =
                    std::str::from_utf8(bytes).map_err(|e| fmt(format!("not UTF-8 text: {e}")))?;
                (text_nodes(text).map_err(fmt)?, false)
            }
        };
        Graph::build(nodes, has_size, file)
    }

    fn build(nodes: Vec<RawNode>, has_size: bool, file: &Path) -> Result<Graph, LayeringError> {
        let mut index: HashMap<String, u32> = HashMap::with_capacity(nodes.len());
        let mut kept: Vec<RawNode> = Vec::with_capacity(nodes.len());
        for node in nodes {
            if let Some(&i) = index.get(&node.path) {
                let old = &kept[i as usize];
                let mut a = old.refs.clone();
                let mut b = node.refs.clone();
                a.sort();
                a.dedup();
                b.sort();
                b.dedup();
                let what = if a != b {
                    "references"
                } else if old.nar_size != node.nar_size {
                    "narSize"
                } else {
                    continue;
                };
                return Err(LayeringError::Duplicate {
                    file: file.to_path_buf(),
                    path: node.path,
                    what,
                });
            }
            index.insert(node.path.clone(), kept.len() as u32);
            kept.push(node);
        }
        let mut refs = Vec::with_capacity(kept.len());
        for (i, node) in kept.iter().enumerate() {
            let mut out: Vec<u32> = Vec::with_capacity(node.refs.len());
            for r in &node.refs {
                let Some(&j) = index.get(r) else {
                    return Err(LayeringError::Dangling {
                        file: file.to_path_buf(),
                        from: node.path.clone(),
                        to: r.clone(),
                    });
                };
                if j as usize != i && !out.contains(&j) {
                    out.push(j);
                }
            }
            refs.push(out);
        }
        let nar_size = if has_size {
            Some(kept.iter().map(|n| n.nar_size.unwrap_or(0)).collect())
        } else {
            None
        };
        let missing_size = kept.iter().find(|n| n.nar_size.is_none());
        let graph = Graph {
            paths: kept.iter().map(|n| n.path.clone()).collect(),
            nar_size: if missing_size.is_some() {
                None
            } else {
                nar_size
            },
            refs,
            index,
            file: file.to_path_buf(),
        };
        if let Some(p) = graph.find_cycle() {
            return Err(LayeringError::Cycle {
                file: file.to_path_buf(),
                path: graph.paths[p].clone(),
            });
        }
        Ok(graph)
    }

    /// Number of paths.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// True when the graph has no paths.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The sizes, or the error saying `algorithm` needs them.
    pub fn sizes(&self, algorithm: &'static str) -> Result<&[u64], LayeringError> {
        match &self.nar_size {
            Some(s) => Ok(s),
            None => Err(LayeringError::NoNarSize {
                file: self.file.clone(),
                algorithm,
                detail:
                    "this graph has none (the exportReferencesGraph text format carries no sizes, \
                         or a JSON node lacks narSize)"
                        .into(),
            }),
        }
    }

    /// A node on a reference cycle, if there is one (Kahn's algorithm leaves it unvisited).
    fn find_cycle(&self) -> Option<usize> {
        let n = self.len();
        let mut indeg = vec![0u32; n];
        for rs in &self.refs {
            for &r in rs {
                indeg[r as usize] += 1;
            }
        }
        let mut stack: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
        let mut seen = 0;
        while let Some(u) = stack.pop() {
            seen += 1;
            for &r in &self.refs[u] {
                indeg[r as usize] -= 1;
                if indeg[r as usize] == 0 {
                    stack.push(r as usize);
                }
            }
        }
        if seen == n {
            None
        } else {
            (0..n).find(|&i| indeg[i] > 0)
        }
    }
}

#[derive(serde::Deserialize)]
struct FastNode {
    path: String,
    #[serde(rename = "narSize", default)]
    nar_size: Option<u64>,
    references: Vec<String>,
}

#[derive(serde::Deserialize)]
struct FastTop {
    graph: Option<Vec<FastNode>>,
}

/// The common shapes (`{"graph": [...]}` or a bare list) read straight into nodes,
/// skipping the generic JSON tree; `None` for anything else, or any error.
fn fast_json_nodes(bytes: &[u8]) -> Option<Vec<RawNode>> {
    let list = match serde_json::from_slice::<Vec<FastNode>>(bytes) {
        Ok(list) => list,
        Err(_) => serde_json::from_slice::<FastTop>(bytes).ok()?.graph?,
    };
    Some(
        list.into_iter()
            .map(|n| RawNode {
                path: n.path,
                nar_size: n.nar_size,
                refs: n.references,
            })
            .collect(),
    )
}

/// The JSON node list: a bare list, or the `graph` key (or the one list-of-nodes key).
fn json_nodes(value: &Value) -> Result<Vec<RawNode>, String> {
    let (list, key) = match value {
        Value::Array(a) => (a, String::new()),
        Value::Object(o) => {
            if let Some(v) = o.get("graph") {
                match v {
                    Value::Array(a) => (a, "graph".to_string()),
                    _ => return Err("key `graph` is not a list of nodes".into()),
                }
            } else {
                let candidates: Vec<(&String, &Vec<Value>)> = o
                    .iter()
                    .filter_map(|(k, v)| match v {
                        Value::Array(a)
                            if !a.is_empty()
                                && a.iter()
                                    .all(|n| n.get("path").is_some_and(Value::is_string)) =>
                        {
                            Some((k, a))
                        }
                        _ => None,
                    })
                    .collect();
                match candidates.as_slice() {
                    [(k, a)] => (*a, (*k).clone()),
                    [] => {
                        return Err(
                            "no `graph` key and no key holding a list of {path, references} nodes"
                                .into(),
                        );
                    }
                    many => {
                        let names: Vec<&str> = many.iter().map(|(k, _)| k.as_str()).collect();
                        return Err(format!(
                            "no `graph` key, and several keys hold node lists ({}); cannot choose",
                            names.join(", ")
                        ));
                    }
                }
            }
        }
        _ => return Err("expected a JSON list of nodes or an object holding one".into()),
    };
    let prefix = key;
    list.iter()
        .enumerate()
        .map(|(i, node)| json_node(node).map_err(|m| format!("{prefix}[{i}]: {m}")))
        .collect()
}

fn json_node(node: &Value) -> Result<RawNode, String> {
    let Value::Object(o) = node else {
        return Err("expected an object {path, references, narSize}".into());
    };
    let path = match o.get("path") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err("key `path`: expected a string".into()),
        None => return Err("key `path` is missing".into()),
    };
    let refs = match o.get("references") {
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(j, r)| match r {
                Value::String(s) => Ok(s.clone()),
                _ => Err(format!("({path}) key `references[{j}]`: expected a string")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(format!("({path}) key `references`: expected a list")),
        None => return Err(format!("({path}) key `references` is missing")),
    };
    let nar_size = match o.get("narSize") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            format!("({path}) key `narSize`: expected a non-negative integer, found {v}")
        })?),
    };
    Ok(RawNode {
        path,
        nar_size,
        refs,
    })
}

/// The text format: path, deriver, count, references; repeated.
fn text_nodes(text: &str) -> Result<Vec<RawNode>, String> {
    let mut lines = text.lines().enumerate().peekable();
    let mut nodes = Vec::new();
    loop {
        // Blank lines between or after entries are tolerated.
        while lines.peek().is_some_and(|(_, l)| l.trim().is_empty()) {
            lines.next();
        }
        let Some((ln, path)) = lines.next() else {
            break;
        };
        let path = path.trim().to_string();
        let Some(_deriver) = lines.next() else {
            return Err(format!(
                "line {}: {path} has no deriver line (text format: path, deriver, count, references)",
                ln + 1
            ));
        };
        let Some((cl, count)) = lines.next() else {
            return Err(format!(
                "line {}: {path} has no reference count line",
                ln + 1
            ));
        };
        let count: usize = count.trim().parse().map_err(|_| {
            format!(
                "line {}: expected the reference count of {path}, found {:?}",
                cl + 1,
                count
            )
        })?;
        let mut refs = Vec::with_capacity(count);
        for k in 0..count {
            match lines.next() {
                Some((_, r)) if !r.trim().is_empty() => refs.push(r.trim().to_string()),
                _ => {
                    return Err(format!(
                        "line {}: {path} announces {count} references, found {k}",
                        cl + 1
                    ));
                }
            }
        }
        nodes.push(RawNode {
            path,
            nar_size: None,
            refs,
        });
    }
    Ok(nodes)
}
