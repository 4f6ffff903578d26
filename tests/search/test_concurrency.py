"""Searches from several threads at once, including while an update is being written."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sendsearch import Index
from sendsearch.indexing.builder import update_index

from ..conftest import FakeEmbedder

QUESTIONS = [
    "How much does Stockport spend on SEND?",
    "EHC needs assessment capacity",
    "high needs funding 2022",
    "written statement of action",
]


@pytest.mark.slow  # hundreds of searches
def test_parallel_searches_agree_with_serial_ones(seed_index):
    expected = {q: [p.doc_id for p in seed_index.search(q, k=5)] for q in QUESTIONS}
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda q: (q, [p.doc_id for p in seed_index.search(q, k=5)]), QUESTIONS * 25))
    assert all(ids == expected[q] for q, ids in results)


@pytest.mark.slow  # seconds of searching beside an update
def test_searches_during_an_update_see_the_old_or_the_new_index(seed_index, fake_embedder, tmp_path, corpus_copy):
    new = tmp_path / "new"
    new.mkdir()
    for i in range(40):
        (new / f"short-breaks-{i}.txt").write_text(
            f"Short breaks {i}\n\nShort breaks for disabled children, scheme {i}.", encoding="utf-8"
        )
    # What the index answers once the update is published, from a separate copy updated the same way.
    after_index, _ = Index.build([corpus_copy], tmp_path / "after", embedder=fake_embedder)
    after_index.add([new])
    query = "short breaks for disabled children"
    after = [p.doc_id for p in after_index.search(query, k=3)]

    # The writer embeds only once the searches beside it have looked six times, however slow
    # the machine: the overlap is made by events, not by sleeping.
    looked_enough = threading.Event()

    class Slow(FakeEmbedder):
        def encode(self, texts, batch_size=32):
            looked_enough.wait(timeout=300)
            return super().encode(texts)

    before = [p.doc_id for p in seed_index.search(query, k=3)]
    assert before != after
    writer = threading.Thread(target=update_index, args=(seed_index.directory, Slow()), kwargs={"add": [new]})
    writer.start()
    seen, errors = [], []
    while writer.is_alive():
        try:
            seen.append(seed_index.manifest.documents)
            assert [p.doc_id for p in seed_index.search(query, k=3)] in (before, after)
        except Exception as error:  # noqa: BLE001 - any failure during the update is the bug
            errors.append(error)
        if len(seen) > 5:
            looked_enough.set()
        time.sleep(0.01)
    writer.join()
    assert errors == []
    assert len(seen) > 5
    assert set(seen) <= {5, 45}
    assert seed_index.manifest.documents == 45
    assert seed_index.search("short breaks scheme 7", k=1)[0].doc_id.startswith("short-breaks-")
