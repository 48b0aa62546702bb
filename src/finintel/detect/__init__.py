"""Built-in detectors. Each is a function ``(Context, params, filters) -> list[Hit]`` with a pydantic params
model; rules (``rules/*.toml``) choose a detector by name and set its parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from finintel.detect import layering, shell, va
from finintel.detect.base import Context, Filters, Finding, Hit, Reference


@dataclass(frozen=True)
class Detector:
    name: str
    params: type[BaseModel]
    run: Callable[[Context, Any, Filters], list[Hit]]

    @property
    def doc(self) -> str:
        return (self.run.__doc__ or "").strip()


DETECTORS: dict[str, Detector] = {
    d.name: d
    for d in [
        Detector("fan_out", layering.FanParams, layering.fan_out),
        Detector("fan_in", layering.FanParams, layering.fan_in),
        Detector("scatter_gather", layering.ScatterParams, layering.scatter_gather),
        Detector("gather_scatter", layering.GatherScatterParams, layering.gather_scatter),
        Detector("temporal_cycle", layering.CycleParams, layering.temporal_cycle),
        Detector("pass_through", layering.PassThroughParams, layering.pass_through),
        Detector("structuring", layering.StructuringParams, layering.structuring),
        Detector("shell_chain", shell.ShellParams, shell.shell_chain),
        Detector("va_hop_chain", va.HopChainParams, va.va_hop_chain),
        Detector("va_mixer", va.MixerParams, va.va_mixer),
        Detector("va_chain_hop", va.ChainHopParams, va.va_chain_hop),
        Detector("va_peel_chain", va.PeelParams, va.va_peel_chain),
    ]
}

__all__ = ["DETECTORS", "Context", "Detector", "Filters", "Finding", "Hit", "Reference"]
