"""Oracle for history comments: CPython's repr() of the list of strings in argv[1] (JSON)."""
import json
import sys

sys.stdout.write(repr(json.load(open(sys.argv[1], encoding="utf-8"))))
