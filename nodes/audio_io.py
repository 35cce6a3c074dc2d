"""Audio input/output nodes: host in/out, file player, recorder, .npy capture."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neuropatch.engine import Node, NodeConfigError, Param, Port, Resource, StreamSpec
from neuropatch.engine.audiofile import read_audio, write_audio
from neuropatch.engine.capture import Capture
from neuropatch.engine.resample import resample

from .dsp.block_ops import multiply_by_ramp
from .utility import db_to_gain


class AudioIn(Node):
    type_id = "io.audio_in"
    host_input = True
    title = "Audio In"
    category = "io"
    doc = ("Audio from the host: the sound card live, the --in file offline. "
           "channels = 0 takes every host input channel from first_channel on.")
    outputs = [Port("out", "audio")]
    params = [
        Param("first_channel", 0, 63, 0, int, structural=True),
        Param("channels", 0, 64, 0, int, doc="0 = all host inputs", structural=True),
    ]

    def prepare(self, ctx):
        self.host = ctx.host
        first = self.param_values["first_channel"]
        count = self.param_values["channels"] or max(1, ctx.host.in_channels - first)
        self._first, self._count = first, count
        ctx.out_specs["out"] = StreamSpec("audio", channels=count)

    def process(self, ins, outs, n):
        y = outs["out"]
        src = self.host.input
        lo = min(self._first, src.shape[0])
        hi = min(self._first + self._count, src.shape[0])
        y[: hi - lo] = src[lo:hi, :n]
        if hi - lo < self._count:
            y[hi - lo:] = 0.0


class AudioOut(Node):
    type_id = "io.audio_out"
    host_output = True
    title = "Audio Out"
    category = "io"
    doc = ("Audio to the host: the sound card live, the --out file offline. Several outputs are "
           "summed and time-aligned by the compiler.")
    inputs = [Port("in", "audio")]
    params = [Param("first_channel", 0, 63, 0, int)]

    def __init__(self):
        super().__init__()
        self._align = 0
        self._ring = None
        self._pos = 0

    @property
    def host_out_channels(self) -> int:
        return self.param_values["first_channel"] + self._channels

    def set_alignment_delay(self, samples: int) -> None:
        """Delay (samples) that aligns this output with the graph's slowest output path."""
        samples = int(samples)
        shape = (self._channels, samples + self.block_size)
        if samples == self._align and (self._ring is None if not samples else self._ring.shape == shape):
            return  # unchanged: keep the history (a recompile that kept this node)
        self._align = samples
        self._ring = np.zeros(shape, np.float32) if samples else None
        self._pos = 0

    def prepare(self, ctx):
        self.host = ctx.host
        spec = ctx.in_specs.get("in")
        self._channels = spec.channels if spec is not None else 1
        self._ring = None
        self._pos = 0

    def reset(self):
        super().reset()
        if self._ring is not None:
            self._ring.fill(0.0)
        self._pos = 0

    def process(self, ins, outs, n):
        x = ins["in"]
        out = self.host.output
        first = self.param_values["first_channel"]
        c = max(0, min(x.shape[0], out.shape[0] - first))
        if self._ring is None:
            out[first:first + c] += x[:c]
            return
        # write the block into the ring, then add the samples written `align` earlier
        # (the ring holds align + block_size samples, so a read never meets unwritten data)
        ring, cap, pos = self._ring, self._ring.shape[1], self._pos
        k = min(n, cap - pos)
        ring[:, pos:pos + k] = x[:, :k]
        if k < n:
            ring[:, : n - k] = x[:, k:n]
        r = (pos - self._align) % cap
        k = min(n, cap - r)
        for ch in range(c):  # row by row: a 2-D strided add would allocate a numpy buffer
            dst = out[first + ch]
            dst[:k] += ring[ch, r:r + k]
            if k < n:
                dst[k:n] += ring[ch, : n - k]
        self._pos = (pos + n) % cap


