"""short(): one line of single spaces, at most `limit` characters — and a message already like that is
returned as the same object (every check result goes through it)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from daemon.engine.checks.base import MESSAGE_LIMIT, short


def reference(text, limit: int = MESSAGE_LIMIT) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@given(
    st.text(alphabet=st.sampled_from(list("ab \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000é…")), max_size=30),
    st.integers(min_value=1, max_value=40),
)
def test_short_is_the_same_as_collapsing_whitespace_and_cutting(text, limit):
    assert short(text, limit) == reference(text, limit)


@given(st.text(max_size=250))
def test_short_agrees_with_the_reference_on_any_text(text):
    assert short(text) == reference(text)


def test_a_clean_message_comes_back_as_the_same_object():
    message = "connected to 127.0.0.1:8080"
    assert short(message) is message


def test_what_is_not_text_is_still_turned_into_text():
    assert short(ValueError("a  b\nc")) == "a b c"
