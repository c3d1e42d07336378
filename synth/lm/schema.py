"""JSON schemas for constrained ("grounded") decoding, built per item by code.

`output_schema` turns a Signature's output fields into a JSON schema; `ground_schema` narrows it for one item: a
field that must come from the input may only take the values the input offers. Grounding is a mapping from a field
path to either a list of allowed values (an enum) or a dict of schema keywords to set on that node:

    {"title": ["Senior Data Engineer"],                       # top-level field: one of these
     "skills[]": ["Python", "SQL"],                            # every item of a list
     "must[].evidence": ["5+ years of Python", "BSc in CS"],   # a field of every object in a list
     "verdicts": {"minItems": 3, "maxItems": 3},               # schema keywords on the node
     "scores.*.score": list(range(101)),                       # `*`: every property of that object
     "text": {"pattern": "^Senior Data Engineer\\. ..."}}

The embedded model decodes under the grounded schema always; an OpenAI-compatible server gets it as
`response_format` (vLLM's guided decoding) with `--grounded`. The answer is JSON; `to_chat_adapter` re-renders it
in DSPy's ChatAdapter format, so the stages, cache and runner read it unchanged. Grounding raises the keep rate; the
stage checks still read the text.
"""

from __future__ import annotations

import copy
import json
import re

LONG_FIELDS = {"text", "cv", "qualified_cv", "unqualified_cv", "summary", "jd"}


def bound_schema(schema: dict, name: str = "", str_len: int = 80, long_len: int = 400, items: int = 3) -> dict:
    """Every string gets a maxLength and every array a maxItems (recursively), unless already bounded (the tiny
    embedded model otherwise repeats itself until the token limit)."""
    s = dict(schema)
    if s.get("type") == "string" and "enum" not in s and "const" not in s:
        s.setdefault("maxLength", long_len if name in LONG_FIELDS else str_len)
    if s.get("type") == "array":
        s.setdefault("maxItems", items)
        if isinstance(s.get("items"), dict):
            s["items"] = bound_schema(s["items"], "", str_len, long_len, items)
    if isinstance(s.get("properties"), dict):
        s["properties"] = {k: bound_schema(v, k, str_len, long_len, items) for k, v in s["properties"].items()}
    for key in ("anyOf", "allOf", "oneOf"):
        if isinstance(s.get(key), list):
            s[key] = [bound_schema(x, name, str_len, long_len, items) for x in s[key]]
    if isinstance(s.get("$defs"), dict):
        s["$defs"] = {k: bound_schema(v, "", str_len, long_len, items) for k, v in s["$defs"].items()}
    return s


def output_schema(signature, bounded: bool = True) -> dict:
    """A JSON schema for a Signature's output fields (all required; bounded for the embedded model)."""
    from typing import Annotated

    from pydantic import TypeAdapter

    props, defs = {}, {}
    for name, field in signature.output_fields.items():
        ann = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        sch = TypeAdapter(ann).json_schema(ref_template="#/$defs/{model}")
        defs.update(sch.pop("$defs", {}))
        props[name] = sch
    out = {"type": "object", "properties": props, "required": list(props)}
    if defs:
        out["$defs"] = defs
    out = close_objects(out)
    return bound_schema(out) if bounded else out


