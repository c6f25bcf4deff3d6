"""Ids and timestamps in the formats the Jaaz UI and database use."""

import re
from collections import Counter

from muralist.ids import new_id, new_name, now_iso


def test_new_id_uses_the_whole_url_safe_alphabet() -> None:
    ids = [new_id(16) for _ in range(5_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16}", i) for i in ids)
    letters = Counter("".join(ids))
    assert len(letters) == 64
    # 80,000 draws of 64 letters: each expected 1,250 times; a skewed mapping would show.
    assert min(letters.values()) > 1_000 and max(letters.values()) < 1_500


def test_names_and_timestamps() -> None:
    assert re.fullmatch(r"[A-Za-z0-9]{10}", new_name())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now_iso())
