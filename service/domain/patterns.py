r"""User-supplied regular expressions (field ``regex`` constraints, persona ``regex`` matchers) on RE2.

RE2 matches in time linear in the input, so no pattern can make a match hang the way a backtracking
engine does (``^(a+)+$`` against ``"a" * 24 + "!"`` took 0.74 s on ``re`` and doubled per character).
The syntax stays Python's: a pattern is first compiled by ``re`` (what ``re`` refused stays refused,
with its message), then rewritten for RE2 keeping Python's meaning where the two differ: ``\d \w \s``
and their negations match Unicode as in Python (RE2's are ASCII), ``\Z`` is RE2's ``\z``, ``{,n}``
is ``{0,n}``, ``[`` inside a set is a literal (RE2 would read ``[:alpha:]``), and ``\uXXXX``,
``\N{...}`` and octal escapes become ``\x{...}``. What a linear-time engine cannot do is refused with a
message naming it: backreferences, lookarounds, conditionals, atomic groups, possessive quantifiers,
the verbose and ASCII flags. Differences left: ``\b`` and ``\B`` see only ASCII letters, digits and
``_`` as word characters (https://github.com/google/re2/wiki/Syntax); ``$`` does not match before a
final newline and ``\B`` matches empty text, which no stripped, non-blank value has.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Protocol

import re2

from service.domain.errors import DomainError

_WORD = r"\p{L}\p{N}_"  # Python's \w: str.isalnum() or "_"
# Python's \s (str.isspace()) as code point ranges; RE2's \s lacks \v and everything beyond ASCII.
_SPACE = ((0x9, 0xD), (0x1C, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
          (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000))
_ESCAPES = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
_ANCHORS = {"A": r"\A", "Z": r"\z", "b": r"\b", "B": r"\B"}
_BOUNDS = re.compile(r"\{([0-9]*)(,?)([0-9]*)\}")  # as Python reads a counted repetition; else "{" is literal
_FLAGS = re.compile(r"([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")
_WHY = " (patterns run on RE2, a linear-time engine, so that no value can make a match hang)"
BACKREFERENCE = "backreferences (\\1, (?P=name)) are not supported" + _WHY + "; match the text itself instead"
LOOKAROUND = ("lookahead and lookbehind ((?=...), (?!...), (?<=...), (?<!...)) are not supported" + _WHY
              + "; match the neighbouring text itself instead")
CONDITIONAL = "conditional groups (?(1)...|...) are not supported" + _WHY + "; use an alternation (a|b) instead"
POSSESSIVE = ("atomic groups (?>...) and possessive quantifiers (*+, ++, ?+, {m,n}+) are not supported" + _WHY
              + "; a plain group or quantifier is never slow here")
FLAGS = ("the inline flags a (ASCII) and x (verbose) are not supported" + _WHY
         + "; write sets like [A-Za-z0-9_] instead of (?a)\\w, and no spaces or comments instead of (?x)")
NEGATED_NON_WORD = ("\\W inside a negated set [^...] is not supported" + _WHY
                    + "; list the characters wanted instead, e.g. [a-zA-Z] for [^\\W\\d_]")
REPETITION = "repetition counts above 1000 (also when nested repetitions multiply) are not supported" + _WHY


class PatternError(DomainError):
    """A pattern that does not compile or uses a feature RE2 lacks; ``message`` says what to change."""


class Pattern(Protocol):
    """A compiled pattern: ``fullmatch`` and ``search`` give a match object (without groups) or None, and
    never raise."""

    def fullmatch(self, text: str) -> object | None:
        """A match of the whole ``text``, or None."""

    def search(self, text: str, pos: int = 0, endpos: int | None = None) -> object | None:
        """The first match within ``text[pos:endpos]``, or None."""


class _Compiled:
    """An RE2 regexp that also takes text holding lone surrogates (JSON allows them; UTF-8 does not)."""

    __slots__ = ("_regexp",)

    def __init__(self, regexp: Any) -> None:
        self._regexp = regexp

    def fullmatch(self, text: str) -> object | None:
        try:
            return self._regexp.fullmatch(text)
        except UnicodeEncodeError:
            return self._regexp.fullmatch(_without_surrogates(text))

    def search(self, text: str, pos: int = 0, endpos: int | None = None) -> object | None:
        try:
            return self._regexp.search(text, pos, endpos)
        except UnicodeEncodeError:
            return self._regexp.search(_without_surrogates(text), pos, endpos)


def _without_surrogates(text: str) -> str:
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


@lru_cache(maxsize=512)
def compile_pattern(text: str, *, ignore_case: bool = False) -> Pattern:
    """Compile a user-supplied pattern (Python syntax) for RE2; callers choose ``fullmatch`` or ``search``.

    Raises PatternError: "does not compile: ..." for what ``re`` refuses, else a message naming the
    feature RE2 lacks (backreferences, lookarounds, ...) and what to write instead.
    """
    try:
        re.compile(text)
    except (re.error, RecursionError, OverflowError) as exc:
        raise PatternError(f"does not compile: {exc}") from exc
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False  # the error is raised, with the pattern, to the admin who saved it
    options.never_capture = True  # callers only ask whether it matches: RE2 then answers from its DFA alone
    try:
        return _Compiled(re2.compile(_translate(text), options))
    except UnicodeEncodeError as exc:  # a lone surrogate: not a character UTF-8 (so RE2) can hold
        raise PatternError(f"is not supported by RE2, the linear-time regex engine: {exc.reason}") from exc
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        if "repetition" in reason:
            raise PatternError(REPETITION) from exc
        raise PatternError(f"is not supported by RE2, the linear-time regex engine: {reason}") from exc


def _hex(code: int) -> str:
    return f"\\x{{{code:X}}}"


def _ranges(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(_hex(lo) if lo == hi else f"{_hex(lo)}-{_hex(hi)}" for lo, hi in ranges)


def _complement(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    out, start = [], 0
    for lo, hi in ranges:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    return (*out, (start, 0x10FFFF))


# RE2 set contents for each class escape inside [...]; \W has none (see _set).
_IN_SET = {"d": r"\p{Nd}", "D": r"\P{Nd}", "w": _WORD, "s": _ranges(_SPACE), "S": _ranges(_complement(_SPACE))}
_OUTSIDE = {"d": r"\p{Nd}", "D": r"\P{Nd}", "w": f"[{_WORD}]", "W": f"[^{_WORD}]", "s": f"[{_IN_SET['s']}]",
            "S": f"[^{_IN_SET['s']}]"}


def _escape(p: str, i: int, in_set: bool) -> tuple[str, int | str, int]:
    """Python's reading of the escape at ``p[i]``: ("char", code point), ("class", letter) or ("anchor", RE2)."""
    c, j = p[i + 1], i + 2
    if c in "dDsSwW":
        return "class", c, j
    if c in _ESCAPES or (c == "b" and in_set):
        return "char", _ESCAPES.get(c, 8), j
    if c in _ANCHORS:
        return "anchor", _ANCHORS[c], j
    if c in "xuU":
        size = {"x": 2, "u": 4, "U": 8}[c]
        return "char", int(p[j:j + size], 16), j + size
    if c == "N":
        end = p.index("}", j)
        return "char", ord(p[i:end + 1].encode("ascii").decode("unicode_escape")), end + 1
    if c in "0123456789":
        if in_set or c == "0":  # octal: up to three digits in a set, \0 and up to two more outside
            end = j
            while end < min(j + 2, len(p)) and p[end] in "01234567":
                end += 1
            return "char", int(p[i + 1:end], 8), end
        if len(p) >= i + 4 and all(ch in "01234567" for ch in p[i + 1:i + 4]):
            return "char", int(p[i + 1:i + 4], 8), i + 4
        raise PatternError(BACKREFERENCE)
    return "char", ord(c), j