def close_objects(node):
    """Every object with properties refuses other keys (JSON Schema leaves objects open by default: a decoder that
    follows the standard let SmolLM2 add "description" keys to the judge's scores until the token limit; OpenAI's
    strict mode wants them closed too)."""
    if isinstance(node, list):
        return [close_objects(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k in ("properties", "$defs", "patternProperties") and isinstance(v, dict):  # name -> schema maps
            out[k] = {name: close_objects(sub) for name, sub in v.items()}
        else:
            out[k] = v if k in ("enum", "const", "required", "default", "examples") else close_objects(v)
    if isinstance(node.get("properties"), dict):
        out.setdefault("additionalProperties", False)
    return out


_STEP = re.compile(r"(\w+)(\[\])?")


def _deref(node: dict, root: dict) -> dict:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        merged = copy.deepcopy(root["$defs"][ref.rsplit("/", 1)[1]])
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        return merged
    return node


def _expand(root: dict, path: str) -> list[str]:
    """A path with `*` steps (every property of that object, e.g. `scores.*.score`) as the concrete paths."""
    if "*" not in path.split("."):
        return [path]
    done, node, steps = [], root, path.split(".")
    for i, step in enumerate(steps):
        if step == "*":
            props = node.get("properties") if isinstance(node, dict) else None
            rest = ".".join(steps[i + 1:])
            return [p for name in (props or {})
                    for p in _expand(root, ".".join([*done, name] + ([rest] if rest else [])))]
        m = _STEP.fullmatch(step)
        props = node.get("properties") if isinstance(node, dict) else None
        if not m or not isinstance(props, dict) or m.group(1) not in props:
            return []
        node = _deref(props[m.group(1)], root)
        if m.group(2):
            node = _deref(node.get("items") or {}, root)
        done.append(step)
    return [path]


class GroundingPathError(ValueError):
    """A grounding path that names no field of the output schema (a renamed Signature field would otherwise turn
    that grounding off without a word)."""


def _has_path(root: dict, path: str) -> bool:
    node = root
    for step in path.split("."):
        m = _STEP.fullmatch(step)
        props = node.get("properties") if isinstance(node, dict) else None
        if not m or not isinstance(props, dict) or m.group(1) not in props:
            return False
        node = _deref(props[m.group(1)], root)
        if m.group(2):
            if not isinstance(node.get("items"), dict):
                return False
            node = _deref(node["items"], root)
    return True


def missing_paths(schema: dict, paths) -> list[str]:
    """The grounding paths that name no field of the schema (a `*` step must expand to at least one field)."""
    return [p for p in paths if not any(_has_path(schema, c) for c in _expand(schema, p))]


def check_grounding(signature, paths) -> tuple[str, ...]:
    """At definition time: every grounding path a stage uses names an output field of its Signature (the part
    before a `*` step, whose fields a module may set per instance). Raises GroundingPathError naming the path and
    the fields there are; returns the paths."""
    schema = output_schema(signature, bounded=False)
    fixed = [p.split(".*")[0] for p in paths]
    bad = missing_paths(schema, fixed)
    if bad:
        raise GroundingPathError(f"{signature.__name__}: grounding path(s) {', '.join(bad)} name no output field "
                                 f"(fields: {', '.join(signature.output_fields)}); rename the path with the field.")
    return tuple(paths)


def ground_schema(schema: dict, grounding: dict | None) -> dict:
    """A copy of the schema with each grounded path narrowed (shared `$defs` are inlined where they are narrowed, so
    the same model elsewhere stays free). A path that the schema does not have raises GroundingPathError; empty
    value lists are ignored (the input offers nothing to narrow to)."""
    if not grounding:
        return schema
    out = copy.deepcopy(schema)
    bad = missing_paths(out, grounding)
    if bad:
        raise GroundingPathError(f"grounding path(s) {', '.join(bad)} name no field of the output schema "
                                 f"(fields: {', '.join(out.get('properties') or {})}).")
    grounding = {concrete: rule for path, rule in grounding.items() for concrete in _expand(out, path)}
    for path, rule in grounding.items():
        node, ok = out, True
        steps = path.split(".")
        for i, step in enumerate(steps):
            m = _STEP.fullmatch(step)
            props = node.get("properties") if isinstance(node, dict) else None
            if not m or not isinstance(props, dict) or m.group(1) not in props:
                ok = False
                break
            props[m.group(1)] = child = _deref(props[m.group(1)], out)
            if m.group(1) not in node.setdefault("required", []):  # a grounded field cannot be left out
                node["required"] = [*node["required"], m.group(1)]
            if m.group(2):  # a list: descend into its items
                if not isinstance(child.get("items"), dict):
                    ok = False
                    break
                child["items"] = _deref(child["items"], out)
                child = child["items"]
            node = child
        if not ok:
            continue
        if isinstance(rule, dict):  # schema keywords; None removes one (e.g. a maxLength a pattern replaces)
            for k, v in rule.items():
                node.pop(k, None) if v is None else node.__setitem__(k, v)
            continue
        vals = [v for v in dict.fromkeys(rule) if v not in ("", None)]
        if not vals:
            continue
        typ = node.get("type") or ("integer" if all(isinstance(v, int) for v in vals) else "string")
        for k in [k for k in node if k not in ("title", "description")]:
            del node[k]
        node.update({"type": typ, "enum": vals})
    return out


def json_pattern_literal(text: str) -> str | None:
    """A regex for a JSON string's content that matches `text` literally, or None when the text holds characters a
    JSON string must escape (quotes, backslashes, control characters): such an item is decoded without a pattern."""
    if re.search(r'["\\\x00-\x1f]', text):
        return None
    return re.sub(r"([.^$*+?{}\[\]|()/-])", r"\\\1", text)  # only the metacharacters: every engine reads these


def to_chat_adapter(data: dict, fields: list[str]) -> str:
    """A JSON answer re-rendered as DSPy ChatAdapter field blocks."""
    parts = []
    for k in fields:
        v = data.get(k, "")
        parts.append(f"[[ ## {k} ## ]]\n{v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}")
    return "\n\n".join(parts + ["[[ ## completed ## ]]"])


def response_format(schema: dict) -> dict:
    """The OpenAI / vLLM `response_format` for a JSON schema (strict: the server's guided decoding follows it)."""
    return {"type": "json_schema", "json_schema": {"name": "mira_output", "schema": schema, "strict": True}}
