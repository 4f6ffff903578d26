"""Make the calibration texts that int8 quantisation runs through the model
(src/sendsearch/data/int8-calibration.json.gz).

    python tools/make_int8_calibration.py [--texts 300]

Source: the bundled corpus/ only (never the evaluation sets, whose questions measure the
result), read and chunked exactly as a build does with the default model, then every k-th
chunk text in the build's order, so that the set covers every kind of document there in
proportion. Shipped with the package because a wheel has no corpus/; the same corpus gives
the same file, byte for byte (gzip without a timestamp).
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from sendsearch.indexing.chunking import ChunkingConfig, chunk_documents
from sendsearch.indexing.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder
from sendsearch.sources.readers import read_paths

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "sendsearch" / "data" / "int8-calibration.json.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    # fp32: only its tokenizer is used here, to count word pieces as a build does.
    embedder = SentenceTransformerEmbedder(DEFAULT_MODEL, precision="fp32")
    documents = list(read_paths([ROOT / "corpus"]))
    config = ChunkingConfig().within(embedder.max_tokens)
    chunks = chunk_documents(documents, embedder.count_tokens, config)
    # Each distinct text once (answers repeat each other word for word), in the build's order.
    texts = list(dict.fromkeys(c.text for document_chunks in chunks for c in document_chunks))
    step = max(1, len(texts) // args.texts)
    chosen = texts[::step][: args.texts]
    payload = json.dumps(chosen, ensure_ascii=False, indent=0).encode()
    args.out.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    print(f"{len(chosen)} of {len(texts)} distinct chunk texts from {len(documents)} documents -> {args.out}")


if __name__ == "__main__":
    main()
