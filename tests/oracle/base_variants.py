"""Writes variants of a docker-archive base image, as other tools write them, with
CPython's tarfile: tests/it/oracle.rs streams each through strata and compares the
re-written base layers with base_prefix.py's.

Usage: base_variants.py SOURCE.tar OUTDIR
"""
import io
import json
import sys
import tarfile

src = tarfile.open(sys.argv[1])
outdir = sys.argv[2]
members = {m.name: src.extractfile(m).read() for m in src.getmembers()}
manifest = json.loads(members["manifest.json"])
layers = manifest[0]["Layers"]
config_name = manifest[0]["Config"]


def reg(name, data, **kw):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti, io.BytesIO(data)


def write(name, entries, **open_kw):
    with tarfile.open(f"{outdir}/{name}", "w", **open_kw) as t:
        for ti, f in entries:
            t.addfile(ti, f)


def plain_entries(**kw):
    out = [reg(n, members[n], **kw) for n in layers]
    out.append(reg(config_name, members[config_name]))
    out.append(reg("manifest.json", members["manifest.json"]))
    return out


# A global PAX header (as `git archive` writes one) before every member.
write("global-pax.tar", plain_entries(), format=tarfile.PAX_FORMAT, pax_headers={"comment": "made by a tool"})

# Sub-second mtimes, owner names and extra records, carried in per-member PAX headers.
entries = []
for n in layers:
    ti, f = reg(n, members[n], mtime=1700000000.25, uname="builder", gname="staff", uid=1000, gid=100)
    ti.pax_headers = {"atime": "1700000001.5", "SCHILY.xattr.user.x": "y"}
    entries.append((ti, f))
entries.append(reg(config_name, members[config_name]))
entries.append(reg("manifest.json", members["manifest.json"]))
write("pax-float.tar", entries, format=tarfile.PAX_FORMAT)

# GNU format: long names through `L` records (layers renamed under a long directory).
long_dir = "d" * 120
renamed = [f"{long_dir}/{n}" for n in layers]
m2 = json.loads(members["manifest.json"])
m2[0]["Layers"] = renamed
entries = [reg(r, members[n]) for r, n in zip(renamed, layers)]
entries.append(reg(config_name, members[config_name]))
entries.append(reg("manifest.json", json.dumps(m2).encode()))
write("gnu-long.tar", entries, format=tarfile.GNU_FORMAT)

# Docker before 25: a repeated layer saved as a symlink to the first copy, and the
# manifest stored twice, the second time as a hard link (GNU tar does this).
m3 = json.loads(members["manifest.json"])
m3[0]["Layers"] = layers + ["dup/layer.tar"]
cfg = json.loads(members[config_name])
cfg["rootfs"]["diff_ids"].append(cfg["rootfs"]["diff_ids"][0])
cfg_bytes = json.dumps(cfg).encode()
entries = [reg(n, members[n]) for n in layers]
link = tarfile.TarInfo("dup/layer.tar")
link.type = tarfile.SYMTYPE
link.linkname = "../" + layers[0]
entries.append((link, None))
entries.append(reg(config_name, cfg_bytes))
m3_bytes = json.dumps(m3).encode()
entries.append(reg("manifest.json", m3_bytes))
hard = tarfile.TarInfo("manifest.json")
hard.type = tarfile.LNKTYPE
hard.linkname = "manifest.json"
entries.append((hard, None))
write("links.tar", entries, format=tarfile.GNU_FORMAT)
