"""Parsing (and encoding) application/x-www-form-urlencoded bodies with PHP-style bracket keys.

amoCRM and Bitrix24 post webhooks as forms whose keys nest with brackets, as PHP's `$_POST`
builds them: ``leads[status][0][old_status_id]=142``. `parse_php_form` turns such a body into
nested dicts and lists:

- Pairs are split on ``&``; empty parts are skipped; a part without ``=`` has the value ``""``.
  Keys and values are percent-decoded as UTF-8 with ``+`` as a space (invalid UTF-8: ValueError).
- A key is a non-empty base name followed by zero or more ``[segment]`` groups; anything else
  (an unclosed ``[``, text after a ``]``, an empty base) raises ValueError. Unlike PHP, ``.`` and
  spaces in the base name are kept as they are (PHP turns them into ``_``).
- ``[]`` appends: the index is one more than the largest non-negative integer key so far (PHP's rule).
- Repeated keys: the later value wins, also when it replaces a scalar with a container or back.
- Every container is built as a dict with string keys; at the end a dict whose keys are exactly
  the canonical integers ``"0" .. "n-1"`` (no leading zeros, any order of arrival) becomes a
  list ordered by index. Any other dict stays a dict with string keys (e.g. ``{"1": .., "3": ..}``).
  The top level is always a dict, even for ``0=a&1=b``.
- Limits: at most MAX_PARTS pairs, MAX_DEPTH bracket groups per key, MAX_KEY_LENGTH characters
  per decoded key; beyond them ValueError (PHP silently truncates instead).

`encode_php_form` is the inverse for nested dicts/lists of strings (used by the sandboxes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus, unquote_plus

MAX_DEPTH = 10
MAX_PARTS = 1000
MAX_KEY_LENGTH = 512

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_CANONICAL_INT = re.compile(r"0|[1-9][0-9]*")

Tree = dict[str, Any]


def _decode(text: str) -> str:
    try:
        return unquote_plus(text, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise ValueError(f"form data is not valid UTF-8: {exc}") from None


def split_key(key: str) -> list[str | None]:
    """The path of a decoded key: base name then segments; None stands for an ``[]`` append.

    Raises ValueError for an empty base, malformed brackets, too long or too deep a key.
    """
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"form key longer than {MAX_KEY_LENGTH} characters")
    bracket = key.find("[")
    base = key if bracket < 0 else key[:bracket]
    if not base or "]" in base:
        raise ValueError(f"malformed form key {key[:80]!r}: empty or bad base name")
    path: list[str | None] = [base]
    position = len(base)
    while position < len(key):
        match = _SEGMENT.match(key, position)
        if match is None:
            raise ValueError(f"malformed form key {key[:80]!r}: bad bracket at {position}")
        path.append(match.group(1) if match.group(1) else None)
        position = match.end()
    if len(path) - 1 > MAX_DEPTH:
        raise ValueError(f"form key nests deeper than {MAX_DEPTH}: {key[:80]!r}")
    return path


def _next_index(container: Tree) -> str:
    ints = [int(k) for k in container if _CANONICAL_INT.fullmatch(k)]
    return str(max(ints) + 1) if ints else "0"


def _assign(root: Tree, path: list[str | None], value: str) -> None:
    node = root
    for depth, segment in enumerate(path):
        name = _next_index(node) if segment is None else segment
        if depth == len(path) - 1:
            node[name] = value
            return
        child = node.get(name)
        if not isinstance(child, dict):  # a later container replaces an earlier scalar
            child = {}
            node[name] = child
        node = child


def _finish(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    finished = {k: _finish(v) for k, v in node.items()}
    if finished and all(_CANONICAL_INT.fullmatch(k) for k in finished):
        indices = sorted(int(k) for k in finished)
        if indices == list(range(len(indices))):
            return [finished[str(i)] for i in indices]
    return finished


def parse_php_form(body: bytes | str) -> dict[str, Any]:
    """Parse a form body with PHP bracket keys into nested dicts and lists (see the module doc).

    Raises ValueError for invalid UTF-8, malformed keys or exceeded limits.
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"form data is not valid UTF-8: {exc}") from None
    parts = [part for part in body.split("&") if part]
    if len(parts) > MAX_PARTS:
        raise ValueError(f"form has more than {MAX_PARTS} fields")
    root: Tree = {}
    for part in parts:
        raw_key, _, raw_value = part.partition("=")
        if len(raw_key) > 3 * MAX_KEY_LENGTH:  # reject before decoding a huge key
            raise ValueError(f"form key longer than {MAX_KEY_LENGTH} characters")
        _assign(root, split_key(_decode(raw_key)), _decode(raw_value))
    # The top level stays a dict even when every base name is an integer ("0=a&1=b").
    return {key: _finish(value) for key, value in root.items()}


def _pairs(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        return [pair for k, v in value.items() for pair in _pairs(f"{prefix}[{k}]", v)]
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [pair for i, v in enumerate(value) for pair in _pairs(f"{prefix}[{i}]", v)]
    return [(prefix, "" if value is None else str(value))]


def encode_php_form(data: Mapping[str, Any]) -> str:
    """Encode nested dicts/lists as a PHP-style form body (lists get explicit indices).

    Scalars are str()-ed (None as ""); empty containers produce nothing, as in PHP's http_build_query.
    """
    pairs = [pair for key, value in data.items() for pair in _pairs(str(key), value)]
    return "&".join(f"{quote_plus(k, safe='[]')}={quote_plus(v)}" for k, v in pairs)
