#!/usr/bin/python3
"""Bundles the gate schemas (schemas/gates/*.schema.json) into schemas/pipeline.schema.json.

The gate files are the one source of each gate's `with:` rules; the pipeline schema embeds
them under $defs (each keeps its $id, so its own references resolve inside it) and checks
`with:` by `use:`. A `use:` that names no built-in gate is an external plugin, whose `with:`
is the plugin's business.

Usage: bundle.py           rewrite schemas/pipeline.schema.json
       bundle.py --check   exit 1 if it is not what bundling would write
"""

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
PIPELINE = HERE / "pipeline.schema.json"
PLUGIN_NAME = "^[a-z0-9][a-z0-9_-]{0,63}$"


def bundled(pipeline):
    defs = {key: value for key, value in pipeline["$defs"].items() if not key.startswith("gate-")}
    names = []
    rules = []
    for path in sorted((HERE / "gates").glob("*.schema.json")):
        name = path.name[: -len(".schema.json")]
        gate = json.loads(path.read_text(encoding="utf-8"))
        gate.pop("$schema", None)
        names.append(name)
        defs["gate-" + name] = gate
        then = {"properties": {"with": {"$ref": "#/$defs/gate-" + name}}}
        if gate.get("required") or gate.get("anyOf"):
            then["required"] = ["with"]
        rules.append({
            "if": {"properties": {"use": {"const": name}}, "required": ["use"]},
            "then": then,
        })
    gate = defs["gate"]
    gate["properties"]["use"] = {
        "description": "A built-in gate (" + ", ".join(names) + "), or the name of an "
        "external plugin: promote-gate-NAME in plugins/ beside the pipeline file, then on PATH.",
        "anyOf": [{"enum": names}, {"type": "string", "pattern": PLUGIN_NAME}],
    }
    gate["allOf"] = rules
    out = dict(pipeline)
    out["$defs"] = defs
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def main(argv):
    current = PIPELINE.read_text(encoding="utf-8")
    wanted = bundled(json.loads(current))
    if argv[1:] == ["--check"]:
        if current != wanted:
            print("schemas/pipeline.schema.json is out of date: run schemas/bundle.py",
                  file=sys.stderr)
            return 1
        return 0
    if argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    PIPELINE.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
