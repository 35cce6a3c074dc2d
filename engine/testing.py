"""Run a single node on whole signals, block by block (for tests and benchmarks).

``run_node`` feeds complete input streams through a prepared node at a given block
size and returns the complete output streams, so tests can compare against offline
oracles and across block sizes. It drives the node through the compiled path the engine
uses: the compiler's prepare, output shapes, read-only unconnected inputs, a
:class:`~.compiler.NodeStep` (with the node's inference lane, if it asks for one).

Input stream formats (whole signal):
- audio: float32 [channels, samples]
- frames: :class:`FramesIn` (data [F, channels, bins], hop); frame k is delivered in the
  block that contains sample (k + 1) * hop - 1, i.e. once its last sample has arrived.
- latent: :class:`FramesIn` with data [F, dims]
- control: a float (constant)
- events: list of (absolute_sample, type, channel, data1, data2[, value]) records
  (:mod:`~.events`), sorted by sample

Outputs: audio [channels, samples]; frames [F, channels, bins]; latent [F, dims];
control float32 [blocks]; events list of (absolute_sample, type, channel, data1, data2, value).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .compiler import NodeStep, _output_specs, _unconnected
from .lane import Lane
from .node import HostIO, Node, PrepareContext
from .streams import EventBuffer, FrameBuffer, StreamSpec, allocate_buffer


@dataclass
class FramesIn:
    data: np.ndarray
    hop: int

    def spec(self, kind: str) -> StreamSpec:
        if kind == "latent":
            return StreamSpec("latent", channels=1, bins=self.data.shape[1], hop=self.hop)
        return StreamSpec("frames", channels=self.data.shape[1], bins=self.data.shape[2], hop=self.hop)


def input_spec(kind: str, value) -> StreamSpec | None:
    if value is None:
        return None
    if kind == "audio" or (kind == "any" and isinstance(value, np.ndarray)):
        return StreamSpec("audio", channels=value.shape[0])
    if isinstance(value, FramesIn):
        return value.spec("latent" if kind == "latent" or value.data.ndim == 2 else "frames")
    if kind == "control":
        return StreamSpec("control")
    if kind == "events":
        return StreamSpec("events")
    raise ValueError(f"cannot feed {type(value).__name__} into a {kind} input")


def unconnected_input(port, block_size: int):
    """The buffer an unconnected input sees (the compiler's: silence, empty frames or the
    control default, read-only)."""
    return _unconnected(port, block_size)


def output_specs(node: Node, ctx: PrepareContext) -> dict:
    """Output port -> StreamSpec after prepare, decided as the compiler decides it."""
    return _output_specs(node, ctx.node_id, ctx, ctx.in_specs, None, {}, ctx.block_size)


def prepare_node(node: Node, inputs: dict, sample_rate: int, block_size: int,
                 host_in_channels: int = 1, base_dir: Path | None = None) -> PrepareContext:
    specs = {p.name: input_spec(p.kind, inputs.get(p.name)) for p in node.input_ports()}
    ctx = PrepareContext(node.id or "node", sample_rate, block_size, specs, {},
                         HostIO(host_in_channels, 8, block_size, sample_rate), base_dir)
    node._prepare(ctx)
    return ctx


def run_node(node: Node, inputs: dict, sample_rate: int = 48000, block_size: int = 256,
             n_samples: int | None = None, prepare: bool = True, ctx: PrepareContext | None = None) -> dict:
    """Run `node` over whole input streams; see the module docstring for formats."""
    if prepare:
        ctx = prepare_node(node, inputs, sample_rate, block_size)
    assert ctx is not None
    if n_samples is None:
        audio = [v for v in inputs.values() if isinstance(v, np.ndarray)]
        n_samples = audio[0].shape[1] if audio else 4096
    in_bufs, feeders = {}, {}
    for port in node.input_ports():
        value = inputs.get(port.name)
        spec = ctx.in_specs.get(port.name)
        if value is None or spec is None:
            in_bufs[port.name] = unconnected_input(port, block_size)
            continue
        in_bufs[port.name] = allocate_buffer(spec, block_size)
        feeders[port.name] = value
    out_specs = output_specs(node, ctx)
    out_bufs = {name: allocate_buffer(spec, block_size) for name, spec in out_specs.items()}
    step = _step(node, ctx, in_bufs, out_bufs)
    collected = {name: [] for name in out_bufs}
    frame_pos = {name: 0 for name in feeders}
    ctrl_blocks = {name: [] for name in out_bufs}
    pos = 0
    host = ctx.host
    while pos < n_samples:
        n = min(block_size, n_samples - pos)
        ins = {}
        for name, buf in in_bufs.items():
            value = feeders.get(name)
            if isinstance(buf, np.ndarray) and buf.ndim == 2:
                if value is not None:
                    seg = value[:, pos:pos + n]
                    buf[:, : seg.shape[1]] = seg
                    buf[:, seg.shape[1]:] = 0.0
                ins[name] = buf[:, :n]
            elif isinstance(buf, FrameBuffer):
                if value is not None:
                    k0 = frame_pos[name]
                    end = pos + n
                    k1 = k0
                    while k1 < value.data.shape[0] and (k1 + 1) * value.hop - 1 < end:
                        k1 += 1
                    cnt = k1 - k0
                    if cnt > buf.data.shape[0]:
                        raise ValueError(f"{cnt} frames in one block exceeds capacity {buf.data.shape[0]}")
                    buf.data[:cnt] = value.data[k0:k1]
                    buf.count = cnt
                    frame_pos[name] = k1
                ins[name] = buf
            elif isinstance(buf, EventBuffer):
                buf.clear()
                for rec in value or ():
                    if pos <= rec[0] < pos + n:
                        buf.push(rec[0] - pos, *rec[1:])
                ins[name] = buf
            else:
                if value is not None:
                    buf[0] = float(value)
                ins[name] = buf
        outs = step.views(n)[1]
        host.input = host.input_buffer[:, :n]
        host.output = host.output_buffer[:, :n]
        host.output.fill(0.0)
        step.call(ins, outs, n)
        for name, b in outs.items():
            if isinstance(b, np.ndarray) and b.ndim == 2:
                collected[name].append(b.copy())
            elif isinstance(b, FrameBuffer):
                collected[name].append(b.data[: b.count].copy())
            elif isinstance(b, EventBuffer):
                collected[name].extend((r[0] + pos, *r[1:]) for r in b.records())
            else:
                ctrl_blocks[name].append(float(b[0]))
        host.transport.advance(n)
        pos += n
    if prepare:
        close_node(ctx)        # prepared here: stop its lane worker, if it has one
    result = {}
    for name, spec in out_specs.items():
        if spec.kind == "audio":
            result[name] = np.concatenate(collected[name], axis=1) if collected[name] else np.zeros((spec.channels, 0), np.float32)
        elif spec.kind in ("frames", "latent"):
            shape = (0, spec.channels, spec.bins) if spec.kind == "frames" else (0, spec.bins)
            result[name] = np.concatenate(collected[name], axis=0) if collected[name] else np.zeros(shape, np.float32)
        elif spec.kind == "events":
            result[name] = collected[name]
        else:
            result[name] = np.asarray(ctrl_blocks[name], np.float32)
    return result


def _step(node: Node, ctx: PrepareContext, in_bufs: dict, out_bufs: dict) -> NodeStep:
    step = NodeStep(ctx.node_id, node, in_bufs, out_bufs, 0)
    if ctx.lane is not None:
        step.lane = ctx.lane.lane or Lane(ctx.lane, ctx.sample_rate)
        ctx.lane.lane = step.lane
    return step


def close_node(ctx: PrepareContext) -> None:
    """Stop the worker of a node run here with an inference lane."""
    if ctx is not None and ctx.lane is not None:
        ctx.lane.worker.close()


def steady_state_allocation(node: Node, inputs: dict, sample_rate: int = 48000, block_size: int = 1024,
                            blocks: int = 40, glide: bool = False) -> int:
    """Peak bytes traced by tracemalloc while ``process()`` runs `blocks` steady blocks.

    Inputs are fed once (audio blocks of the signal's start; frames inputs at their
    per-block rate) and reused; the node is warmed up first so lazy init is excluded.
    glide: keep every smoothed param gliding during the measured blocks (targets are
    re-aimed between blocks, as knob moves would do).
    """
    import tracemalloc

    ctx = prepare_node(node, inputs, sample_rate, block_size)
    ins = {}
    for port in node.input_ports():
        spec = ctx.in_specs.get(port.name)
        value = inputs.get(port.name)
        if spec is None:
            ins[port.name] = unconnected_input(port, block_size)
            continue
        buf = allocate_buffer(spec, block_size)
        if spec.kind == "audio":
            seg = value[:, :block_size]
            buf[:, : seg.shape[1]] = seg
        elif spec.kind in ("frames", "latent"):
            k = min(buf.data.shape[0], max(1, block_size // max(spec.hop, 1)), value.data.shape[0])
            buf.data[:k] = value.data[:k]
            buf.count = k
        elif spec.kind == "control":
            buf[0] = float(value)
        ins[port.name] = buf
    outs = {name: allocate_buffer(spec, block_size) for name, spec in output_specs(node, ctx).items()}
    step = _step(node, ctx, ins, outs)
    host = ctx.host
    host.input, host.output = host.input_buffer, host.output_buffer
    smoothers = list(node._smoothers.values()) if glide else []
    targets = [(sm, sm.value) for sm in smoothers]

    def aim(k):
        for sm, value in targets:  # alternate between two targets: always gliding
            sm.set_target(value * (0.5 if k % 2 else 1.0) + (0.0 if value else 0.1 * (k % 2)))

    for k in range(5):
        aim(k)
        step.call(ins, outs, block_size)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for k in range(blocks):
            aim(k)
            step.call(ins, outs, block_size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        close_node(ctx)
    return peak - base
