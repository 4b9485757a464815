#!/usr/bin/python3
"""Validates pipeline files against schemas/pipeline.schema.json (JSON Schema 2020-12).

Usage: check_schema.py FILE...
Prints `OK FILE` or `INVALID FILE: reason` for each file; exits 0 iff every file is OK,
1 when one is not, 2 on a usage error. Needs Debian's python3-jsonschema and python3-yaml.
"""

import json
import pathlib
import sys

import jsonschema
import yaml

SCHEMA = pathlib.Path(__file__).resolve().parents[2] / "schemas" / "pipeline.schema.json"


def reason(error):
    where = "/".join(str(part) for part in error.absolute_path) or "(root)"
    return f"{where}: {error.message}"


def check(validator, path):
    try:
        with open(path, encoding="utf-8") as stream:
            document = yaml.safe_load(stream)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        return " ".join(str(error).split())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    best = jsonschema.exceptions.best_match(errors)
    return reason(best) + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")


def main(argv):
    if len(argv) < 2:
        print("usage: check_schema.py FILE...", file=sys.stderr)
        return 2
    with open(SCHEMA, encoding="utf-8") as stream:
        schema = json.load(stream)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    all_ok = True
    for path in argv[1:]:
        problem = check(validator, path)
        if problem is None:
            print(f"OK {path}")
        else:
            all_ok = False
            print(f"INVALID {path}: {problem}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