def _translate(p: str) -> str:
    """RE2 syntax for ``p``, a pattern ``re`` compiles; PatternError for what RE2 cannot do."""
    out: list[str] = []
    i = 0
    while i < len(p):
        c = p[i]
        quantifier = c in "*+?"
        if c == "\\":
            kind, value, i = _escape(p, i, in_set=False)
            out.append(_hex(value) if isinstance(value, int) else _OUTSIDE[value] if kind == "class" else value)
            continue
        if c == "[":
            text, i = _set(p, i + 1)
        elif c == "(":
            text, i = _group(p, i + 1)
        elif c == "{" and (bounds := _BOUNDS.match(p, i)) and bounds.group() != "{}":
            low, comma, high = bounds.groups()
            text, i, quantifier = f"{{{low or 0}{comma}{high}}}", bounds.end(), True
        else:
            text, i = ("\\" + c if c in "{}]" else c), i + 1
        out.append(text)
        if quantifier and i < len(p) and p[i] in "?+":
            if p[i] == "+":
                raise PatternError(POSSESSIVE)
            out.append("?")  # lazy
            i += 1
    return "".join(out)


def _set(p: str, i: int) -> tuple[str, int]:
    """RE2 for the set whose body starts at ``p[i]`` (after "["), read as Python does, and the index past it."""
    negate = p[i] == "^"
    i += negate
    items: list[str] = []
    non_word = False
    while True:
        c = p[i]
        if c == "]" and (items or non_word):
            i += 1
            break
        low, i = _set_item(p, i)
        if p[i] == "-" and p[i + 1] != "]":
            high, i = _set_item(p, i + 1)  # re already checked both ends are characters
            items.append(f"{_hex(int(low))}-{_hex(int(high))}")
            continue
        if low == "W":
            non_word = True
        else:
            items.append(_hex(low) if isinstance(low, int) else _IN_SET[low])
        if p[i] == "-":  # "-" right before "]": a literal, and the end of the set
            items.append(_hex(ord("-")))
            i += 2
            break
    body = "".join(items)
    if not non_word:
        return f"[{'^' if negate else ''}{body}]", i
    if negate:  # [^\W...] is \w minus the rest: an intersection RE2 sets cannot express
        if body:
            raise PatternError(NEGATED_NON_WORD)
        return _OUTSIDE["w"], i
    return (f"(?:{_OUTSIDE['W']}|[{body}])" if body else _OUTSIDE["W"]), i


