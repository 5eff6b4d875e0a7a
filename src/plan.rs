//! The plan: from a [`Conf`], every layer of the image — its source, outer member header,
//! size and diff_id — plus the config and manifest bytes, all known before any sink
//! writes a byte. Store layers are hashed here, in parallel across cores.
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Map, Value};

use crate::base::{self, BaseImage, MemberHeader};
use crate::conf::Conf;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::pyjson;
use crate::store_layer::{self, LayerSummary, Owner};
use crate::tar::{self, Num};
use crate::userdb;

/// Where a layer's bytes come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A base image layer, copied verbatim (index into [`BaseImage::layers`]).
    Base(usize),
    /// Store paths, tarred as nixpkgs does; `expect` is what the hashing run saw.
    Store {
        /// Normalised store paths, in order.
        paths: Vec<PathBuf>,
        /// Size and header fingerprint from the hashing run.
        expect: LayerSummary,
    },
    /// The customisation layer's `layer.tar`, verified against its checksum file.
    Customisation {
        /// The `layer.tar`.
        layer_tar: PathBuf,
        /// The `checksum` file its digest came from.
        checksum_file: PathBuf,
    },
}

/// One layer of the image.
#[derive(Debug, Clone)]
pub struct PlannedLayer {
    /// The outer archive member's header (its name is the member name).
    pub header: MemberHeader,
    /// The diff_id (sha256 of the uncompressed layer) as hex, or as the base gives it.
    pub diff_id: String,
    /// Where its bytes come from.
    pub source: Source,
}

/// Everything a sink needs.
#[derive(Debug)]
pub struct Plan {
    /// Layers, bottom first.
    pub layers: Vec<PlannedLayer>,
    /// The base image, when there is one.
    pub base: Option<BaseImage>,
    /// Owner and mtime of store files.
    pub owner: Owner,
    /// The conf's mtime (outer members' mtime).
    pub mtime: i64,
    /// The image config's bytes (`json.dumps(…, indent=4)`); its sha256 is the image ID.
    pub config: Vec<u8>,
    /// The docker-archive `manifest.json` bytes.
    pub manifest: Vec<u8>,
}

impl Plan {
    /// The image ID: sha256 of the config bytes.
    pub fn image_id(&self) -> Digest {
        Digest::of(&self.config)
    }

