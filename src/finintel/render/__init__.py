"""Renderers: turn library results into text (rich), JSON and JUnit. The CLI picks one by ``--format``."""
