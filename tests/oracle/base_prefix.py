"""The bytes nixpkgs' streamer writes first when given BASE as fromImage: each layer of
the base's manifest, its member header re-written by CPython's tarfile (PAX format) and
its data, in manifest order (what `add_base_layers` does), without the archive's end.

Usage: base_prefix.py BASE.tar > prefix
"""
import io
import json
import sys
import tarfile

base = tarfile.open(sys.argv[1])
manifest = json.load(base.extractfile(base.getmember("manifest.json")))
out = io.BytesIO()
t = tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT)
for layer in manifest[0]["Layers"]:
    ti = base.getmember(layer)
    t.addfile(ti, base.extractfile(ti))
sys.stdout.buffer.write(out.getvalue())
