"""Latent-stream nodes: per-dimension offset/scale, seeded noise, a crossfade of two
latent streams and an XY control of two dimensions.

A latent stream carries frames of a latent vector: per block a FrameBuffer whose
``data`` is float32 ``[max_frames, dims]`` with ``count`` valid frames; its StreamSpec is
``StreamSpec("latent", channels=1, bins=dims, hop=samples_per_frame)``. Every node here
works frame by frame (output frame k depends only on input frames up to k and on the
params), so results do not depend on the block size, and each passes its input's dims
and hop on to its output.
"""
from __future__ import annotations

import math

import numpy as np
from neuropatch.engine.jit import njit

from neuropatch.engine import Node, Param, Port
from neuropatch.engine.errors import NodeConfigError
from neuropatch.engine.streams import StreamSpec

#: Dims and hop an output declares while its latent input is unconnected (no frames flow).
IDLE_DIMS = 8
IDLE_HOP = 2048
#: Dimensions that latent.offset_scale has params for; higher ones pass through.
OFFSET_SCALE_DIMS = 16
#: Glide of latent.mix's ``mix`` param, stepped once per frame.
MIX_GLIDE_MS = 50.0

CONTRACT_INPUT = {"channels": 1, "bins": 8, "hop": 256}


def latent_in_spec(ctx, port: str = "in") -> StreamSpec:
    """The StreamSpec of a latent input, or the idle shape when it is unconnected."""
    spec = ctx.in_specs.get(port)
    if spec is None:
        return StreamSpec("latent", channels=1, bins=IDLE_DIMS, hop=IDLE_HOP)
    return spec


def describe_spec(spec: StreamSpec) -> str:
    return f"latent, {spec.bins} dims, hop {spec.hop} samples"


# ---- counter-based Gaussian noise ---------------------------------------------------------
# splitmix64's finaliser as a hash: the value for (seed, frame, dim) is a pure function of
# the three, so noise needs no generator state and any block split draws the same values.

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_S11, _S27, _S30, _S31 = np.uint64(11), np.uint64(27), np.uint64(30), np.uint64(31)
_TWO_POW_53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def _mix64(x):
    x = x + _GOLDEN
    x = (x ^ (x >> _S30)) * _MIX_1
    x = (x ^ (x >> _S27)) * _MIX_2
    return x ^ (x >> _S31)


@njit(cache=True, error_model="numpy")
def gaussian_at(seed, frame, dim):
    """Standard normal value for (seed, frame, dim) by Box-Muller on two hashed uniforms.

    seed, frame, dim: non-negative ints. Returns a float64."""
    h = _mix64(_mix64(_mix64(np.uint64(seed)) ^ np.uint64(frame)) ^ np.uint64(dim))
    u1 = (float(h >> _S11) + 1.0) * _TWO_POW_53          # (0, 1]: log is finite
    u2 = float(_mix64(h) >> _S11) * _TWO_POW_53            # [0, 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True, error_model="numpy")
def add_noise_frames(z, count, seed, first_frame, amount, out):
    """out[i, d] = z[i, d] + amount * N(seed, first_frame + i, d) for i < count.

    z, out: float32 [>= count, dims] (latent units); amount: std in latent units."""
    dims = min(z.shape[1], out.shape[1])
    for i in range(count):
        for d in range(dims):
            out[i, d] = z[i, d] + amount * gaussian_at(seed, first_frame + i, d)


# ---- per-frame kernels ------------------------------------------------------------------

@njit(cache=True, error_model="numpy")
def offset_scale_frames(z, count, scale, offset, out):
    """out[i, d] = z[i, d] * scale[d] + offset[d] for d < len(scale); higher d copied.

    z, out: float32 [>= count, dims]; scale, offset: float32 [covered dims]."""
    dims = min(z.shape[1], out.shape[1])
    covered = min(dims, scale.shape[0])
    for i in range(count):
        for d in range(covered):
            out[i, d] = z[i, d] * scale[d] + offset[d]
        for d in range(covered, dims):
            out[i, d] = z[i, d]


@njit(cache=True, error_model="numpy")
def xy_frames(z, count, dim_x, x, dim_y, y, set_mode, out):
    """Copy z[:count] to out, then move dims dim_x and dim_y by x and y (``set_mode``:
    replace them by x and y). Dims at or beyond the stream's dims are ignored; when
    dim_x == dim_y the y move applies after the x move.

    z, out: float32 [>= count, dims]; x, y: latent units."""
    dims = min(z.shape[1], out.shape[1])
    for i in range(count):
        for d in range(dims):
            out[i, d] = z[i, d]
        if dim_x < dims:
            out[i, dim_x] = x if set_mode else out[i, dim_x] + x
        if dim_y < dims:
            out[i, dim_y] = y if set_mode else out[i, dim_y] + y


