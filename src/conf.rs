//! The conf.json contract between the Nix side and `strata stream`: every shape nixpkgs'
//! `streamLayeredImage` has written, validated on read, with errors naming the key.
//!
//! Read: `architecture`, `config`, `store_dir`, `from_image`, `store_layers`,
//! `customisation_layer`, `repo_tag`, `created`, and — absent in older confs — `mtime`
//! (default: `created`), `uid`, `gid` (default 0; JSON numbers or strings), `uname`,
//! `gname` (default `root`). `os` is ignored (the image is always `linux`, as nixpkgs
//! writes it). Confs from before `fromImage`/`store_dir` existed default them to `null` /
//! `/nix/store`. Unknown keys are ignored, so later versions can add keys.
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::time::DateTime;

/// A validated conf.json.
#[derive(Debug, Clone)]
pub struct Conf {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// `architecture`, copied into the image config as given.
    pub architecture: Value,
    /// `config`, the image's runtime config, copied as given (key order kept).
    pub config: Value,
    /// `store_dir`: every store path must be inside it.
    pub store_dir: String,
    /// `from_image`: a base image archive, or none.
    pub from_image: Option<PathBuf>,
    /// `store_layers`: per layer, its store paths in order.
    pub store_layers: Vec<Vec<String>>,
    /// `customisation_layer`: a directory holding `layer.tar` and `checksum`.
    pub customisation_layer: String,
    /// `repo_tag` (None only when the command line overrides it and the conf lacks it).
    pub repo_tag: Option<String>,
    /// `created`, the image date.
    pub created: DateTime,
    /// `mtime` as whole POSIX seconds (truncated toward zero, as Python's `int()`).
    pub mtime: i64,
    /// Owner id of store files.
    pub uid: i128,
    /// Group id of store files.
    pub gid: i128,
    /// Owner name of store files.
    pub uname: String,
    /// Group name of store files.
    pub gname: String,
}

struct Reader<'a> {
    path: &'a Path,
    obj: &'a Map<String, Value>,
}

impl Reader<'_> {
    fn err(&self, key: &str, msg: impl Into<String>) -> Error {
        Error::ConfKey {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            msg: msg.into(),
        }
    }

    fn required(&self, key: &str) -> Result<&Value> {
        self.obj
            .get(key)
            .ok_or_else(|| self.err(key, "missing (required)"))
    }

    fn string(&self, key: &str, v: &Value) -> Result<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(self.err(key, format!("expected a string, found {}", kind(other)))),
        }
    }

    fn id(&self, key: &str) -> Result<i128> {
        let Some(v) = self.obj.get(key) else {
            return Ok(0);
        };
        // What Python's `int(conf[key])` accepts: integers, floats (truncated), booleans,
        // and decimal strings (whitespace around, `_` between digits).
        let parsed = match v {
            Value::Number(n) => {
                let text = n.to_string();
                text.parse::<i128>().ok().or_else(|| {
                    text.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite() && f.abs() < 1e38)
                        .map(|f| f.trunc() as i128)
                })
            }
            Value::Bool(b) => Some(i128::from(*b)),
            Value::String(s) => py_int(s),
            _ => None,
        };
        parsed.ok_or_else(|| {
            self.err(
                key,
                format!("expected an integer or a string of digits, found {v}"),
            )
        })
    }
}

/// Python's `int(str)` for base 10: optional sign, ASCII digits with single `_` between
/// them, surrounding whitespace ignored. (Python also reads non-ASCII decimal digits;
/// strata does not.)
pub fn py_int(s: &str) -> Option<i128> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let b = digits.as_bytes();
    if b.is_empty() || b[0] == b'_' || b[b.len() - 1] == b'_' || digits.contains("__") {
        return None;
    }
    let mut n: i128 = 0;
    for &c in b {
        match c {
            b'_' => {}
            b'0'..=b'9' => n = n.checked_mul(10)?.checked_add(i128::from(c - b'0'))?,
            _ => return None,
        }
    }
    Some(if neg { -n } else { n })
}

