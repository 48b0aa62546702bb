"""The ``finintel`` command line: a thin layer over the library."""
