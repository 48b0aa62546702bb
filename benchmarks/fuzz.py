"""Long fuzzing of the readers, outside the normal test suite.

    python benchmarks/fuzz.py [--examples 5000]

Runs the property tests of tests/test_properties.py (mutated goAML reports, random CSV tables, store round trips)
with the hypothesis profile "long": every mutated input must give problems or success, never an exception, and
counts must reconcile. A failure prints the reproducing example (print_blob).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--examples", type=int, default=5000)
    args = ap.parse_args()
    env = {**os.environ, "FININTEL_FUZZ_EXAMPLES": str(args.examples)}
    return subprocess.call(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(ROOT / "tests" / "test_properties.py"),
            "--hypothesis-profile=long",
            "-k",
            "never_crashes",
        ],
        env=env,
        cwd=ROOT,
    )


if __name__ == "__main__":
    raise SystemExit(main())
