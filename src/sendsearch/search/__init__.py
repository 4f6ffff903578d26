"""Searching a published index: settings, the storage seam, the ranking pipeline, ``Index``."""
