"""Oracle for one store layer: the tar CPython's tarfile writes for a list of store paths,
following the contract in tests/golden/stream/README.md (ustar + PAX when needed, /nix and
/nix/store first, each path then everything below it sorted by components, symlinks not
followed, hard links written as regular files, owner and mtime from the arguments).

Usage: store_layer.py ARGS.json > layer.tar, ARGS = {paths, mtime, uid, gid, uname, gname}.
Used by tests/it/oracle.rs to compare strata's layers with CPython's on inputs the golden
cases do not cover (undecodable names, devices, huge ids, pre-1970 mtimes...).
"""
import json
import pathlib
import sys
import tarfile
from datetime import datetime

args = json.load(open(sys.argv[1]))
mtime = int(datetime.fromisoformat(args["mtime"]).timestamp())


def own(ti):
    ti.mtime = mtime
    ti.uid = int(args["uid"])
    ti.gid = int(args["gid"])
    ti.uname = args["uname"]
    ti.gname = args["gname"]
    return ti


with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
    for d in ("/nix", "/nix/store"):
        ti = tarfile.TarInfo(d)
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        tar.addfile(own(ti))
    for p in args["paths"]:
        p = pathlib.Path(p)
        entries = [p] if p.is_symlink() else [p, *p.rglob("*")]
        for f in sorted(entries):
            ti = tar.gettarinfo(f)
            ti.name = "/" + ti.name
            if ti.islnk():
                ti.type = tarfile.REGTYPE
                ti.linkname = ""
                ti.size = f.stat().st_size
            own(ti)
            if ti.isfile():
                with open(f, "rb") as fh:
                    tar.addfile(ti, fh)
            else:
                tar.addfile(ti)