@njit(cache=True, error_model="numpy")
def _enqueue(pending, held, x, n):
    """Append x[:n] to pending[:held]; the oldest rows go when it overflows.

    pending: float32 [capacity, dims]; x: float32 [>= n, dims]. Returns (held, dropped)."""
    capacity, dims = pending.shape[0], min(pending.shape[1], x.shape[1])
    dropped = max(held + n - capacity, 0)
    old_gone = min(dropped, held)
    if old_gone:
        for i in range(held - old_gone):
            for d in range(pending.shape[1]):
                pending[i, d] = pending[i + old_gone, d]
        held -= old_gone
    for i in range(dropped - old_gone, n):
        for d in range(dims):
            pending[held, d] = x[i, d]
        held += 1
    return held, dropped


@njit(cache=True, error_model="numpy")
def _dequeue(pending, held, taken):
    """Drop the first `taken` of the `held` rows of pending. Returns the rows left."""
    if taken == 0:
        return held
    for i in range(held - taken):
        for d in range(pending.shape[1]):
            pending[i, d] = pending[i + taken, d]
    return held - taken


@njit(cache=True, error_model="numpy")
def mix_frames(a, na, a_on, b, nb, b_on, pending_a, pending_b, queue, glide, cv, out):
    """Pair frames of a and b in arrival order and write out = a + (b - a) * m per pair.

    a, b: float32 [>= na / nb, dims]; an input that is off reads as the zero vector and
    the other alone sets the pace. pending_a/b: float32 [capacity, dims], frames waiting
    for their partner; queue: int64 [3] = (held a, held b, dropped so far). glide:
    float64 [4] = (value, target, step, frames left), stepped once per frame; m is the
    glide value plus cv, clamped to [0, 1]. out: float32 [capacity_out, dims].
    Returns the number of frames written."""
    dims = out.shape[1]
    if a_on:
        held, dropped = _enqueue(pending_a, queue[0], a, na)
        queue[0] = held
        queue[2] += dropped
    if b_on:
        held, dropped = _enqueue(pending_b, queue[1], b, nb)
        queue[1] = held
        queue[2] += dropped
    if a_on and b_on:
        pairs = min(queue[0], queue[1])
    elif a_on:
        pairs = queue[0]
    elif b_on:
        pairs = queue[1]
    else:
        pairs = 0
    pairs = min(pairs, out.shape[0])
    for i in range(pairs):
        if glide[3] > 0.0:
            glide[3] -= 1.0
            glide[0] = glide[1] if glide[3] <= 0.0 else glide[0] + glide[2]
        m = min(max(glide[0] + cv, 0.0), 1.0)
        for d in range(dims):
            va = pending_a[i, d] if a_on else np.float32(0.0)
            vb = pending_b[i, d] if b_on else np.float32(0.0)
            out[i, d] = va + (vb - va) * m
    if a_on:
        queue[0] = _dequeue(pending_a, queue[0], pairs)
    if b_on:
        queue[1] = _dequeue(pending_b, queue[1], pairs)
    return pairs


# ---- nodes ----------------------------------------------------------------------------------

class _LatentFilter(Node):
    """One latent input ``in`` -> one latent output ``out`` with the same dims and hop."""

    category = "latent"
    inputs = [Port("in", "latent", doc="latent frames float32 [frames, dims]")]
    outputs = [Port("out", "latent", doc="latent frames float32 [frames, dims], same dims and hop")]
    #: a bypassed node passes its latent input on unchanged
    bypass_routes = (("in", "out"),)

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"inputs": {"in": dict(CONTRACT_INPUT)}}

    def prepare(self, ctx):
        spec = latent_in_spec(ctx)
        self.dims, self.hop = spec.bins, spec.hop
        ctx.out_specs["out"] = StreamSpec("latent", channels=1, bins=spec.bins, hop=spec.hop)

    def process(self, ins, outs, n):
        z, out = ins["in"], outs["out"]
        count = min(z.count, out.data.shape[0])
        self.process_frames(z.data, count, out.data)
        out.count = count

    def process_frames(self, z, count, out) -> None:
        """z: float32 [>= count, dims] input frames; fill out[:count]."""
        raise NotImplementedError


