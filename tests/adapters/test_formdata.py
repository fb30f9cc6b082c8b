"""parse_php_form / encode_php_form: PHP bracket form bodies into nested dicts and lists."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from adapters.formdata import MAX_DEPTH, MAX_KEY_LENGTH, MAX_PARTS, encode_php_form, parse_php_form, split_key


def test_given_flat_pairs_when_parsed_then_plain_dict() -> None:
    assert parse_php_form("a=1&b=2") == {"a": "1", "b": "2"}


def test_given_bytes_body_when_parsed_then_same_as_text() -> None:
    assert parse_php_form(b"a[b]=1") == parse_php_form("a[b]=1") == {"a": {"b": "1"}}


def test_given_nested_indices_when_parsed_then_lists_of_dicts() -> None:
    body = "leads[status][0][id]=1&leads[status][0][old_status_id]=142&leads[status][1][id]=2"
    assert parse_php_form(body) == {"leads": {"status": [{"id": "1", "old_status_id": "142"}, {"id": "2"}]}}


def test_given_percent_and_plus_when_parsed_then_utf8_decoded_with_spaces() -> None:
    body = "name=%D0%A1%D0%B0%D0%B9%D1%82+one&k%5Bx%5D=a%26b%3Dc"
    assert parse_php_form(body) == {"name": "Сайт one", "k": {"x": "a&b=c"}}


def test_given_raw_utf8_bytes_when_parsed_then_decoded() -> None:
    assert parse_php_form("v=Сайт".encode()) == {"v": "Сайт"}


def test_given_invalid_utf8_when_parsed_then_value_error() -> None:
    with pytest.raises(ValueError, match="UTF-8"):
        parse_php_form("v=%FF%FE")
    with pytest.raises(ValueError, match="UTF-8"):
        parse_php_form(b"v=\xff")


def test_given_empty_brackets_when_parsed_then_appended_in_order() -> None:
    assert parse_php_form("a[]=x&a[]=y&a[]=z") == {"a": ["x", "y", "z"]}


def test_given_append_after_explicit_index_when_parsed_then_php_next_index() -> None:
    assert parse_php_form("a[5]=x&a[]=y") == {"a": {"5": "x", "6": "y"}}
    assert parse_php_form("a[1]=x&a[]=y&a[0]=z") == {"a": ["z", "x", "y"]}


def test_given_nested_append_when_parsed_then_each_append_is_new_item() -> None:
    assert parse_php_form("a[][x]=1&a[][x]=2") == {"a": [{"x": "1"}, {"x": "2"}]}


def test_given_non_contiguous_indices_when_parsed_then_dict_with_string_keys() -> None:
    assert parse_php_form("a[1]=x&a[3]=y") == {"a": {"1": "x", "3": "y"}}


def test_given_indices_out_of_order_when_parsed_then_list_sorted_by_index() -> None:
    assert parse_php_form("a[1]=y&a[0]=x") == {"a": ["x", "y"]}


def test_given_leading_zero_or_negative_index_when_parsed_then_string_keys() -> None:
    assert parse_php_form("a[00]=x&a[1]=y") == {"a": {"00": "x", "1": "y"}}
    assert parse_php_form("a[-1]=x") == {"a": {"-1": "x"}}


def test_given_mixed_keys_when_parsed_then_dict() -> None:
    assert parse_php_form("a[0]=x&a[b]=y") == {"a": {"0": "x", "b": "y"}}


def test_given_repeated_key_when_parsed_then_last_wins() -> None:
    assert parse_php_form("a=1&a=2") == {"a": "2"}
    assert parse_php_form("a[b]=1&a[b]=2") == {"a": {"b": "2"}}


def test_given_scalar_then_container_when_parsed_then_later_wins_both_ways() -> None:
    assert parse_php_form("a=1&a[b]=2") == {"a": {"b": "2"}}
    assert parse_php_form("a[b]=2&a=1") == {"a": "1"}


def test_given_empty_parts_and_missing_equals_when_parsed_then_skipped_and_empty() -> None:
    assert parse_php_form("&&a&b=&&") == {"a": "", "b": ""}
    assert parse_php_form("") == {}


def test_given_equals_in_value_when_parsed_then_split_on_first_only() -> None:
    assert parse_php_form("a=b=c") == {"a": "b=c"}


def test_given_integer_top_level_keys_when_parsed_then_root_stays_dict() -> None:
    assert parse_php_form("0=a&1=b") == {"0": "a", "1": "b"}


def test_given_dots_and_spaces_in_base_when_parsed_then_kept_unlike_php() -> None:
    assert parse_php_form("a.b=1&c+d=2") == {"a.b": "1", "c d": "2"}


@pytest.mark.parametrize("key", ["[a]=1", "a[b=1", "a]b=1", "a[b]c=1", "a[b][=1", "a[[b]]=1", "=1"])
def test_given_malformed_key_when_parsed_then_value_error(key: str) -> None:
    with pytest.raises(ValueError, match="malformed"):
        parse_php_form(key)


def test_given_max_depth_when_parsed_then_ok_and_one_more_fails() -> None:
    ok = "a" + "[x]" * MAX_DEPTH + "=1"
    node: Any = parse_php_form(ok)["a"]
    for _ in range(MAX_DEPTH - 1):
        node = node["x"]
    assert node == {"x": "1"}
    with pytest.raises(ValueError, match="deeper"):
        parse_php_form("a" + "[x]" * (MAX_DEPTH + 1) + "=1")


def test_given_too_many_parts_when_parsed_then_value_error() -> None:
    assert len(parse_php_form("&".join(f"k{i}=v" for i in range(MAX_PARTS)))) == MAX_PARTS
    with pytest.raises(ValueError, match="more than"):
        parse_php_form("&".join(f"k{i}=v" for i in range(MAX_PARTS + 1)))


def test_given_too_long_key_when_parsed_then_value_error() -> None:
    assert parse_php_form("k" * MAX_KEY_LENGTH + "=1")
    with pytest.raises(ValueError, match="longer"):
        parse_php_form("k" * (MAX_KEY_LENGTH + 1) + "=1")
    with pytest.raises(ValueError, match="longer"):
        parse_php_form("%41" * (MAX_KEY_LENGTH + 1) + "=1")


def test_given_key_when_split_then_append_is_none() -> None:
    assert split_key("a[b][][0]") == ["a", "b", None, "0"]


def test_given_amocrm_example_when_parsed_then_custom_fields_nested() -> None:
    body = ("leads[status][0][id]=10701093&leads[status][0][status_id]=142"
            "&leads[status][0][custom_fields][0][id]=66339"
            "&leads[status][0][custom_fields][0][values][0][value]=%D0%A1%D0%B0%D0%B9%D1%82"
            "&leads[status][0][custom_fields][0][values][0][enum]=139517&account[subdomain]=acme")
    lead = parse_php_form(body)["leads"]["status"][0]
    assert lead["custom_fields"] == [{"id": "66339", "values": [{"value": "Сайт", "enum": "139517"}]}]


def test_given_nested_data_when_encoded_then_bracket_keys_with_indices() -> None:
    assert encode_php_form({"a": [{"b": "x y"}], "c": None}) == "a[0][b]=x+y&c="


# ---- round trip --------------------------------------------------------------------------------
_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8)
_key = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="[]"),
               min_size=1, max_size=6).filter(lambda k: not k.lstrip("-").isdigit())


def _tree(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda children: st.lists(children, min_size=1, max_size=3) | st.dictionaries(_key, children, min_size=1,
                                                                                        max_size=3),
        max_leaves=12,
    )


def _depth(node: Any) -> int:
    if isinstance(node, dict):
        return 1 + max(map(_depth, node.values()))
    if isinstance(node, list):
        return 1 + max(map(_depth, node))
    return 0


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.dictionaries(_key, _tree(_text), min_size=1, max_size=4))
def test_given_any_nested_data_when_encoded_and_parsed_then_round_trips(data: dict[str, Any]) -> None:
    assume(_depth(data) <= MAX_DEPTH + 1)  # the root level has no brackets
    assert parse_php_form(encode_php_form(data)) == data
