"""Streaming STFT and ISTFT nodes."""
from __future__ import annotations

import numpy as np

from neuropatch.engine import Node, Param, Port
from neuropatch.engine.streams import StreamSpec

from ..dsp.fft import FFTScratch
from .framing import FramedAnalysis, check_fft_size, push_samples
from .stft_kernels import COMPLEX, MAGNITUDE, POWER, istft_block, stft_block
from .stream_settings import described
from .windows import WINDOWS, analysis_window, window_square_sum

OUTPUTS = ("magnitude", "power", "complex")
_MODES = {"magnitude": MAGNITUDE, "power": POWER, "complex": COMPLEX}


class OverlapAddSynthesis(Node):
    """Base of the nodes that turn frames into audio by windowed overlap-add (ISTFT,
    Griffin-Lim): input ``in`` frames [frames, channels, n_fft // 2 + 1] with the STFT
    framing convention, output ``out`` audio float32 [channels, n].

    :meth:`prepare_synthesis` derives n_fft from the bins and hop from the stream, builds
    the window, the reciprocal window-square sums ``_inv_wss`` float64 [hop] and the
    overlap-add ring ``_acc`` float64 [channels, n_fft + block + hop]; latency_samples
    = hop. :meth:`advance` moves the frame and sample counters after a block.
    """

    def prepare_synthesis(self, ctx, spec: StreamSpec, channels: int) -> None:
        n_fft = 2 * (spec.bins - 1)
        hop = spec.hop
        check_fft_size(n_fft, hop)
        self.channels = channels
        ctx.out_specs["out"] = StreamSpec("audio", channels=channels)
        self._n_fft, self._hop, self._bins = n_fft, hop, spec.bins
        self._window = analysis_window(self.param_values["window"], n_fft)
        self._inv_wss = 1.0 / window_square_sum(self._window, hop)
        self._acc = np.zeros((channels, n_fft + ctx.block_size + hop), np.float64)
        self._no_frames = np.zeros((1, spec.channels, spec.bins), np.float32)
        self._frame_index = 0
        self._pos = 0
        self.latency_samples = hop

    def reset(self):
        super().reset()
        self._acc.fill(0.0)
        self._frame_index = 0
        self._pos = 0

    def advance(self, count: int, n: int) -> None:
        """``count`` frames and ``n`` samples of this block are done."""
        self._frame_index += count
        self._pos += n