class FilePlayer(Node):
    type_id = "io.file_player"
    prepare_does_io = True
    title = "File Player"
    category = "io"
    doc = ("Plays an audio file (wav, flac, ogg) resampled to the graph rate with a polyphase "
           "resampler. Loops when 'loop' is on.")
    outputs = [Port("out", "audio")]
    resources = [Resource("file", (".wav", ".flac", ".ogg", ".aiff", ".aif"), "audio file")]
    params = [
        Param.flag("loop", False),
        Param("gain_db", -96.0, 24.0, 0.0, unit="dB", smooth_ms=20.0, primary=True),
    ]

    def param_to_internal(self, name, value):
        return db_to_gain(value)

    def prepare(self, ctx):
        self.audio = np.zeros((1, 0), np.float32)
        self.pos = 0
        self._gain = np.zeros(ctx.block_size, np.float32)
        path = self.resource_paths.get("file")
        if path is None:
            ctx.out_specs["out"] = StreamSpec("audio", channels=1)
            return
        audio, sr = read_audio(path)
        if sr != ctx.sample_rate:
            ctx.note(f"{Path(path).name} is {sr} Hz; resampled to {ctx.sample_rate} Hz")
            audio = resample(audio, sr, ctx.sample_rate)
        self.audio = audio
        ctx.out_specs["out"] = StreamSpec("audio", channels=audio.shape[0])

    def reset(self):
        super().reset()
        self.pos = 0

    def process(self, ins, outs, n):
        y = outs["out"]
        total = self.audio.shape[1]
        done = 0
        while done < n:
            if self.pos >= total:
                if self.param_values["loop"] and total > 0:
                    self.pos = 0
                else:
                    y[:, done:] = 0.0
                    break
            k = min(n - done, total - self.pos)
            y[:, done:done + k] = self.audio[:, self.pos:self.pos + k]
            self.pos += k
            done += k
        sm = self.smoother("gain_db")
        if sm.steady:
            y *= np.float32(sm.value)
        else:
            g = self._gain[:n]
            sm.fill(g)
            multiply_by_ramp(y, g, y)


class Recorder(Node):
    type_id = "io.recorder"
    title = "Recorder"
    category = "io"
    doc = "Records its audio input and writes it to 'path' (wav/flac, 32-bit float wav; relative to the working directory) when the render or session stops."
    inputs = [Port("in", "audio")]
    params = [Param.text("path", "recording.wav")]
    file_output = "audio"

    def prepare(self, ctx):
        spec = ctx.in_specs.get("in")
        self._capture = Capture((spec.channels if spec else 1,), chunk_rows=1 << 18)
        self._base = ctx.base_dir

    def reset(self):
        super().reset()
        self._capture.clear()

    def process(self, ins, outs, n):
        self._capture.append(ins["in"].T)

    def housekeeping(self):
        self._capture.refill()

    def output_path(self) -> Path:
        return Path(self.param_values["path"]).expanduser()

    def result(self) -> np.ndarray:
        """What was recorded: float32 [channels, samples]."""
        return np.ascontiguousarray(self._capture.result().T)

    def finish(self):
        if not self.param_values["path"]:
            return
        write_audio(self.output_path(), self.result(), self.sample_rate)


class NpyOut(Node):
    type_id = "io.npy_out"
    title = "NPY Out"
    category = "io"
    doc = ("Writes whatever stream it receives to a .npy file at the end of a render: audio as "
           "[channels, samples], frames as [frames, channels, bins], latent as [frames, dims], "
           "control as [blocks]. A relative path is relative to the working directory.")
    inputs = [Port("in", "any")]
    params = [Param.text("path", "out.npy")]
    file_output = "npy"

    def prepare(self, ctx):
        spec = ctx.in_specs.get("in") or StreamSpec("audio", 1)
        self._kind = spec.kind
        self._base = ctx.base_dir
        if spec.kind == "audio":
            self._capture = Capture((spec.channels,), chunk_rows=1 << 18)
        elif spec.kind == "frames":
            self._capture = Capture((spec.channels, spec.bins), chunk_rows=256)
        elif spec.kind == "latent":
            self._capture = Capture((spec.bins,), chunk_rows=4096)
        elif spec.kind == "control":
            self._capture = Capture((), chunk_rows=4096)
        else:
            raise NodeConfigError(ctx.node_id, "io.npy_out cannot store an events stream")

    def reset(self):
        super().reset()
        self._capture.clear()

    def process(self, ins, outs, n):
        x = ins["in"]
        if self._kind == "audio":
            self._capture.append(x.T)
        elif self._kind == "control":
            self._capture.append(x)
        else:
            self._capture.append(x.data[: x.count])

    def housekeeping(self):
        self._capture.refill()

    def result(self) -> np.ndarray:
        data = self._capture.result()
        return np.ascontiguousarray(data.T) if self._kind == "audio" else data

    def finish(self):
        if not self.param_values["path"]:
            return
        np.save(Path(self.param_values["path"]).expanduser(), self.result(), allow_pickle=False)


NODE_CLASSES = [AudioIn, AudioOut, FilePlayer, Recorder, NpyOut]
