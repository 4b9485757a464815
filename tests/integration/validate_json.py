"""Validates JSON documents against a JSON Schema (draft 2020-12).

usage: validate_json.py SCHEMA FILE...   prints `OK FILE` or `INVALID FILE: reason (at PATH)`;
exits 0 when every file is valid, 1 otherwise.

A `$ref` to another schema (`error.schema.json`, `history.schema.json#/$defs/record`) is
resolved offline, from the `*.schema.json` files beside SCHEMA, by their `$id`.
"""
import json
import pathlib
import sys

import jsonschema
from jsonschema.exceptions import best_match


def sibling_schemas(schema_path):
    """Every schema beside `schema_path` that parses, by its `$id`."""
    store = {}
    for path in sorted(pathlib.Path(schema_path).resolve().parent.glob("*.schema.json")):
        try:
            with open(path, encoding="utf-8") as handle:
                schema = json.load(handle)
        except (OSError, ValueError):
            continue  # a sibling that does not parse cannot be referred to
        if isinstance(schema, dict) and isinstance(schema.get("$id"), str):
            store[schema["$id"]] = schema
    return store


def make_validator(schema, store):
    """A draft 2020-12 validator that finds the schemas of `store`, with no network."""
    try:
        from referencing import Registry, Resource  # jsonschema 4.18 and later
    except ImportError:
        resolver = jsonschema.RefResolver.from_schema(schema, store=store)
        return jsonschema.Draft202012Validator(schema, resolver=resolver)
    registry = Registry().with_resources(
        (uri, Resource.from_contents(contents)) for uri, contents in store.items())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def deepest(error):
    """For a failed oneOf or anyOf, the error of the branch that got furthest into the
    document: a field that is wrong rather than the whole document."""
    while error is not None and error.context:
        depth = max(len(e.absolute_path) for e in error.context)
        error = best_match(e for e in error.context if len(e.absolute_path) == depth)
    return error


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        schema = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = make_validator(schema, sibling_schemas(argv[1]))
    ok = True
    for path in argv[2:]:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        error = deepest(best_match(validator.iter_errors(document)))
        if error is not None:
            ok = False
            where = "$" + "".join(
                f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
            print(f"INVALID {path}: {error.message} (at {where})")
        else:
            print(f"OK {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