/// A JSON value's kind, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Conf {
    /// Reads and validates a conf file.
    pub fn load(path: &Path, repo_tag_override: Option<&str>) -> Result<Conf> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            source: e,
        })?;
        Conf::from_value(path, &value, repo_tag_override)
    }

    /// Validates an already parsed conf; `path` names it in messages.
    pub fn from_value(path: &Path, value: &Value, repo_tag_override: Option<&str>) -> Result<Conf> {
        let Value::Object(obj) = value else {
            return Err(Error::ConfKey {
                path: path.to_path_buf(),
                key: "(top level)".into(),
                msg: format!("expected an object, found {}", kind(value)),
            });
        };
        let r = Reader { path, obj };

        let architecture = r.required("architecture")?.clone();
        let config = r.required("config")?.clone();
        let store_dir = match obj.get("store_dir") {
            None => "/nix/store".to_string(),
            Some(v) => r.string("store_dir", v)?,
        };
        let from_image = match obj.get("from_image") {
            None | Some(Value::Null) => None,
            Some(v) => Some(PathBuf::from(r.string("from_image", v)?)),
        };
        let store_layers = match r.required("store_layers")? {
            Value::Array(layers) => {
                let mut out = Vec::with_capacity(layers.len());
                for (i, layer) in layers.iter().enumerate() {
                    let key = format!("store_layers[{i}]");
                    let Value::Array(paths) = layer else {
                        return Err(r.err(
                            &key,
                            format!("expected a list of store paths, found {}", kind(layer)),
                        ));
                    };
                    let mut ps = Vec::with_capacity(paths.len());
                    for (j, p) in paths.iter().enumerate() {
                        ps.push(r.string(&format!("{key}[{j}]"), p)?);
                    }
                    out.push(ps);
                }
                out
            }
            other => {
                return Err(r.err(
                    "store_layers",
                    format!(
                        "expected a list of lists of store paths, found {}",
                        kind(other)
                    ),
                ));
            }
        };
        let customisation_layer =
            r.string("customisation_layer", r.required("customisation_layer")?)?;
        let repo_tag = match (repo_tag_override, obj.get("repo_tag")) {
            (Some(t), _) if !t.is_empty() => Some(t.to_string()),
            (_, Some(v)) => Some(r.string("repo_tag", v)?),
            (_, None) => {
                return Err(r.err("repo_tag", "missing (required unless --repo-tag is given)"));
            }
        };
        let now = DateTime::now();
        let created_text = r.string("created", r.required("created")?)?;
        let created =
            DateTime::parse_or_now(&created_text, &now).map_err(|msg| r.err("created", msg))?;
        let mtime = match obj.get("mtime") {
            None => created.timestamp_secs(),
            Some(v) => {
                let text = r.string("mtime", v)?;
                DateTime::parse_or_now(&text, &now)
                    .map_err(|msg| r.err("mtime", msg))?
                    .timestamp_secs()
            }
        };
        let uid = r.id("uid")?;
        let gid = r.id("gid")?;
        let uname = match obj.get("uname") {
            None => "root".into(),
            Some(v) => r.string("uname", v)?,
        };
        let gname = match obj.get("gname") {
            None => "root".into(),
            Some(v) => r.string("gname", v)?,
        };
        Ok(Conf {
            path: path.to_path_buf(),
            architecture,
            config,
            store_dir,
            from_image,
            store_layers,
            customisation_layer,
            repo_tag,
            created,
            mtime,
            uid,
            gid,
            uname,
            gname,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::py_int;

    #[test]
    fn py_int_accepts_what_python_int_does() {
        // CPython 3.11: int("…")
        assert_eq!(py_int(" 42 "), Some(42));
        assert_eq!(py_int("-1_000"), Some(-1000));
        assert_eq!(py_int("+7"), Some(7));
        for bad in ["", "_1", "1_", "1__0", "0x10", "1.0", "- 1", "one"] {
            assert_eq!(py_int(bad), None, "{bad:?}");
        }
    }
}