    /// Builds the plan, hashing store layers on up to `jobs` threads.
    pub fn build(conf: &Conf, repo_tag: &str, jobs: usize) -> Result<Plan> {
        let base = conf.from_image.as_deref().map(base::load).transpose()?;
        let owner = Owner {
            uid: conf.uid,
            gid: conf.gid,
            uname: conf.uname.clone().into_bytes(),
            gname: conf.gname.clone().into_bytes(),
            mtime: conf.mtime,
        };
        let store_paths: Vec<Vec<PathBuf>> = conf
            .store_layers
            .iter()
            .map(|layer| {
                layer
                    .iter()
                    .map(|p| store_layer::check_store_path(p, &conf.store_dir))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        let custom = customisation(conf)?;
        let hashed = hash_all(&store_paths, &owner, jobs)?;

        let mut layers = Vec::new();
        let mut history: Vec<Vec<String>> = Vec::new();
        if let Some(b) = &base {
            for (i, l) in b.layers.iter().enumerate() {
                history.push(vec![String::from_utf8_lossy(&l.header.name).into_owned()]);
                layers.push(PlannedLayer {
                    header: l.header.clone(),
                    diff_id: l.diff_id.clone(),
                    source: Source::Base(i),
                });
            }
        }
        for ((paths, conf_paths), (digest, summary)) in
            store_paths.into_iter().zip(&conf.store_layers).zip(hashed)
        {
            history.push(conf_paths.clone());
            layers.push(PlannedLayer {
                header: plain_member(
                    format!("{digest}/layer.tar").into_bytes(),
                    summary.size,
                    conf.mtime,
                ),
                diff_id: digest.hex(),
                source: Source::Store {
                    paths,
                    expect: summary,
                },
            });
        }
        history.push(vec![conf.customisation_layer.clone()]);
        layers.push(custom);

        let config = image_config(conf, base.as_ref(), &layers, &history)?;
        let config_name = format!("{}.json", Digest::of(config.as_bytes()));
        let manifest = Value::Array(vec![Value::Object(Map::from_iter([
            ("Config".to_string(), Value::String(config_name)),
            (
                "RepoTags".to_string(),
                Value::Array(vec![Value::String(repo_tag.to_string())]),
            ),
            (
                "Layers".to_string(),
                Value::Array(
                    layers
                        .iter()
                        .map(|l| {
                            Value::String(String::from_utf8_lossy(&l.header.name).into_owned())
                        })
                        .collect(),
                ),
            ),
        ]))]);
        Ok(Plan {
            layers,
            base,
            owner,
            mtime: conf.mtime,
            config: config.into_bytes(),
            manifest: pyjson::dumps_indent4(&manifest).into_bytes(),
        })
    }

    /// The outer member header of the config (`<image id>.json`).
    pub fn config_member(&self) -> MemberHeader {
        plain_member(
            format!("{}.json", self.image_id()).into_bytes(),
            self.config.len() as u64,
            self.mtime,
        )
    }

    /// The outer member header of `manifest.json`.
    pub fn manifest_member(&self) -> MemberHeader {
        plain_member(
            b"manifest.json".to_vec(),
            self.manifest.len() as u64,
            self.mtime,
        )
    }
}

/// A member as `tarfile.TarInfo(name)` makes it: mode 0644, owner 0/0 without names.
fn plain_member(name: Vec<u8>, size: u64, mtime: i64) -> MemberHeader {
    MemberHeader {
        name,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size,
        mtime: Num::Int(mtime as i128),
        typeflag: tar::REGTYPE,
        linkname: Vec::new(),
        uname: Vec::new(),
        gname: Vec::new(),
        devmajor: 0,
        devminor: 0,
        pax: Vec::new(),
    }
}

/// The customisation layer: digest from its `checksum` file, header from lstat of its
/// `layer.tar` (owner names from the user and group databases, as `gettarinfo` does).
fn customisation(conf: &Conf) -> Result<PlannedLayer> {
    let dir = Path::new(&conf.customisation_layer);
    let checksum_file = dir.join("checksum");
    let layer_tar = dir.join("layer.tar");
    let text = fs::read_to_string(&checksum_file).map_err(|e| Error::io(&checksum_file, e))?;
    let trimmed = text.trim();
    let valid = trimmed.len() == 64
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !valid {
        return Err(Error::BadChecksumFile {
            path: checksum_file,
            found: trimmed.chars().take(80).collect(),
        });
    }
    let meta = fs::symlink_metadata(&layer_tar).map_err(|e| Error::io(&layer_tar, e))?;
    if !meta.is_file() {
        return Err(Error::Unsupported {
            path: layer_tar,
            kind: "non-regular file as the customisation layer.tar",
        });
    }
    let header = MemberHeader {
        name: format!("{trimmed}/layer.tar").into_bytes(),
        mode: meta.mode() & 0o7777,
        uid: meta.uid() as i128,
        gid: meta.gid() as i128,
        size: meta.len(),
        mtime: Num::Int(conf.mtime as i128),
        typeflag: tar::REGTYPE,
        linkname: Vec::new(),
        uname: userdb::user_name(meta.uid())
            .unwrap_or_default()
            .into_bytes(),
        gname: userdb::group_name(meta.gid())
            .unwrap_or_default()
            .into_bytes(),
        devmajor: 0,
        devminor: 0,
        pax: Vec::new(),
    };
    Ok(PlannedLayer {
        header,
        diff_id: trimmed.to_string(),
        source: Source::Customisation {
            layer_tar,
            checksum_file,
        },
    })
}

/// Hashes every store layer on up to `jobs` threads, lowest layer first. On failure, the
/// error of the lowest-numbered failing layer is returned (whatever the thread count).
fn hash_all(
    layers: &[Vec<PathBuf>],
    owner: &Owner,
    jobs: usize,
) -> Result<Vec<(Digest, LayerSummary)>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    type Slot = Mutex<Option<Result<(Digest, LayerSummary)>>>;
    let results: Vec<Slot> = layers.iter().map(|_| Mutex::new(None)).collect();
    let workers = jobs.clamp(1, layers.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= layers.len() || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = store_layer::hash_layer(&layers[i], owner);
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let mut out = Vec::with_capacity(layers.len());
    let mut first_err = None;
    for (i, slot) in results.into_iter().enumerate() {
        match slot.into_inner().ok().flatten() {
            Some(Ok(v)) => out.push(v),
            Some(Err(e)) => {
                first_err = Some(e);
                break;
            }
            None if failed.load(Ordering::Relaxed) => continue,
            None => {
                return Err(Error::Usage(format!(
                    "internal: store layer {i} was not hashed"
                )));
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None if out.len() == layers.len() => Ok(out),
        None => Err(Error::Usage("internal: a hashing thread failed".into())),
    }
}

/// The image config, as nixpkgs' script builds and prints it.
fn image_config(
    conf: &Conf,
    base: Option<&BaseImage>,
    layers: &[PlannedLayer],
    history: &[Vec<String>],
) -> Result<String> {
    let created = Value::String(conf.created.isoformat());
    let mut config = conf.config.clone();
    if let Some(b) = base {
        merge_env(conf, b, &mut config)?;
    }
    let obj = Map::from_iter([
        ("created".to_string(), created.clone()),
        ("architecture".to_string(), conf.architecture.clone()),
        ("os".to_string(), Value::String("linux".into())),
        ("config".to_string(), config),
        (
            "rootfs".to_string(),
            Value::Object(Map::from_iter([
                (
                    "diff_ids".to_string(),
                    Value::Array(
                        layers
                            .iter()
                            .map(|l| Value::String(format!("sha256:{}", l.diff_id)))
                            .collect(),
                    ),
                ),
                ("type".to_string(), Value::String("layers".into())),
            ])),
        ),
        (
            "history".to_string(),
            Value::Array(
                history
                    .iter()
                    .map(|paths| {
                        Value::Object(Map::from_iter([
                            ("created".to_string(), created.clone()),
                            (
                                "comment".to_string(),
                                Value::String(format!(
                                    "store paths: {}",
                                    pyjson::repr_str_list(paths)
                                )),
                            ),
                        ]))
                    })
                    .collect(),
            ),
        ),
    ]);
    Ok(pyjson::dumps_indent4(&Value::Object(obj)))
}

/// Env from the base config first, then the conf's; a key keeps its first position and
/// takes its last value. Every other base config field is dropped (as nixpkgs does).
fn merge_env(conf: &Conf, base: &BaseImage, config: &mut Value) -> Result<()> {
    let key_err = |msg: String| Error::ConfKey {
        path: conf.path.clone(),
        key: "config.Env".into(),
        msg,
    };
    let base_env = match base.config.get("config").and_then(|c| c.get("Env")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => {
            return Err(Error::Base {
                archive: base.archive.clone(),
                msg: format!("config.Env is {}, not a list", crate::conf::kind(other)),
            });
        }
    };
    let Value::Object(cfg) = config else {
        return Err(Error::ConfKey {
            path: conf.path.clone(),
            key: "config".into(),
            msg: "expected an object (to merge the base image's Env into)".into(),
        });
    };
    let own_env = match cfg.get("Env") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => {
            return Err(key_err(format!(
                "expected a list of strings, found {}",
                crate::conf::kind(other)
            )));
        }
    };
    let mut merged: Vec<(String, String)> = Vec::new();
    for entry in base_env.iter().chain(own_env.iter()) {
        let Value::String(s) = entry else {
            return Err(key_err(format!(
                "expected strings, found {}",
                crate::conf::kind(entry)
            )));
        };
        let key = s.split_once('=').map_or(s.as_str(), |(k, _)| k);
        match merged.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = s.clone(),
            None => merged.push((key.to_string(), s.clone())),
        }
    }
    if !merged.is_empty() {
        cfg.insert(
            "Env".into(),
            Value::Array(merged.into_iter().map(|(_, v)| Value::String(v)).collect()),
        );
    }
    Ok(())
}
