"""The configuration file as text: reading YAML or JSON into plain values (with the line of every path, for
error messages) and writing the canonical document as YAML. No database here."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

from service.errors import InvalidInputError

_INDEX = re.compile(r"\.(\d+)(?=\.|\[|$)")


class ConfigFileError(InvalidInputError):
    """The file cannot be applied; `errors` maps each YAML path to what is wrong there, `lines` maps paths to
    their line in the file (YAML only), `source` names the file."""

    def __init__(self, source: str, errors: dict[str, list[str]], lines: Mapping[str, int] | None = None) -> None:
        count = sum(len(messages) for messages in errors.values())
        super().__init__(f"{source} has {count} error{'s' if count != 1 else ''}; nothing was changed.", errors)
        self.source = source
        self.lines = dict(lines or {})

    def line_of(self, path: str) -> int | None:
        """The line of `path` in the file, or of its nearest enclosing path that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None

    def messages(self) -> list[str]:
        """Every error as `file:line: path: what is wrong`, in path order."""
        out = []
        for path in sorted(self.errors or {}, key=path_order):
            line = self.line_of(path)
            where = f"{self.source}:{line}" if line else self.source
            out += [f"{where}: {path}: {message}" for message in (self.errors or {})[path]]
        return out


def path_order(path: str) -> tuple[Any, ...]:
    """A sort key putting `gates[10]` after `gates[2]`."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", path) if p)


def join_path(prefix: str, path: str) -> str:
    """`path` inside `prefix`, with list indexes written `[i]` (the domain writes some as `.i`)."""
    path = _INDEX.sub(r"[\1]", path)
    if not path or path == "_schema":
        return prefix
    if not prefix:
        return path
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as `gates[2].requirements[0].field -> [message]`."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}[{key}]" if isinstance(key, int) else join_path(prefix, str(key))
            for path, found in flatten(value, name).items():
                flat.setdefault(path, []).extend(found)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix] = list(messages)
    else:
        flat[prefix] = [str(messages)]
    return flat


def parse(text: str, source: str, *, as_json: bool = False) -> tuple[Any, dict[str, int]]:
    """The values of a YAML (or JSON) document and the line of each path; ConfigFileError for text that is not
    one document, repeats a key, uses anchors/aliases or holds values JSON has no type for (dates, sets, NaN)."""
    if as_json:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ConfigFileError(source, {"": [f"not valid JSON: {exc}"]}) from None
        lines: dict[str, int] = {}
    else:
        data, lines = _parse_yaml(text, source)
    errors: dict[str, list[str]] = {}
    _check_plain(data, "", errors)
    if errors:
        raise ConfigFileError(source, errors, lines)
    return data, lines


def _parse_yaml(text: str, source: str) -> tuple[Any, dict[str, int]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigFileError(source, {"": ["the file is empty"]})
        lines: dict[str, int] = {}
        errors: dict[str, list[str]] = {}
        _index(node, "", lines, errors, set())
        if errors:
            raise ConfigFileError(source, errors, lines)
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ConfigFileError(source, {"": [f"not valid YAML: {exc.problem or exc.context}"]},
                              {"": line} if line else None) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigFileError(source, {"": [f"not valid YAML: {type(exc).__name__}"]}) from None
    finally:
        loader.dispose()


def _index(node: yaml.Node, path: str, lines: dict[str, int], errors: dict[str, list[str]], seen: set[int]) -> None:
    """Record each path's line; refuse aliases (a shared node, seen twice) and repeated keys."""
    if id(node) in seen:
        errors.setdefault(path, []).append("anchors and aliases are not supported; write the value out")
        return
    seen.add(id(node))
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, f"{path}[{i}]", lines, errors, seen)
    elif isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where = join_path(path, key) if isinstance(key_node, yaml.ScalarNode) else path
            if key in keys:
                errors.setdefault(where, []).append(f"the key {key!r} is repeated; give it once")
            keys.add(key)
            lines.setdefault(where, key_node.start_mark.line + 1)
            _index(value_node, where, lines, errors, seen)


def _check_plain(value: Any, path: str, errors: dict[str, list[str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                errors.setdefault(path, []).append(
                    f"the key {key!r} is not text; quote it (YAML reads yes/no/on/off as booleans)")
                continue
            _check_plain(item, join_path(path, key), errors)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_plain(item, f"{path}[{i}]", errors)
    elif isinstance(value, float) and not math.isfinite(value):
        errors.setdefault(path, []).append("must be a finite number")
    elif value is not None and not isinstance(value, str | int | float | bool):
        errors.setdefault(path, []).append(
            f"a YAML {type(value).__name__} is not accepted here; quote it to give text")


class _Dumper(yaml.SafeDumper):
    """Block style everywhere; multi-line text as literal blocks."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render_yaml(document: Mapping[str, Any]) -> str:
    """The canonical document as YAML: keys in the document's order, no flow style, UTF-8 text kept."""
    header = ("# Qualify configuration (qualify config export). Apply with: qualify config apply FILE --dry-run\n"
              "# Secrets are never in this file; connections must exist on the instance (see docs/configuration.md).\n")
    return header + dump_yaml(document)


def dump_yaml(data: Mapping[str, Any]) -> str:
    """Plain values as YAML: keys in their order, no flow style, UTF-8 text kept, multi-line text as blocks."""
    return yaml.dump(dict(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=100)
