"""The second storage back end: a generation in PostgreSQL, vectors in pgvector.

Documents, chunks, vectors (an HNSW index per generation) and the keyword side's BM25
postings live in tables keyed by generation; one row (``current_generation``) names the
published one, and publishing switches it in one transaction. Any number of ``serve``
instances read one database; one writer at a time holds an advisory lock.
"""

from .connection import is_database, shown

__all__ = ["is_database", "shown"]
