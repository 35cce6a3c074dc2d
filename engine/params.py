"""Parameter specs (VCV Rack's configParam: min/max/default/unit) and smoothing."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Param:
    """A node parameter. Param names are public API: saved patches use them.

    ``type`` is one of float, int, bool, str. ``choices`` turns a str param into an enum.
    ``log`` asks editors for a logarithmic knob. ``smooth_ms`` > 0 means changes glide
    (the node reads the glide through :class:`Smoother`). ``structural`` declares that the
    node uses the value in ``prepare`` (buffer sizes, filterbanks, a seed): a change needs
    prepare again, which the engine does (a running engine re-prepares exactly the nodes
    whose structural params changed, crossfaded like any swap). ``primary`` marks the one
    to three params an editor shows as compact controls on the node itself (its face).
    """

    name: str
    min: float = 0.0
    max: float = 1.0
    default: object = 0.0
    type: type = float
    unit: str = ""
    choices: tuple = ()
    log: bool = False
    smooth_ms: float = 0.0
    doc: str = ""
    legacy_names: tuple = ()
    structural: bool = False
    primary: bool = False

    @staticmethod
    def choice(name: str, choices, default: str, doc: str = "", legacy_names=(),
               structural: bool = False, primary: bool = False) -> "Param":
        return Param(name, 0, len(choices) - 1, default, str, choices=tuple(choices), doc=doc,
                     legacy_names=tuple(legacy_names), structural=structural, primary=primary)

    @staticmethod
    def flag(name: str, default: bool, doc: str = "", structural: bool = False,
             primary: bool = False) -> "Param":
        return Param(name, 0, 1, bool(default), bool, doc=doc, structural=structural, primary=primary)

    @staticmethod
    def text(name: str, default: str = "", doc: str = "") -> "Param":
        return Param(name, 0, 0, default, str, doc=doc)

    def validate(self, value, where: str = "") -> object:
        """Return `value` coerced to this param's type, or raise ValueError naming the fault.

        Numbers outside [min, max] are rejected (patch files must be explicit); use
        :meth:`clamp` for knob input.
        """
        label = where or self.name
        if self.type is bool:
            if isinstance(value, bool):
                return value
            raise ValueError(f"{label}: expected true or false, got {_show(value)}")
        if self.type is str:
            if not isinstance(value, str):
                raise ValueError(f"{label}: expected a string, got {_show(value)}")
            if self.choices and value not in self.choices:
                raise ValueError(f"{label}: expected one of {list(self.choices)}, got {_show(value)}")
            if len(value) > 4096:
                raise ValueError(f"{label}: string longer than 4096 characters")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{label}: expected a number, got {_show(value)}")
        if isinstance(value, int) and abs(value) > 1e300:  # float() of a huge JSON integer overflows
            raise ValueError(f"{label}: {_show(value)} is outside [{self.min}, {self.max}]")
        if not math.isfinite(value):
            raise ValueError(f"{label}: expected a finite number, got {value}")
        if self.type is int:
            if float(value) != int(value):
                raise ValueError(f"{label}: expected an integer, got {value}")
            value = int(value)
        else:
            value = float(value)
        if value < self.min or value > self.max:
            raise ValueError(f"{label}: {value} is outside [{self.min}, {self.max}]"
                             + (f" {self.unit}" if self.unit else ""))
        return value

    def clamp(self, value):
        """Coerce a knob value into range (numbers only)."""
        if self.type in (float, int):
            value = min(max(float(value), self.min), self.max)
            return int(round(value)) if self.type is int else value
        return self.validate(value)

    def spec_dict(self) -> dict:
        d = {"name": self.name, "type": self.type.__name__, "default": self.default}
        if self.type in (float, int):
            d.update(min=self.min, max=self.max)
        if self.unit:
            d["unit"] = self.unit
        if self.choices:
            d["choices"] = list(self.choices)
        if self.log:
            d["log"] = True
        if self.structural:
            d["structural"] = True
        if self.primary:
            d["primary"] = True
        if self.doc:
            d["doc"] = self.doc
        return d


def _show(value) -> str:
    if isinstance(value, str):  # one line, control characters escaped
        return json.dumps(value[:40]) if len(value) <= 40 else json.dumps(value[:40])[:-1] + '..."'
    return repr(value)[:60]


class Smoother:
    """Linear glide of a param value over ``smooth_ms``, sample-accurate and block-size invariant.

    ``fill(out)`` writes the per-sample values of the next ``len(out)`` samples and
    advances; ``steady`` tells whether the value is constant (then use ``value``).
    """

    __slots__ = ("value", "target", "_step", "_remaining", "_ramp_samples", "_index")

    def __init__(self, value: float, smooth_ms: float, sample_rate: float):
        self.value = float(value)
        self.target = float(value)
        self._step = 0.0
        self._remaining = 0
        self._ramp_samples = max(1, int(round(smooth_ms * 1e-3 * sample_rate)))
        self._index = np.arange(1, self._ramp_samples + 1, dtype=np.float32)

    @property
    def steady(self) -> bool:
        return self._remaining == 0

    def set_target(self, target: float) -> None:
        self.target = float(target)
        if self.target == self.value:
            self._remaining = 0
            return
        self._remaining = self._ramp_samples
        self._step = (self.target - self.value) / self._ramp_samples

    def jump(self, value: float) -> None:
        self.value = self.target = float(value)
        self._remaining = 0

    def fill(self, out: np.ndarray) -> None:
        """out: float32 [n]; the glide values for the next n samples."""
        n = out.shape[0]
        if self._remaining == 0:
            out.fill(self.value)
            return
        k = min(n, self._remaining)
        # value after sample i is value + (i+1)*step
        np.multiply(self._index[:k], np.float32(self._step), out=out[:k])
        out[:k] += self.value
        self._remaining -= k
        if self._remaining == 0:
            self.value = self.target
        else:
            self.value += k * self._step
        out[k:] = self.value
