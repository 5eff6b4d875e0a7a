"""Oracle for conf dates: for each string of the JSON list in argv[1], what CPython 3.11's
`datetime.fromisoformat` makes of it: [isoformat(), int(timestamp())], or null when it
refuses. A naive value's timestamp is taken as UTC, as strata reads it (a documented
difference: Python would use the machine's time zone).
"""
import json
import sys
from datetime import datetime, timezone

out = []
for s in json.load(open(sys.argv[1])):
    try:
        d = datetime.fromisoformat(s)
        aware = d if d.tzinfo is not None else d.replace(tzinfo=timezone.utc)
        out.append([d.isoformat(), int(aware.timestamp())])
    except (ValueError, OverflowError, OSError):
        out.append(None)
json.dump(out, sys.stdout)
