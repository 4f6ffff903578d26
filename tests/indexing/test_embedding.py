"""The choice of precision, from what /proc/cpuinfo says (no model needed)."""

from __future__ import annotations

import pytest

from sendsearch.indexing.embedding import bf16_is_faster


@pytest.mark.parametrize(
    ("vendor", "flags", "faster"),
    [
        ("AuthenticAMD", "avx2 avx512f avx512_bf16", True),  # EPYC: 1.7x fp32
        ("GenuineIntel", "avx2 avx512f avx512_bf16 amx_bf16 amx_tile", True),  # AMX
        ("GenuineIntel", "avx2 avx512f avx512_bf16", False),  # a Xeon VM without AMX: 0.6x fp32
        ("GenuineIntel", "avx2 avx512f", False),  # emulated: five times slower
        ("AuthenticAMD", "avx2", False),
    ],
)
def test_bf16_only_where_it_was_measured_faster(vendor, flags, faster):
    cpuinfo = f"processor\t: 0\nvendor_id\t: {vendor}\nflags\t\t: fpu vme {flags}\n"
    assert bf16_is_faster(cpuinfo) is faster
