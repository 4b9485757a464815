#!/usr/bin/env python3
"""Writes a Trivy JSON report of about SIZE_MB megabytes made of the results of the corpus's
Trivy reports (vulnerabilities, misconfigurations, secrets, as Trivy shapes them), repeated
with renumbered ids, indented as Trivy writes it.

    gen_trivy.py CORPUS_TRIVY_DIR OUT SIZE_MB
"""
import copy
import json
import os
import sys

source, out, size_mb = sys.argv[1], sys.argv[2], float(sys.argv[3])
reports = []
for name in sorted(os.listdir(source)):
    if name.endswith(".json"):
        with open(os.path.join(source, name), encoding="utf-8") as f:
            reports.append(json.load(f))
results = [r for report in reports for r in report.get("Results") or []
           if r.get("Vulnerabilities") or r.get("Misconfigurations") or r.get("Secrets")]
if not results:
    sys.exit(f"gen_trivy.py: no results with findings in {source}")
head = next(r for r in reports if r.get("ArtifactType") == "container_image")
root = {k: v for k, v in head.items() if k != "Results"}

target = int(size_mb * 1_000_000)
written = 0
round_no = 0
with open(out, "w", encoding="utf-8") as f:
    f.write(json.dumps(root, indent=2)[:-2] + ',\n  "Results": [')
    first = True
    while written < target:
        for result in results:
            r = copy.deepcopy(result)
            r["Target"] = f"{r.get('Target', 'target')} #{round_no}"
            for key, id_key in (("Vulnerabilities", "VulnerabilityID"),
                                ("Misconfigurations", "ID"), ("Secrets", "RuleID")):
                for entry in r.get(key) or []:
                    if id_key in entry:
                        entry[id_key] = f"{entry[id_key]}-{round_no}"
            text = json.dumps(r, indent=2).replace("\n", "\n    ")
            f.write(("\n    " if first else ",\n    ") + text)
            written += len(text) + 6
            first = False
            if written >= target:
                break
        round_no += 1
    f.write("\n  ]\n}\n")
