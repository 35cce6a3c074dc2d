"""The node contract (pedalboard's prepare/process/reset/latency, VCV Rack's param specs).

A node is a plain Python class; it works without any editor widget::

    class Gain(Node):
        type_id = "example.gain"; version = 1
        inputs = [Port("in", "audio")]; outputs = [Port("out", "audio")]
        params = [Param("gain_db", -96, 24, 0.0, unit="dB", smooth_ms=20)]

        def prepare(self, ctx): ...          # allocate; set self.latency_samples
        def process(self, ins, outs, n): ... # fill outs; no allocation, locks or I/O
        def reset(self): ...                 # back to the state right after prepare

Lifecycle: ``__init__`` (defaults) -> ``set_state`` / ``set_param`` / ``set_resource``
-> ``prepare(ctx)`` (on a non-audio thread; may do I/O) -> ``process`` per block
-> ``finish()`` when a render or a live session stops (may do I/O). A node whose prepare
failed is bypassed and never called again (no ``reset``, ``process`` or ``finish``).

What the engine needs to know about a node it learns from declarations on the class
(capabilities), never from the type id: ``structural`` params, ``host_input`` /
``host_output``, ``breaks_feedback``, ``bypass_routes``, ``prepare_does_io``, ``display``
and, set in prepare, ``ctx.lane`` (the inference lane, :mod:`neuropatch.engine.lane`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .params import Param, Smoother
from .streams import Port, StreamSpec


@dataclass(frozen=True)
class Resource:
    """A file a node needs (``model``, ``ir``, ``file``). ``extensions`` are lower-case with dot;
    ``companions`` are the suffixes of files with the same stem that travel with it (a model's
    ``.json`` config written beside its weights)."""

    name: str
    extensions: tuple = ()
    doc: str = ""
    required: bool = False
    companions: tuple = ()


class HostIO:
    """The audio the host (render loop or sound card) exchanges with the graph this block.

    ``input``: float32 ``[in_channels, n]``; ``output``: float32 ``[out_channels, n]``,
    zeroed by the runtime before the graph runs; nodes declaring ``host_output`` add into it.
    """

    def __init__(self, in_channels: int, out_channels: int, block_size: int, sample_rate: int = 48000,
                 tempo: float = 120.0):
        from .events import Transport

        self.transport = Transport(sample_rate, tempo)   # tempo, play state, position (samples)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.input_buffer = np.zeros((in_channels, block_size), np.float32)
        self.output_buffer = np.zeros((out_channels, block_size), np.float32)
        self.input = self.input_buffer
        self.output = self.output_buffer

    def set_out_channels(self, channels: int) -> None:
        """Reallocate the output (compile time only, never while running)."""
        self.out_channels = channels
        self.output_buffer = np.zeros((channels, self.output_buffer.shape[1]), np.float32)
        self.output = self.output_buffer


@dataclass
class PrepareContext:
    """What a node learns in prepare().

    in_specs: port name -> :class:`StreamSpec` of the connected stream, or None when
    unconnected. out_specs: the node may set entries (frames outputs must be set:
    bins and hop); audio outputs not set get the channel count of the audio inputs.
    """

    node_id: str
    sample_rate: int
    block_size: int
    in_specs: dict
    out_specs: dict = field(default_factory=dict)
    host: HostIO | None = None
    base_dir: Path | None = None
    notes: list = field(default_factory=list)
    #: set by a node whose model runs in the inference lane (:class:`~.lane.LaneRequest`)
    lane: object = None

    def note(self, message: str) -> None:
        """Tell the user something (e.g. 'model runs at 44100 Hz, resampled')."""
        self.notes.append(f"node '{self.node_id}': {message}")


class Node:
    """Base class of every node. Subclasses declare class attributes and override the hooks."""

    type_id: str = ""
    version: int = 1
    legacy_ids: tuple = ()
    title: str = ""
    category: str = ""
    doc: str = ""
    inputs: list = []
    outputs: list = []
    params: list = []
    resources: list = []
    # ---- capabilities (the engine reads these; it never checks type ids) -------------------
    #: The node's output depends only on earlier blocks' input (a delay): the compiler may
    #: close feedback loops through it, calling ``set_feedback_mode`` and then
    #: ``process_feedback_read`` / ``process_feedback_write`` instead of ``process``.
    breaks_feedback: bool = False
    #: The node reads the host input (``ctx.host.input``): it binds per-schedule host buffers,
    #: so a running engine gives it a fresh instance in every new schedule.
    host_input: bool = False
    #: The node adds into the host output (``ctx.host.output``). The compiler aligns all host
    #: outputs to the slowest path (``set_alignment_delay``) and sizes the host output from
    #: ``host_out_channels``. Implies binding host buffers, like ``host_input``.
    host_output: bool = False
    #: What a bypassed node passes on (VCV Rack's configBypass): (input, output) port pairs
    #: of the same stream kind, copied when the node is bypassed; other outputs are silent.
    bypass_routes: tuple = ()
    #: prepare() reads files or loads models (or has other side effects): a check-only compile
    #: (the editor's background check) calls :meth:`check` instead.
    prepare_does_io: bool = False
    #: The model runs in the inference lane (prepare sets ``ctx.lane``).
    uses_lane: bool = False
    #: A sink whose ``finish()`` writes one file per render: ``"audio"`` ([channels, samples]
    #: float32 from ``result()``) or ``"npy"`` (any array from ``result()``). Batch renders
    #: store ``result()`` beside each input's output instead of calling ``finish()``.
    file_output: str | None = None
    #: The node is a display (a sink with no outputs whose ``process`` does nothing): an editor
    #: draws its input stream, read through the engine's tap of the input port (off the audio
    #: path), as this kind of view ("spectrogram", "scope", "meter", ...). The audio side
    #: does nothing for it beyond that tap.
    display: str = ""
    #: Samples the registry-wide contract tests feed (lower it for slow models).
    contract_samples: int = 4096
    #: Rough seconds its numba kernels take to compile on a first run (empty kernel cache);
    #: 0: none worth spreading. A cold warm-up compiles the heavier node types in child
    #: processes at the same time (:mod:`.warm_parallel`); a wrong value costs time only.
    #: A node whose kernels depend on its resources may set it on the instance in
    #: ``prepare`` (a convolution of a short response needs no FFT); the warm-up reads it there.
    compile_seconds: float = 0.0

    def start_interim(self):
        """For a node whose kernels are not compiled in this process yet but whose
        ``process`` has an interim path that needs none (slower, the same output to float32
        rounding, sharing the kernels' state): switch to that path and return a callable
        that compiles the kernels and switches back to them between two blocks. The live
        engine calls it on each freshly prepared node and runs the callable in a background
        thread, so an added node plays at once instead of after its compile. None (the
        default): nothing to compile or no interim path; the engine compiles the node's
        kernels before it starts."""
        return None

    @classmethod
    def contract_setup(cls, tmp_dir: Path) -> dict:
        """What the registry-wide contract tests should configure.

        Returns a dict with optional keys ``params`` (name -> value), ``resources``
        (name -> path, files may be written into tmp_dir) and ``inputs`` (port name ->
        {"channels", "bins", "hop"} for frames/latent inputs, {"channels"} for audio).
        """
        return {}

    def __init__(self):
        self.id = ""
        self.param_values: dict = {p.name: p.default for p in self.params}
        self.resource_paths: dict = {}
        self.resources_moved: dict = {}   # resource name -> where it was found instead (a note)
        self.latency_samples = 0
        self.sample_rate = 0
        self.block_size = 0
        self.error: str | None = None
        self._smoothers: dict = {}
        self._lane_request = None

    # ---- declaration helpers -------------------------------------------------------------

    @classmethod
    def param_spec(cls, name: str) -> Param:
        for p in cls.params:
            if p.name == name or name in p.legacy_names:
                return p
        family = cls.param_family(name)
        if family is not None:
            return family
        raise KeyError(name)

    @classmethod
    def param_family(cls, name: str) -> Param | None:
        """The spec of a param outside the declared list that this node type accepts by name
        (e.g. a model's attributes, ``attr_<name>``), or None. Saved like any param."""
        return None

    @classmethod
    def params_for(cls, resource_paths: dict, values: dict | None = None) -> list:
        """The params an editor should show for a node with these resource files and param
        values: the declared ones plus those of a param family the files or values reveal.
        Off the audio path; may read file metadata, never runs model code."""
        return list(cls.params)

    def structure(self) -> dict:
        """The values of the structural params (what prepare() depended on), families too."""
        return {name: value for name, value in self.param_values.items()
                if self.param_spec(name).structural}

    @classmethod
    def describe(cls) -> dict:
        """JSON-safe description of this node type (ports with default params, params,
        resources, capabilities)."""
        node = cls()
        caps = {name: getattr(cls, name) for name in ("host_input", "host_output", "breaks_feedback",
                                                      "prepare_does_io", "file_output", "display")
                if getattr(cls, name)}
        if cls.bypass_routes:
            caps["bypass_routes"] = [list(r) for r in cls.bypass_routes]
        if cls.uses_lane:
            caps["lane"] = ("runs in the inference lane: latency = chunk buffering (chunk + the "
                            "worker's headroom) + the model's own delay, both reported per node")
        return {
            "type": cls.type_id, "title": cls.title or cls.type_id, "category": cls.category,
            "version": cls.version, "doc": cls.doc,
            "inputs": [{"name": p.name, "kind": p.kind, "channels": p.channels} for p in node.input_ports()],
            "outputs": [{"name": p.name, "kind": p.kind, "channels": p.channels} for p in node.output_ports()],
            "params": [p.spec_dict() for p in cls.params],
            "resources": [{"name": r.name, "extensions": list(r.extensions)} for r in cls.resources],
            "capabilities": caps,
        }

    def input_ports(self) -> list:
        return self.inputs

    def output_ports(self) -> list:
        return self.outputs

    # ---- params ---------------------------------------------------------------------------

    def set_param(self, name: str, value) -> None:
        """Set a param (validated). Smoothed params glide; others apply at the next block."""
        spec = self.param_spec(name)
        value = spec.validate(value, f"{self.type_id}.{spec.name}")
        self.param_values[spec.name] = value
        smoother = self._smoothers.get(spec.name)
        if smoother is not None:
            smoother.set_target(self.param_to_internal(spec.name, value))
        self.on_param(spec.name, value)

    def on_param(self, name: str, value) -> None:
        """Hook: a param changed (called off the audio path or between blocks)."""

    def param_to_internal(self, name: str, value) -> float:
        """Map a smoothed param to the quantity that glides (e.g. dB -> linear gain)."""
        return float(value)

    def smoother(self, name: str) -> Smoother:
        return self._smoothers[name]

    def _make_smoothers(self, sample_rate: int) -> None:
        self._smoothers = {
            p.name: Smoother(self.param_to_internal(p.name, self.param_values[p.name]), p.smooth_ms, sample_rate)
            for p in self.params if p.smooth_ms > 0
        }

    # ---- resources ------------------------------------------------------------------------

    @classmethod
    def resource_companions(cls, name: str, path: Path) -> list:
        """Files that travel with resource file `path` (a model's config written beside it),
        each with the same stem as `path`: bundles and saved copies carry them along. The
        default: the resource's declared ``companions`` that exist."""
        res = next((r for r in cls.resources if r.name == name), None)
        if res is None:
            return []
        return [side for side in (Path(path).with_suffix(s) for s in res.companions) if side.is_file()]

    @classmethod
    def resource_info(cls, name: str, path: Path) -> dict:
        """What an editor should show about resource file `path` (model name, gear, rate...):
        a dict of short label -> value. Called off the audio path; may read the file.
        Errors come back as ``{"error": message}``, never raised."""
        return {}

    def set_resource(self, name: str, path: str | Path | None) -> None:
        """Attach a resolved file path; it is loaded in prepare()."""
        if not any(r.name == name for r in self.resources):
            raise KeyError(f"{self.type_id} has no resource {name!r}")
        if path is None:
            self.resource_paths.pop(name, None)
        else:
            self.resource_paths[name] = Path(path)

    # ---- state ----------------------------------------------------------------------------

    def get_state(self) -> dict:
        """JSON-safe state: params plus whatever :meth:`get_extra_state` adds."""
        state = {"params": copy.deepcopy(self.param_values)}
        extra = self.get_extra_state()
        if extra:
            state["extra"] = extra
        return state

    def get_extra_state(self) -> dict:
        return {}

    def set_state(self, state: dict, from_version: int | None = None) -> None:
        """Restore from :meth:`get_state` output, migrating from ``from_version`` when older."""
        if from_version is not None and from_version != self.version:
            state = self.migrate(copy.deepcopy(state), from_version)
        for name, value in (state.get("params") or {}).items():
            self.set_param(name, value)
        if state.get("extra"):
            self.set_extra_state(state["extra"])

    def set_extra_state(self, extra: dict) -> None:
        pass

    def migrate(self, state: dict, from_version: int) -> dict:
        """Hook: turn a state saved by node version ``from_version`` into the current layout."""
        return state

    # ---- processing -----------------------------------------------------------------------

    def _prepare(self, ctx: PrepareContext) -> None:
        """Called by the compiler: sets common fields, then the node's prepare()."""
        self.id = ctx.node_id
        self.sample_rate = ctx.sample_rate
        self.block_size = ctx.block_size
        self.latency_samples = 0
        self._make_smoothers(ctx.sample_rate)
        self._lane_request = None
        self.prepare(ctx)
        self._lane_request = ctx.lane   # its lane (attached by the compiler) resets with the node

    def prepare(self, ctx: PrepareContext) -> None:
        """Allocate buffers and state for ``ctx.sample_rate`` / ``ctx.block_size``; set
        ``self.latency_samples``; set ``ctx.out_specs`` for outputs whose shape you decide."""

    def check(self, ctx: PrepareContext) -> None:
        """Check-only compile of a node with ``prepare_does_io``: validate the configuration
        without side effects (no model loads, no files opened for writing) and raise a
        :class:`~.errors.NeuropatchError` naming the fault. Set ``ctx.out_specs`` where the
        shape is known cheaply; outputs left unset are "unknown" and the nodes downstream
        are not checked. The default checks that required resources are set and readable."""
        from .resources import check_resource_files
        check_resource_files(self, ctx.node_id)

    @property
    def binds_host(self) -> bool:
        return self.host_input or self.host_output

    # ---- host output (``host_output`` nodes) -----------------------------------------------

    @property
    def host_out_channels(self) -> int:
        """Host output channels this node writes up to (``host_output`` nodes)."""
        return 0

    def set_alignment_delay(self, samples: int) -> None:
        """Delay (samples) that aligns this host output with the slowest one (compile time)."""

    # ---- feedback (``breaks_feedback`` nodes) ----------------------------------------------

    def set_feedback_mode(self, on: bool) -> str | None:
        """Compile time: whether the node closes a loop; returns a note for the user or None."""
        return None

    def process(self, ins: dict, outs: dict, n: int) -> None:
        """Process one block of ``n`` samples (n <= block_size). Fill every output."""
        raise NotImplementedError

    def reset(self) -> None:
        """Clear history/hidden state: the next block sounds as right after prepare()."""
        for name, sm in self._smoothers.items():
            sm.jump(self.param_to_internal(name, self.param_values[name]))
        request = self._lane_request
        if request is not None and request.lane is not None:
            request.lane.reset()

    def housekeeping(self) -> None:
        """Called periodically off the audio path while running live (the engine's control
        loop): prepare memory the audio path will need (e.g. a recorder's next chunk)."""

    def finish(self) -> None:
        """End of an offline render: write files, release resources (may do I/O)."""


def zero_outputs(outs: dict, n: int) -> None:
    """Silence every output buffer (used by bypassed nodes and placeholders)."""
    for buf in outs.values():
        if isinstance(buf, np.ndarray):
            if buf.ndim == 2:
                buf[:, :n] = 0.0
            else:
                buf[:] = 0.0
        else:
            buf.clear()
