"""Docs match the code: generated blocks are current, every CLI command has help, the README commands exist."""

from __future__ import annotations

from conftest import ROOT
from finintel import docgen


def test_generated_docs_are_current() -> None:
    assert docgen.main([str(ROOT / "docs"), "--check"]) == 0


def test_every_command_has_help(cli) -> None:
    top = cli("--help").stdout
    for command in ("validate", "ingest", "synth"):
        assert command in top
        out = cli(command, "--help").stdout
        assert "Usage:" in out and "Exit" in out


def test_readme_has_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e '.[dev]'" in readme and "sample_data/" in readme
    assert "python -m pytest" in readme


def test_architecture_doc_names_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    for module in sorted((ROOT / "src" / "finintel").rglob("*.py")):
        rel = module.relative_to(ROOT / "src").with_suffix("")
        if module.name in ("__init__.py", "__main__.py") or "render" in rel.parts:
            continue
        assert str(rel).replace("/", ".").removeprefix("finintel.") in text, rel


def test_synth_doc_names_every_knob() -> None:
    from finintel.synth.config import TYPOLOGIES, Knobs, SynthConfig

    text = (ROOT / "docs" / "synth.md").read_text()
    for name in (*Knobs.model_fields, *SynthConfig.model_fields, *TYPOLOGIES):
        assert f"`{name}`" in text, name
