"""Documents to an index: chunking, embedding, the manifest, a generation's layout, the builder."""
