#!/usr/bin/env python3
"""Writes a Grype JSON report or a SARIF log of about SIZE_MB megabytes: the matches of the
corpus's Grype reports repeated with renumbered ids, or the results of the corpus's largest
SARIF run repeated (each still refers to a rule of the run), indented as the tools write them.

    gen_scan.py grype|sarif CORPUS_KIND_DIR OUT SIZE_MB
"""
import json
import os
import sys

kind, source, out, size_mb = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
documents = []
for name in sorted(os.listdir(source)):
    if name.endswith(".json") or name.endswith(".sarif"):
        with open(os.path.join(source, name), encoding="utf-8") as f:
            documents.append(json.load(f))
if kind == "grype":
    items = [m for d in documents for m in d.get("matches") or []]
    root = next(d for d in documents if d.get("matches"))
    root = {k: v for k, v in root.items() if k != "matches"}
    head = '{\n "matches": ['  # first, as Grype writes it
    tail = "\n ],\n" + json.dumps(root, indent=1)[2:] + "\n"

    def renumber(item, n):
        item["vulnerability"]["id"] = f"{item['vulnerability']['id']}-{n}"
else:
    runs = [r for d in documents for r in d.get("runs") or []
            if isinstance(r.get("results"), list) and r["results"]]
    run = max(runs, key=lambda r: len(json.dumps(r)))  # its results refer to its rules
    items = run["results"]
    root = {"version": "2.1.0", "runs": [{k: v for k, v in run.items() if k != "results"}]}
    text = json.dumps(root, indent=2)
    head = text[: text.rindex("}", 0, text.rindex("]")) ] + ',\n      "results": ['
    tail = "\n      ]\n    }\n  ]\n}\n"

    def renumber(item, n):
        pass  # the rule ids stay those of the run's rules

if not items:
    sys.exit(f"gen_scan.py: nothing to repeat in {source}")
target = int(size_mb * 1_000_000)
written = len(head) + len(tail)
round_no = 0
with open(out, "w", encoding="utf-8") as f:
    f.write(head)
    first = True
    while written < target:
        for item in items:
            copy = json.loads(json.dumps(item))
            renumber(copy, round_no)
            text = json.dumps(copy, indent=2).replace("\n", "\n    ")
            f.write(("\n    " if first else ",\n    ") + text)
            written += len(text) + 6
            first = False
            if written >= target:
                break
        round_no += 1
    f.write(tail)
