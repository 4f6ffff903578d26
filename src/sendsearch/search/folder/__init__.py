"""The first storage back end: a generation as a folder (FAISS, bm25s, SQLite)."""
