"""Any record, however odd its fields, becomes a document or a ValueError (Hypothesis).

Apart from tests/test_hostile_input.py so that `make check`, which leaves slow tests out,
does not import Hypothesis at all.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sendsearch.sources import parliament

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
record_fields = st.sampled_from([*parliament._FIELD_TYPES, "id", "value"])


@pytest.mark.slow  # 300 examples: seconds of CPU
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.dictionaries(record_fields, json_values, max_size=8),
    st.integers(1, 10**9) | st.text(min_size=1, max_size=6),
)
def test_any_record_either_becomes_a_document_or_raises_value_error(record, record_id):
    with contextlib.suppress(ValueError):
        parliament.record_to_document({**record, "id": record_id})