class OffsetScale(_LatentFilter):
    """Per-dimension affine map of a latent stream: z'[k, d] = z[k, d] * scale_d + offset_d.

    Input ``in``: latent float32 [frames, dims]; output ``out``: the same shape, dims and
    hop (latent units). Dimensions 0..15 have their own ``offset_<d>`` and ``scale_<d>``
    params; dimensions from 16 on pass through unchanged.

    Why plain params per dimension rather than a list in the node's extra state: params are
    what every front end already edits (the inspector builds a slider for each, every edit
    is one undoable SetParam, the live engine applies it at the next block without
    re-preparing), what the patch loader validates one by one against min/max (a bad value
    is reported with its JSON path), and what saved patches keep by name. A list in extra
    state would need its own editor, its own undo command and its own validation. Sixteen
    dimensions cover the usual RAVE exports (4 to 16 latent dims); a wider stream keeps its
    higher dimensions as they are.
    """

    type_id = "latent.offset_scale"
    title = "Latent offset/scale"
    doc = ("Per-dimension z * scale_d + offset_d of a latent stream (dims 0-15; higher dims "
           "pass through). Output has the input's dims and hop.")
    params = ([Param(f"offset_{d}", -10.0, 10.0, 0.0, doc=f"added to dimension {d} after scaling (latent units)")
               for d in range(OFFSET_SCALE_DIMS)]
              + [Param(f"scale_{d}", -10.0, 10.0, 1.0, doc=f"factor for dimension {d} (negative flips it)")
                 for d in range(OFFSET_SCALE_DIMS)])

    @classmethod
    def contract_setup(cls, tmp_dir):
        # 20 dims: the last four exercise the pass-through
        return {"inputs": {"in": dict(CONTRACT_INPUT, bins=20)},
                "params": {"scale_0": 2.0, "offset_1": 0.5, "scale_15": -1.0, "offset_15": 0.25}}

    def __init__(self):
        self._offset = np.zeros(OFFSET_SCALE_DIMS, np.float32)
        self._scale = np.ones(OFFSET_SCALE_DIMS, np.float32)
        super().__init__()

    def on_param(self, name, value):
        kind, _, dim = name.partition("_")
        (self._offset if kind == "offset" else self._scale)[int(dim)] = value

    def process_frames(self, z, count, out):
        offset_scale_frames(z, count, self._scale, self._offset, out)


class Noise(_LatentFilter):
    """Adds seeded Gaussian noise to a latent stream: z'[k, d] = z[k, d] + amount * g(seed, k, d).

    Input ``in``: latent float32 [frames, dims]; output ``out``: the same shape, dims and
    hop. ``amount`` is the noise's standard deviation in latent units (1 = the spread of a
    VAE's unit Gaussian prior). g is a standard normal drawn from a counter-based hash of
    (seed, frame index since reset, dimension), so the noise is the same for any block
    size, for a render and a live run, and restarts with reset().
    """

    type_id = "latent.noise"
    title = "Latent noise"
    doc = ("Adds Gaussian noise with std `amount` to every latent dimension; the noise of "
           "frame k, dimension d depends only on (seed, k, d), k counted from reset.")
    params = [
        Param("amount", 0.0, 4.0, 0.25, doc="noise standard deviation (latent units)", primary=True),
        Param("seed", 0, 2**31 - 1, 0, int, doc="noise seed: the same seed gives the same noise"),
    ]

    def prepare(self, ctx):
        super().prepare(ctx)
        self.frame = 0

    def reset(self):
        super().reset()
        self.frame = 0

    def process_frames(self, z, count, out):
        p = self.param_values
        add_noise_frames(z, count, p["seed"], self.frame, p["amount"], out)
        self.frame += count


