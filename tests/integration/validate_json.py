"""Validates JSON documents against a JSON Schema (draft 2020-12).

usage: validate_json.py SCHEMA FILE...   prints `OK FILE` or `INVALID FILE: reason`;
exits 0 when every file is valid, 1 otherwise.
"""
import json
import sys

import jsonschema


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        schema = json.load(handle)
    validator = jsonschema.Draft202012Validator(schema)
    ok = True
    for path in argv[2:]:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        if errors:
            ok = False
            print(f"INVALID {path}: {errors[0].message}")
        else:
            print(f"OK {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