class STFT(FramedAnalysis):
    """Streaming short-time Fourier transform.

    Input ``in``: audio float32 [channels, n]. Output ``out``: frames float32
    [frames, channels, n_fft//2 + 1] - magnitude (linear) or power (magnitude squared);
    with ``output = complex`` the frames have 2*channels channels: the real part of
    audio channel c at channel 2c and its imaginary part at 2c + 1.

    Frame k analyses input samples [k*hop - (n_fft - hop), k*hop + hop) (zeros before the
    start; librosa ``center=False`` frames of the input left-padded with n_fft - hop
    zeros), is unnormalised (as librosa.stft) and is emitted in the block containing
    sample k*hop + hop - 1.

    latency_samples = n_fft - hop: the window reaches n_fft - hop samples behind the
    newest hop of samples that completes the frame. Together with :class:`ISTFT`
    (latency hop) an STFT -> ISTFT chain delays audio by exactly n_fft samples, which is
    what the compiler compensates on parallel dry paths.
    """

    type_id = "spectral.stft"
    title = "STFT"
    category = "spectral"
    doc = ("Streaming STFT. Frames of n_fft samples every hop samples (frame k ends at sample "
           "k*hop + hop; zeros before the start). output: magnitude, power, or complex as two "
           "channels per audio channel (re at 2c, im at 2c+1). Latency n_fft - hop.")
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "frames")]
    params = [
        Param("n_fft", 16, 32768, 2048, int, doc="FFT size in samples (a power of two)", structural=True),
        Param("hop", 1, 32768, 512, int, unit="samples", structural=True),
        Param.choice("window", WINDOWS, "hann", structural=True),
        Param.choice("output", OUTPUTS, "magnitude", structural=True),
    ]

    def prepare(self, ctx):
        n_fft, hop = self.param_values["n_fft"], self.param_values["hop"]
        self.prepare_framing(ctx, n_fft, hop)
        mode = self.param_values["output"]
        self._mode = _MODES[mode]
        out_channels = 2 * self.channels if mode == "complex" else self.channels
        ctx.out_specs["out"] = described(StreamSpec("frames", channels=out_channels, bins=n_fft // 2 + 1, hop=hop),
                                         sample_rate=ctx.sample_rate, n_fft=n_fft,
                                         window=self.param_values["window"], output=mode)
        self._window = analysis_window(self.param_values["window"], n_fft)
        # single precision: the output is float32 and librosa's own STFT is complex64
        self._scratch = FFTScratch(n_fft, np.float32)
        self._args = (self._ring, self._state, self._hop, self._window, self._mode)
        sc = self._scratch
        self._fft_args = (sc.plan, sc.spec_re, sc.spec_im, sc.work)

    def process(self, ins, outs, n):
        x = self.input_audio(ins, n)
        out = outs["out"]
        if self._state[1] + n < self._hop:
            # no frame completes in this block: only fill the ring (a cheaper call)
            push_samples(x, self._ring, self._state, 0, self._hop)
            out.count = 0
        else:
            out.count = stft_block(x, *self._args, out.data, *self._fft_args)


class ISTFT(OverlapAddSynthesis):
    """Streaming inverse STFT: weighted overlap-add with window-sum normalisation.

    Input ``in``: complex frames float32 [frames, 2*channels, n_fft//2 + 1] as
    :class:`STFT` emits them (re at 2c, im at 2c+1); n_fft is derived from the bins and
    hop from the stream. Output ``out``: audio float32 [channels, n].

    Each frame is inverse-transformed, multiplied by the synthesis window (the same as
    the analysis window) and overlap-added; every output sample is divided by the sum of
    squared windows covering it, so STFT -> ISTFT is the identity for any window/hop pair
    whose squared windows overlap (hop <= n_fft with no uncovered phase).

    latency_samples = hop: frames arrive at block boundaries, so one hop of buffering
    makes the output independent of the block size. STFT -> ISTFT: output sample s is
    input sample s - n_fft.
    """

    type_id = "spectral.istft"
    title = "ISTFT"
    category = "spectral"
    doc = ("Inverse STFT by weighted overlap-add with window-sum normalisation. Takes complex "
           "frames (re at channel 2c, im at 2c+1); window must match the STFT. Latency hop; "
           "STFT -> ISTFT delays by exactly n_fft samples.")
    inputs = [Port("in", "frames")]
    outputs = [Port("out", "audio")]
    params = [Param.choice("window", WINDOWS, "hann", structural=True)]

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"inputs": {"in": {"channels": 2, "bins": 513, "hop": 256}}}

    def prepare(self, ctx):
        spec = ctx.in_specs.get("in")
        if spec is None:
            spec = StreamSpec("frames", channels=2, bins=1025, hop=512)
        if spec.channels % 2:
            raise ValueError(f"ISTFT needs complex frames (2 channels per audio channel), got {spec.channels} channels")
        self.prepare_synthesis(ctx, spec, spec.channels // 2)
        self._scratch = FFTScratch(self._n_fft)

    def process(self, ins, outs, n):
        frames = ins.get("in")
        count = frames.count if frames is not None and frames.data.shape[1:] == (2 * self.channels, self._bins) else 0
        data = frames.data if count else self._no_frames
        istft_block(data, count, self._acc, self._frame_index, self._pos, self._n_fft, self._hop,
                    self._window, self._inv_wss, outs["out"], *self._scratch.args())
        self.advance(count, n)
