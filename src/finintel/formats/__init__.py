"""Readers and writers of input formats: goAML XML and the canonical tabular dataset."""
