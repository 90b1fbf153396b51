"""gzip of cached pages from a part deflated once: always one valid gzip member that holds
exactly the page with the visitor's token, wherever (and however often) the token stands."""

from __future__ import annotations

import gzip

from hypothesis import given, settings
from hypothesis import strategies as st

from papertide.web.cached_gzip import gzipped, shared_part, worth_it

MARKER = b"\x00pt-csrf\x00"
pieces = st.lists(st.one_of(st.binary(max_size=3000), st.text(max_size=800).map(str.encode)))


@given(pieces, st.binary(min_size=1, max_size=64))
@settings(max_examples=200, deadline=None)
def test_every_answer_decompresses_to_the_page_with_the_visitors_token(
    parts: list[bytes], token: bytes
) -> None:
    body = MARKER.join(parts)  # no marker, one, several, at either end, side by side
    part = shared_part(body, MARKER)
    assert gzip.decompress(gzipped(part, body, MARKER, token)) == body.replace(MARKER, token)


def test_the_part_before_the_token_is_shared_by_every_visitor() -> None:
    body = b"<li>paper</li>" * 5000 + MARKER + b"</footer>"
    part = shared_part(body, MARKER)
    one, two = gzipped(part, body, MARKER, b"token-one"), gzipped(part, body, MARKER, b"t2")
    assert one.startswith(part.deflated) and two.startswith(part.deflated)
    assert len(one) <= len(gzip.compress(body.replace(MARKER, b"token-one"), 6)) + 64


def test_only_text_of_some_size_not_encoded_already_is_compressed() -> None:
    html = [(b"content-type", b"text/html; charset=utf-8")]
    assert worth_it(b"x" * 2000, html)
    assert worth_it(b"x" * 2000, [(b"Content-Type", b"application/atom+xml")])
    assert worth_it(b"x" * 2000, [(b"content-type", b"application/json")])
    assert not worth_it(b"x" * 100, html)
    assert not worth_it(b"x" * 2000, [(b"content-type", b"image/webp")])
    assert not worth_it(b"x" * 2000, [*html, (b"content-encoding", b"br")])