def _set_item(p: str, i: int) -> tuple[int | str, int]:
    """One member of a set at ``p[i]``: a code point or a class letter, and the index past it."""
    if p[i] != "\\":
        return ord(p[i]), i + 1
    _, value, i = _escape(p, i, in_set=True)
    return value, i


def _group(p: str, i: int) -> tuple[str, int]:
    """RE2 for the opening of the group whose text starts at ``p[i]`` (after "("), and the index past it."""
    if p[i] != "?":
        return "(", i
    c = p[i + 1]
    if c == ":" or (c == "P" and p[i + 2] == "<"):  # named groups become plain groups: names are not used
        return ("(?:", i + 2) if c == ":" else ("(", p.index(">", i) + 1)
    if c == "P":
        raise PatternError(BACKREFERENCE)
    if c == "#":  # a comment, up to the first ")" not escaped
        while p[i] != ")":
            i += 2 if p[i] == "\\" else 1
        return "", i + 1
    if c in "=!<":
        raise PatternError(LOOKAROUND)
    if c == "(":
        raise PatternError(CONDITIONAL)
    if c == ">":
        raise PatternError(POSSESSIVE)
    flags = _FLAGS.match(p, i + 1)
    if flags is None:  # re compiled it, so only flags are left: never reached
        raise PatternError(f"does not compile: unknown extension {p[i - 1:i + 2]!r}")
    on, off, end = flags.group(1), flags.group(2) or "", flags.group(3)
    if set(on + off) - set("imsu"):
        raise PatternError(FLAGS)
    on, off = on.replace("u", ""), off.replace("u", "")
    opening = f"(?{on}{'-' + off if off else ''}{end}" if on or off else ("(?:" if end == ":" else "")
    return opening, flags.end()
