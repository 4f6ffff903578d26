"""The first storage back end: a generation as a folder (FAISS, bm25s, SQLite).

Importing the package registers its writer under the name ``folder`` (``indexing.writer``),
so the builder can write the store that manifests name.
"""

from .backend import FolderBackend
from .writer import FolderWriter

__all__ = ["FolderBackend", "FolderWriter"]
