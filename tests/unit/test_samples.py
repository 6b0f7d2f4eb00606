from __future__ import annotations

import pytest

from tests.support.samples import SAMPLE_PATH, SHARED_SAMPLE_PATH


@pytest.mark.skipif(not SHARED_SAMPLE_PATH.exists(), reason="no ../shared beside this clone")
def test_the_repository_copy_matches_the_shared_sample() -> None:
    assert SAMPLE_PATH.read_bytes() == SHARED_SAMPLE_PATH.read_bytes()