class Mix(Node):
    """Crossfade of two latent streams: out[k] = a[k] + (b[k] - a[k]) * m.

    Inputs ``a`` and ``b``: latent float32 [frames, dims] with the same dims and hop (a
    NodeConfigError naming both otherwise); ``mix_cv``: control, added to the ``mix``
    param, the sum clamped to [0, 1] (so an unconnected cv, 0, leaves the knob in
    charge and a connected one modulates around it). Output ``out``: latent float32
    [frames, dims], dims and hop of the inputs. m glides over 50 ms after a ``mix`` change,
    one step per frame. Frames pair up in arrival order (a frame waits for its partner);
    an unconnected input reads as the zero vector.
    """

    type_id = "latent.mix"
    title = "Latent mix"
    category = "latent"
    doc = ("a + (b - a) * mix per frame of two latent streams with equal dims and hop; the "
           "mix_cv control adds to mix (sum clamped to 0..1).")
    inputs = [Port("a", "latent", doc="latent frames float32 [frames, dims] (mix 0)"),
              Port("b", "latent", doc="latent frames float32 [frames, dims] (mix 1)"),
              Port("mix_cv", "control", doc="added to mix; the sum is clamped to 0..1", default=0.0)]
    outputs = [Port("out", "latent", doc="latent frames float32 [frames, dims]")]
    bypass_routes = (("a", "out"),)
    params = [Param("mix", 0.0, 1.0, 0.5, doc="0 = a, 1 = b, glides over 50 ms (stepped per frame)", primary=True)]

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"inputs": {"a": dict(CONTRACT_INPUT), "b": dict(CONTRACT_INPUT)}, "params": {"mix": 0.3}}

    def __init__(self):
        super().__init__()
        # value, target, step, frames left
        self._glide = np.array([self.param_values["mix"]] * 2 + [0.0, 0.0], np.float64)
        self._glide_frames = 0

    def on_param(self, name, value):
        if self._glide_frames <= 1:
            self._jump(value)
        else:
            g = self._glide
            g[1] = value
            g[2] = (value - g[0]) / self._glide_frames
            g[3] = self._glide_frames

    def _jump(self, value: float) -> None:
        g = self._glide
        g[0] = g[1] = value
        g[2] = g[3] = 0.0

    def prepare(self, ctx):
        spec_a, spec_b = ctx.in_specs.get("a"), ctx.in_specs.get("b")
        if spec_a is not None and spec_b is not None and (spec_a.bins, spec_a.hop) != (spec_b.bins, spec_b.hop):
            raise NodeConfigError(ctx.node_id, f"inputs a ({describe_spec(spec_a)}) and b "
                                               f"({describe_spec(spec_b)}) must have the same dims and hop")
        spec = latent_in_spec(ctx, "a" if spec_a is not None else "b")
        self.dims, self.hop = spec.bins, spec.hop
        ctx.out_specs["out"] = StreamSpec("latent", channels=1, bins=spec.bins, hop=spec.hop)
        self._a_on, self._b_on = spec_a is not None, spec_b is not None
        capacity = 2 * spec.max_frames(ctx.block_size) + 8
        self._pending_a = np.zeros((capacity, spec.bins), np.float32)
        self._pending_b = np.zeros((capacity, spec.bins), np.float32)
        self._queue = np.zeros(3, np.int64)
        frame_rate = ctx.sample_rate / max(spec.hop, 1)
        self._glide_frames = max(1, int(round(MIX_GLIDE_MS * 1e-3 * frame_rate)))
        self.reset()

    def reset(self):
        super().reset()
        self._jump(self.param_values["mix"])
        self._queue[0] = self._queue[1] = 0

    @property
    def dropped_frames(self) -> int:
        """Frames dropped because one input ran ahead of the other by more than the queue holds."""
        return int(self._queue[2]) if hasattr(self, "_queue") else 0

    def process(self, ins, outs, n):
        a, b, out = ins["a"], ins["b"], outs["out"]
        out.count = mix_frames(a.data, a.count, self._a_on, b.data, b.count, self._b_on,
                               self._pending_a, self._pending_b, self._queue, self._glide,
                               float(ins["mix_cv"][0]), out.data)


class XY(_LatentFilter):
    """Moves two dimensions of a latent stream from an XY pad.

    Input ``in``: latent float32 [frames, dims]; output ``out``: the same shape, dims and
    hop. mode ``offset``: z'[k, dim_x] = z[k, dim_x] + x and z'[k, dim_y] = z[k, dim_y] + y;
    mode ``set``: z'[k, dim_x] = x and z'[k, dim_y] = y. Other dims pass through; a dim
    index at or beyond the stream's dims is ignored (prepare notes it); when dim_x equals
    dim_y, y applies after x. x and y are in latent units.

    ``xy_pad`` names the params an editor shows as one XY pad (x horizontal, y vertical).
    """

    type_id = "latent.xy"
    title = "Latent XY"
    doc = ("Moves (offset) or sets two latent dimensions, dim_x and dim_y, to x and y; meant "
           "for the inspector's XY pad. Other dims pass through.")
    params = [
        Param("x", -4.0, 4.0, 0.0, doc="value for dimension dim_x (latent units)", primary=True),
        Param("y", -4.0, 4.0, 0.0, doc="value for dimension dim_y (latent units)", primary=True),
        Param("dim_x", 0, 255, 0, int, doc="dimension that x moves"),
        Param("dim_y", 0, 255, 1, int, doc="dimension that y moves"),
        Param.choice("mode", ("offset", "set"), "offset", doc="offset: add x and y; set: replace the dims"),
    ]
    #: (horizontal param, vertical param) shown together as one XY pad in editors.
    xy_pad = ("x", "y")

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"inputs": {"in": dict(CONTRACT_INPUT)}, "params": {"x": 1.5, "y": -0.5}}

    def prepare(self, ctx):
        super().prepare(ctx)
        p = self.param_values
        for name in ("dim_x", "dim_y"):
            if p[name] >= self.dims and ctx.in_specs.get("in") is not None:
                ctx.note(f"{name} = {p[name]} is beyond the input's {self.dims} dims: it has no effect")

    def process_frames(self, z, count, out):
        p = self.param_values
        xy_frames(z, count, p["dim_x"], p["x"], p["dim_y"], p["y"], p["mode"] == "set", out)


NODE_CLASSES = [OffsetScale, Noise, Mix, XY]
