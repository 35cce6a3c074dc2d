"""Write small TorchScript modules that follow the nn~ (nn-tilde) export conventions.

Run from the repository root (seeded; the files are committed, so this only needs to
run again when the fixtures change):

    .venv/bin/python tests/data/make_nn_tilde_fixtures.py   # -> tests/data/nn_tilde/*.ts

The modules are written from scratch with plain torch (``torch.jit.script`` +
``torch.jit.save``); they reproduce the *interface* of RAVE models exported for nn~,
with random weights, so the loader of ``vae.rave`` can be tested without the real
packages (which pin old torch versions and cannot be installed here).

Files
-----
``nn15_mono.ts``
    An nn-tilde 1.5-era export: int attribute ``sr`` = 44100, no ``get_sample_rate``;
    1 audio channel, 4 latent dimensions, ratio 64; methods encode / decode / forward.
``nn16_stereo.ts``
    An nn-tilde 1.6-era export: ``get_sample_rate()`` = 48000 (and the ``sr``
    attribute it reads, typed ``Optional[int]``); 2 audio channels in and out,
    3 latent dimensions, ratio 32.
``marker_on_load.ts``
    A valid mono nn~ module (forward only, ``sr`` = 48000) whose *loading* writes the
    file ``np_marker_loaded`` in the current directory, before any method is called.

Streaming structure (both nn15 / nn16)
--------------------------------------
encode: three causal strided convolutions (kernel 2 * stride, stride product = ratio),
each with a cached left context ``<layer>.cache.pad`` [64, C_in, kernel - 1] and a
zero-sized ``<layer>.downsampling_delay.pad`` [64, C_in, 0] (the layout of cached_conv,
which RAVE uses); decode: three transposed convolutions (kernel 2 * stride) that
overlap-add through ``<layer>.cache`` [64, C_out, stride], then the ``gain`` attribute.
The leading 64 is the batch cap: caches are sliced ``[:batch]``. The exported caches are
filled with seeded noise (real exports ship whatever the last test call left there), so
a loader must zero every buffer whose name ends in ``.pad`` / ``.cache`` (or ``pad`` /
``cache``) on load and on reset. From zeroed caches, calling a method chunk by chunk
(chunks a multiple of its input ratio) equals one call on the whole signal.

What differs between nn-tilde 1.5 and 1.6 exports (read from acids-ircam/nn_tilde
``python_tools`` at tags v1.5.6 and v1.6.0, its C++ backend, and RAVE's
``scripts/export.py``), and what the fixtures reproduce:

* Sample rate. nn~ 1.5 itself never reads a rate; RAVE's exporter stores its own int
  attribute ``sr`` on the module. nn-tilde 1.6 declares ``sr`` as an ``Optional[int]``
  attribute, exports ``get_sample_rate() -> int`` (``-1`` when ``sr`` is None) and
  ``set_sample_rate(sample_rate)``. The 1.6 host calls ``set_sample_rate(<host rate>)``
  right after loading, which overwrites ``sr``: a loader must read
  ``get_sample_rate()`` *before* calling anything else and should not call
  ``set_sample_rate`` itself (RAVE exports run at their own rate regardless).
* ``get_attributes()``: 1.5 starts the list with a placeholder ``"none"`` (the host
  skips it); 1.6 lists only real attributes.
* ``<attribute>_params`` buffers (type codes: bool 0, int 1, float 2, str 3, tensor 4,
  1.6 adds buffer 5): float tensor in 1.5 (``torch.Tensor(codes)``), int64 in 1.6.
* Attribute getters: in 1.5 models write their own (RAVE's return a scalar,
  ``get_x() -> bool``); 1.6 generates missing ones that return a *tuple*
  (``get_x() -> Tuple[float]``) and setters ``set_x(x0: float) -> int``. The host
  accepts a list, a tuple or a scalar, so a loader must too. Values are stored as
  tuples (``self.x = (value,)``) in both.
* 1.6 adds buffer attributes: exported ``get_buffer_attributes() -> List[str]``,
  ``is_buffer_empty(name)``, ``set_buffer_attribute(name, tensor, sr)``,
  ``clear_buffer_attribute(name)``.
* Unchanged: ``get_methods()``, ``<method>_params`` = int64 [in_ch, in_ratio,
  out_ch, out_ratio], ``<method>_input_labels`` / ``_output_labels`` (List[str]),
  [batch, channels, time] float tensors, the cached_conv cache layout, batch cap 64.
  When ``get_methods`` is missing, the host falls back to every method that has a
  ``<method>_params`` attribute.

The marker mechanism: ``torch.jit.load`` restores a scripted module by calling its
exported ``__setstate__``; that method is TorchScript, so it can call
``torch.from_file(name, shared=True, size=1)``, which mmaps ``name`` and creates it if it
does not exist (a relative name lands in the current directory). The op's result must
be used (here it sets ``loaded_marker_bytes``), otherwise the TorchScript optimiser
drops it. ``__setstate__`` must assign every attribute and buffer of the module itself.
Verified with torch 2.13: loading creates ``./np_marker_loaded`` (1 byte, mode 0600);
saving only calls ``__getstate__`` and creates nothing.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parent / "nn_tilde"
MAX_BATCH = 64
SEED = 20240611
MARKER_NAME = "np_marker_loaded"


class CachedPad(torch.nn.Module):
    """Left context of a causal convolution: prepends the previous call's last ``size``
    samples (zeros after a reset) and keeps this call's last ``size`` samples."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.size = size
        self.register_buffer("pad", torch.zeros(MAX_BATCH, channels, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return x
        b = x.shape[0]
        x = torch.cat([self.pad[:b], x], -1)
        self.pad[:b].copy_(x[..., -self.size:])
        return x


class StreamConv(torch.nn.Module):
    """Causal strided convolution [B, C_in, T] -> [B, C_out, T / stride], T a multiple of
    stride. Buffers: ``cache.pad`` [64, C_in, kernel - 1], ``downsampling_delay.pad``
    [64, C_in, 0]."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        kernel = 2 * stride
        self.stride = stride
        self.weight = torch.nn.Parameter(torch.randn(c_out, c_in, kernel) / (c_in * kernel) ** 0.5)
        self.bias = torch.nn.Parameter(0.1 * torch.randn(c_out))
        self.downsampling_delay = CachedPad(c_in, 0)
        self.cache = CachedPad(c_in, kernel - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cache(self.downsampling_delay(x))
        return F.conv1d(x, self.weight, self.bias, self.stride)


class StreamConvTranspose(torch.nn.Module):
    """Upsampling by ``stride`` [B, C_in, T] -> [B, C_out, T * stride]: a transposed
    convolution (kernel 2 * stride) whose tail overlaps the next call through ``cache``
    [64, C_out, stride]."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.stride = stride
        self.weight = torch.nn.Parameter(torch.randn(c_in, c_out, 2 * stride) / (c_in * 2) ** 0.5)
        self.bias = torch.nn.Parameter(0.1 * torch.randn(c_out))
        self.register_buffer("cache", torch.zeros(MAX_BATCH, c_out, stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        y = F.conv_transpose1d(x, self.weight, None, self.stride)
        s = self.stride
        head = y[..., :s] + self.cache[:b]
        self.cache[:b].copy_(y[..., -s:])
        y = torch.cat([head, y[..., s:-s]], -1)
        return y + self.bias.unsqueeze(-1)


class Encoder(torch.nn.Module):
    def __init__(self, channels: int, latent: int, strides: List[int], hidden: int = 8):
        super().__init__()
        sizes = [channels] + [hidden] * (len(strides) - 1) + [latent]
        self.net = torch.nn.ModuleList([StreamConv(sizes[i], sizes[i + 1], s) for i, s in enumerate(strides)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(self.net)
        for i, layer in enumerate(self.net):
            x = layer(x)
            if i < n - 1:
                x = torch.tanh(x)
        return x


class Decoder(torch.nn.Module):
    def __init__(self, latent: int, channels: int, strides: List[int], hidden: int = 8):
        super().__init__()
        sizes = [latent] + [hidden] * (len(strides) - 1) + [channels]
        self.net = torch.nn.ModuleList(
            [StreamConvTranspose(sizes[i], sizes[i + 1], s) for i, s in enumerate(strides)])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n = len(self.net)
        for i, layer in enumerate(self.net):
            z = layer(z)
            if i < n - 1:
                z = torch.tanh(z)
        return z


def _ratio(strides: List[int]) -> int:
    r = 1
    for s in strides:
        r *= s
    return r


def _register_methods(module: torch.nn.Module, channels: int, latent: int, ratio: int) -> None:
    """The nn~ method tables (RAVE's label style)."""
    audio = [f"(signal) Channel {i + 1}" for i in range(channels)]
    lat = [f"(signal) Latent dimension {i + 1}" for i in range(latent)]
    table = {"encode": (channels, 1, latent, ratio, audio, lat),
             "decode": (latent, ratio, channels, 1, lat, audio),
             "forward": (channels, 1, channels, 1, audio, audio)}
    for name, (ci, ri, co, ro, lin, lout) in table.items():
        module.register_buffer(f"{name}_params", torch.tensor([ci, ri, co, ro]))
        setattr(module, f"{name}_input_labels", lin)
        setattr(module, f"{name}_output_labels", lout)


class Nn15Model(torch.nn.Module):
    """nn-tilde 1.5-era export: int ``sr``, ``get_attributes()`` = ["none", "gain"], float
    ``gain_params``, hand-written scalar getter ``get_gain() -> float``."""

    def __init__(self, sr: int, channels: int, latent: int, strides: List[int]):
        super().__init__()
        self.sr = sr
        self.encoder = Encoder(channels, latent, strides)
        self.decoder = Decoder(latent, channels, list(reversed(strides)))
        _register_methods(self, channels, latent, _ratio(strides))
        self._methods = ["encode", "decode", "forward"]
        self._attributes = ["none", "gain"]
        self.gain = (1.0,)
        self.register_buffer("gain_params", torch.Tensor([2]))

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z) * self.gain[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return self._attributes

    @torch.jit.export
    def get_gain(self) -> float:
        return self.gain[0]

    @torch.jit.export
    def set_gain(self, gain: float) -> int:
        self.gain = (gain,)
        return 0


class Nn16Model(torch.nn.Module):
    """nn-tilde 1.6-era export: ``Optional[int]`` ``sr`` read by ``get_sample_rate()``,
    ``set_sample_rate``, ``get_attributes()`` = ["gain"], int64 ``gain_params``, generated
    tuple getter ``get_gain() -> Tuple[float]``, buffer-attribute methods."""

    def __init__(self, sr: int, channels: int, latent: int, strides: List[int]):
        super().__init__()
        self.sr = torch.jit.Attribute(sr, Optional[int])
        self.encoder = Encoder(channels, latent, strides)
        self.decoder = Decoder(latent, channels, list(reversed(strides)))
        _register_methods(self, channels, latent, _ratio(strides))
        self._methods = ["encode", "decode", "forward"]
        self._attributes = ["gain"]
        self._buffer_attributes = torch.jit.Attribute([], List[str])
        self.gain = (1.0,)
        self.register_buffer("gain_params", torch.LongTensor([2]))

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z) * self.gain[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return self._attributes

    @torch.jit.export
    def get_sample_rate(self) -> int:
        sr = self.sr
        if sr is None:
            return -1
        return int(sr)

    @torch.jit.export
    def set_sample_rate(self, sample_rate: Optional[int]) -> None:
        if sample_rate is not None:
            self.sr = sample_rate

    @torch.jit.export
    def get_gain(self) -> Tuple[float]:
        return (self.gain[0],)

    @torch.jit.export
    def set_gain(self, gain0: float) -> int:
        self.gain = (gain0,)
        return 0

    @torch.jit.export
    def get_buffer_attributes(self) -> List[str]:
        return self._buffer_attributes

    @torch.jit.export
    def is_buffer_empty(self, buffer_name: str) -> bool:
        return True

    @torch.jit.export
    def set_buffer_attribute(self, buffer_name: str, buffer: torch.Tensor, sr: int) -> int:
        return -1

    @torch.jit.export
    def clear_buffer_attribute(self, buffer_name: str) -> None:
        return


class MarkerOnLoad(torch.nn.Module):
    """A mono nn~ module (forward = a gain of 0.5, ``sr`` = 48000) whose restoring
    ``__setstate__`` creates ``./np_marker_loaded`` when ``torch.jit.load`` reads it."""

    def __init__(self):
        super().__init__()
        self.sr = 48000
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))
        self.forward_input_labels = ["(signal) Channel 1"]
        self.forward_output_labels = ["(signal) Channel 1"]
        self._methods = ["forward"]
        self._attributes = ["none"]
        self.loaded_marker_bytes = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return self._attributes

    @torch.jit.export
    def __getstate__(self) -> Tuple[int, torch.Tensor, List[str], List[str], List[str], List[str], bool]:
        return (self.sr, self.forward_params, self.forward_input_labels, self.forward_output_labels,
                self._methods, self._attributes, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[int, torch.Tensor, List[str], List[str], List[str], List[str], bool]) -> None:
        self.sr = state[0]
        self.forward_params = state[1]
        self.forward_input_labels = state[2]
        self.forward_output_labels = state[3]
        self._methods = state[4]
        self._attributes = state[5]
        self.training = state[6]
        marker = torch.from_file("np_marker_loaded", shared=True, size=1, dtype=torch.uint8)
        self.loaded_marker_bytes = int(marker.numel())


def _fill_caches(module: torch.nn.Module, gen: torch.Generator) -> None:
    """Seeded noise in every non-empty cache buffer, as a careless export leaves them."""
    with torch.no_grad():
        for name, buf in module.named_buffers():
            if (name.endswith("pad") or name.endswith("cache")) and buf.numel():
                buf.copy_(torch.randn(buf.shape, generator=gen))


def _warm_up(module: torch.nn.Module, channels: int, ratio: int) -> None:
    """What an exporter does before scripting: one test call per method (nn~ calls each
    method on 8192 samples), which also leaves non-zero state in the caches."""
    with torch.no_grad():
        z = module.encode(torch.randn(1, channels, 8192))
        module.decode(z)
        module(torch.randn(4, channels, 8192))


def build(seed: int = SEED) -> dict:
    """The three fixture modules, scripted: {"nn15_mono.ts": ..., ...}."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    nn15 = Nn15Model(44100, channels=1, latent=4, strides=[4, 4, 4]).eval()
    _warm_up(nn15, 1, 64)
    _fill_caches(nn15, gen)
    nn16 = Nn16Model(48000, channels=2, latent=3, strides=[4, 4, 2]).eval()
    _warm_up(nn16, 2, 32)
    _fill_caches(nn16, gen)
    marker = MarkerOnLoad().eval()
    return {"nn15_mono.ts": torch.jit.script(nn15), "nn16_stereo.ts": torch.jit.script(nn16),
            "marker_on_load.ts": torch.jit.script(marker)}


def _check_marker(path: Path) -> None:
    """Load ``path`` in a scratch folder and confirm that loading alone made the marker."""
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            module = torch.jit.load(str(path))
            if not Path(MARKER_NAME).is_file():
                raise RuntimeError(f"loading {path.name} did not create {MARKER_NAME}")
            if module.loaded_marker_bytes != 1:
                raise RuntimeError("marker mapping has the wrong size")
        finally:
            os.chdir(here)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, module in build().items():
        path = OUT / name
        torch.jit.save(module, str(path))
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path} "
              f"({path.stat().st_size / 1024:.0f} kB)")
    _check_marker(OUT / "marker_on_load.ts")
    print(f"checked: loading marker_on_load.ts creates ./{MARKER_NAME}")


if __name__ == "__main__":
    main()
