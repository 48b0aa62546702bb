"""Long fuzzing of the readers and of validate's compiled pass, outside the normal test suite.

    python benchmarks/fuzz.py [--examples 5000] [--asan]

Runs the property tests of tests/test_properties.py (mutated goAML reports, random CSV tables, store round trips)
and tests/test_fast_validate.py (mutated reports and bytes through the compiled pass, whose certified files must be
clean for the walk) with the hypothesis profile "long": every mutated input must give problems or success, never
an exception, and counts must reconcile. A failure prints the reproducing example (print_blob).

``--asan`` builds the compiled pass (``src/finintel/formats/goaml/_scan.c``) with AddressSanitizer and
UndefinedBehaviorSanitizer into a temporary copy of the source tree and runs the compiled-pass properties and the
hostile corpus against it: any out-of-bounds read or write, use after free, overflow or undefined behaviour aborts
the run with the sanitizer's report. Needs gcc and its libasan (Debian: gcc, libasan8).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pytest(args: list[str], env: dict[str, str], cwd: Path) -> int:
    return subprocess.call(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hypothesis-profile=long", *args],
        env=env,
        cwd=cwd,
    )


def _asan(env: dict[str, str]) -> int:
    """The compiled-pass properties and the hostile corpus against a sanitizer build of _scan.c."""
    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True, check=True)
    library = libasan.stdout.strip()
    if not Path(library).is_file():
        print(f"no libasan ({library}): install gcc's AddressSanitizer runtime", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in ("src", "tests", "benchmarks", "sample_data", "pyproject.toml"):  # (a test uses benchmarks/)
            source = ROOT / name
            if source.is_dir():
                skip = shutil.ignore_patterns("*.so", "__pycache__", ".cache")  # (not the cached benchmark data)
                shutil.copytree(source, work / name, ignore=skip)
            else:
                shutil.copy2(source, work / name)
        package = work / "src" / "finintel" / "formats" / "goaml"
        target = package / f"_scan{sysconfig.get_config_var('EXT_SUFFIX')}"
        subprocess.run(
            [
                "gcc",
                "-shared",
                "-fPIC",
                "-g",
                "-O1",
                "-fno-omit-frame-pointer",
                "-fsanitize=address,undefined",
                "-fno-sanitize-recover=undefined",
                "-Wall",
                "-Wextra",
                f"-I{sysconfig.get_paths()['include']}",
                str(package / "_scan.c"),
                "-o",
                str(target),
            ],
            check=True,
        )
        sanitized = {
            **env,
            "LD_PRELOAD": library,
            "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
            "UBSAN_OPTIONS": "print_stacktrace=1",
            "PYTHONPATH": os.pathsep.join(str(p) for p in (work / "src", work / "tests", work)),
        }
        probe = subprocess.run(
            [sys.executable, "-c", "from finintel.formats.goaml import _scan; print(_scan.__file__)"],
            env=sanitized,
            capture_output=True,
            text=True,
            check=True,
        )
        if probe.stdout.strip() != str(target):
            print(f"the sanitizer build is not the one imported: {probe.stdout.strip()}", file=sys.stderr)
            return 2
        return _pytest(["tests/test_fast_validate.py", "tests/test_hostile.py"], sanitized, work)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=5000)
    ap.add_argument("--asan", action="store_true", help="fuzz a sanitizer build of the compiled pass")
    args = ap.parse_args()
    env = {**os.environ, "FININTEL_FUZZ_EXAMPLES": str(args.examples)}
    if args.asan:
        return _asan(env)
    return _pytest(
        [
            str(ROOT / "tests" / "test_properties.py"),
            str(ROOT / "tests" / "test_fast_validate.py"),
            "-k",
            "never_crash or certified",
        ],
        env,
        ROOT,
    )


if __name__ == "__main__":
    raise SystemExit(main())
