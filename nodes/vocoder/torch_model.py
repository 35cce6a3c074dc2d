"""The GAN mel vocoder in torch: a causal HiFi-GAN-style generator that streams with cached
convolution state, the discriminators and losses it is trained with, and the mel
spectrogram exactly as the patch computes it (spectral.stft -> spectral.mel).

Generator (HiFi-GAN, Kong, Kim and Bae 2020; its V3 residual blocks): a causal conv (kernel
7) from normalised dB mel frames to ``channels`` channels, then per upsampling stage a
leaky ReLU, a transposed convolution (stride r, kernel ``upsample_kernels``) halving the
channels, and a multi-receptive-field block: the mean of residual blocks of kernel sizes
``resblock_kernels`` whose dilated convolutions (dilations ``resblock_dilations``) each add
onto their input; last a leaky ReLU, a conv (kernel 7) to one channel and tanh.

Every convolution is causal (all padding on the left) and every transposed convolution
keeps only its complete outputs, so the model streams: :meth:`Generator.forward` with a
state dict holds each layer's input history, and a signal cut into chunks of whole frames
gives the same output as the whole signal from silence. The network is trained to output
audio sample ``t - delay`` at output sample ``t`` (``delay`` in the config): the lookahead
the causal network gets.

Torch is imported by the caller (``torch`` argument) or lazily: importing this module does
not import torch.
"""
from __future__ import annotations

import numpy as np

LRELU_SLOPE = 0.1


def _torch():
    import torch

    return torch


def magnitude(spec):
    """|spec| of a complex STFT with a gradient everywhere (torch.abs has none at 0 + 0j,
    where it gives NaN: one exactly silent bin poisons a training step)."""
    return (spec.real ** 2 + spec.imag ** 2 + 1e-12).sqrt()


# ---- generator ---------------------------------------------------------------------------


def build_generator(config: dict):
    """The generator module of a vocoder config (see :mod:`.model`)."""
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    class CausalConv(nn.Module):
        """Conv1d padded on the left by (kernel - 1) * dilation; ``state`` holds that history."""

        def __init__(self, c_in, c_out, kernel, dilation=1):
            super().__init__()
            self.conv = nn.Conv1d(c_in, c_out, kernel, dilation=dilation)
            self.left = (kernel - 1) * dilation

        def forward(self, x, state=None):
            if self.left == 0:
                return self.conv(x)
            if state is None:
                return self.conv(F.pad(x, (self.left, 0)))
            key = id(self)
            past = state.get(key)
            if past is None:
                past = x.new_zeros(x.shape[0], x.shape[1], self.left)
            xc = torch.cat([past, x], dim=-1)
            state[key] = xc[..., -self.left:]
            return self.conv(xc)

    class CausalUp(nn.Module):
        """ConvTranspose1d (stride r, kernel m*r): output sample s needs inputs s // r - m + 1
        .. s // r; with the last m - 1 input steps as history only complete outputs remain."""

        def __init__(self, c_in, c_out, kernel, stride):
            super().__init__()
            if kernel % stride:
                raise ValueError(f"upsampling kernel {kernel} is not a multiple of its stride {stride}")
            self.up = nn.ConvTranspose1d(c_in, c_out, kernel, stride)
            self.stride, self.hist = stride, kernel // stride - 1

        def forward(self, x, state=None):
            n = x.shape[-1] * self.stride
            if self.hist == 0:
                return self.up(x)[..., :n]
            key = id(self)
            past = None if state is None else state.get(key)
            if past is None:
                past = x.new_zeros(x.shape[0], x.shape[1], self.hist)
            xc = torch.cat([past, x], dim=-1)
            if state is not None:
                state[key] = xc[..., -self.hist:]
            skip = self.hist * self.stride
            return self.up(xc)[..., skip:skip + n]

    class ResBlock(nn.Module):
        def __init__(self, channels, kernel, dilations):
            super().__init__()
            self.convs = nn.ModuleList(CausalConv(channels, channels, kernel, d) for d in dilations)

        def forward(self, x, state=None):
            for conv in self.convs:
                x = x + conv(F.leaky_relu(x, LRELU_SLOPE), state)
            return x

    class Generator(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            ch = int(cfg["channels"])
            self.mean = float(cfg["input_mean_db"])
            self.scale = 1.0 / float(cfg["input_std_db"])
            self.conv_pre = CausalConv(int(cfg["mel"]["n_mels"]), ch, 7)
            self.ups = nn.ModuleList()
            self.stages = nn.ModuleList()
            for r, k in zip(cfg["upsample_rates"], cfg["upsample_kernels"]):
                self.ups.append(CausalUp(ch, ch // 2, int(k), int(r)))
                ch //= 2
                self.stages.append(nn.ModuleList(ResBlock(ch, int(k2), [int(d) for d in dil])
                                                 for k2, dil in zip(cfg["resblock_kernels"], cfg["resblock_dilations"])))
            self.conv_post = CausalConv(ch, 1, 7)

        def forward(self, mel_db, state=None):
            """mel_db float32 [B, n_mels, F] (dB, the mel node's output) -> audio [B, F * hop].
            ``state``: a dict of layer histories (empty at the start), updated in place;
            None = the whole signal from silence."""
            x = self.conv_pre((mel_db - self.mean) * self.scale, state)
            for up, blocks in zip(self.ups, self.stages):
                x = up(F.leaky_relu(x, LRELU_SLOPE), state)
                acc = blocks[0](x, state)
                for block in blocks[1:]:
                    acc = acc + block(x, state)
                x = acc * (1.0 / len(blocks))
            x = self.conv_post(F.leaky_relu(x), state)
            return torch.tanh(x)[:, 0]

    return Generator(config)


def state_tensors(generator) -> dict:
    """{name: float32 numpy array} of the generator's weights (the file's tensors)."""
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in generator.state_dict().items()}


def load_tensors(generator, tensors: dict) -> None:
    torch = _torch()
    generator.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in tensors.items()})


def tensor_shapes(config: dict) -> list:
    """[(name, shape)] of a config's generator weights, in file order."""
    with _torch().device("meta"):
        gen = build_generator(config)
    return [(k, tuple(v.shape)) for k, v in gen.state_dict().items()]


class StreamingGenerator:
    """The generator for one stream, chunk by chunk, with each layer's input history kept.

    Same arithmetic as :meth:`Generator.forward` with a state, but every convolution is
    one matrix product on strided columns of [history | chunk] (``addmm``) and every
    transposed convolution one product plus an overlap-add of its taps: torch's own CPU
    convolutions take a per-call path (``slow_conv_dilated2d``) that costs a few hundred
    microseconds each on chunks of a few frames. Batch 1, float32, inference only.
    ``__call__(mel_db [n_mels, F])`` -> audio [F * hop]; ``reset()`` clears the histories.
    """

    def __init__(self, generator):
        torch = _torch()
        self.torch = torch
        g = generator
        self.mean, self.scale = g.mean, g.scale
        self.pre = self._conv(g.conv_pre)
        self.stages = []
        for up, blocks in zip(g.ups, g.stages):
            w = up.up.weight.detach()                               # [C_in, C_out, K]
            c_in, c_out, k = w.shape
            r = up.stride
            self.stages.append(({"w": w.reshape(c_in, c_out * k).t().contiguous(), "b": up.up.bias.detach()[:, None],
                                 "c_out": c_out, "m": k // r, "r": r, "hist": up.hist, "past": None},
                                [[self._conv(c) for c in block.convs] for block in blocks]))
        self.post = self._conv(g.conv_post)
        self.reset()

    def _conv(self, layer) -> dict:
        w = layer.conv.weight.detach()                              # [C_out, C_in, K]
        c_out, c_in, k = w.shape
        return {"w": w.reshape(c_out, c_in * k).contiguous(), "b": layer.conv.bias.detach()[:, None], "k": k,
                "d": layer.conv.dilation[0], "left": layer.left, "c_in": c_in, "past": None}

    def reset(self) -> None:
        torch = self.torch
        for layer in self._layers():
            size = layer["left"] if "left" in layer else layer["hist"]
            rows = layer["c_in"] if "c_in" in layer else layer["w"].shape[1]
            layer["past"] = torch.zeros(rows, size)

    def _layers(self):
        yield self.pre
        for up, blocks in self.stages:
            yield up
            for convs in blocks:
                yield from convs
        yield self.post

    def _run_conv(self, layer, x):
        torch = self.torch
        xc = torch.cat([layer["past"], x], dim=1)
        layer["past"] = xc[:, xc.shape[1] - layer["left"]:]
        t, k = x.shape[1], layer["k"]
        cols = xc.as_strided((layer["c_in"], k, t), (xc.stride(0), layer["d"], 1)).reshape(layer["c_in"] * k, t)
        return torch.addmm(layer["b"], layer["w"], cols)

    def _run_up(self, layer, x):
        torch = self.torch
        xc = torch.cat([layer["past"], x], dim=1)
        layer["past"] = xc[:, xc.shape[1] - layer["hist"]:]
        t, m, r, h = x.shape[1], layer["m"], layer["r"], layer["hist"]
        z = torch.mm(layer["w"], xc).view(layer["c_out"], m, r, h + t)
        out = z[:, 0, :, h:h + t]
        for j in range(1, m):
            out = out + z[:, j, :, h - j:h - j + t]
        return (out.transpose(1, 2).reshape(layer["c_out"], t * r) + layer["b"])

    def __call__(self, mel_db):
        torch = self.torch
        F = torch.nn.functional
        x = self._run_conv(self.pre, (mel_db - self.mean) * self.scale)
        for up, blocks in self.stages:
            x = self._run_up(up, F.leaky_relu(x, LRELU_SLOPE))
            acc = None
            for convs in blocks:
                y = x
                for conv in convs:
                    y = y + self._run_conv(conv, F.leaky_relu(y, LRELU_SLOPE))
                acc = y if acc is None else acc + y
            x = acc * (1.0 / len(blocks))
        return torch.tanh(self._run_conv(self.post, F.leaky_relu(x)))[0]


# ---- mel as the patch computes it --------------------------------------------------------


class MelFrontEnd:
    """spectral.stft (power, hann) -> spectral.mel (dB) in torch, frame for frame.

    Frame k analyses samples [k*hop - (n_fft - hop), k*hop + hop) (zeros before the start),
    as the streaming STFT node does. ``__call__(audio [B, T])`` -> dB mel [B, n_mels,
    T // hop]; ``log_mel`` is the natural-log magnitude mel of the loss (HiFi-GAN's)."""

    def __init__(self, mel: dict):
        torch = _torch()
        from neuropatch.nodes.spectral.mel_filters import mel_filterbank
        from neuropatch.nodes.spectral.windows import analysis_window

        self.torch = torch
        self.n_fft, self.hop = int(mel["n_fft"]), int(mel["hop"])
        self.power = float(mel["power"])
        self.window = torch.from_numpy(analysis_window(mel["window"], self.n_fft).astype(np.float32))
        basis = mel_filterbank(mel["sample_rate"], self.n_fft, int(mel["n_mels"]), mel["fmin"], mel["fmax"],
                               mel["htk"], mel["norm"])
        self.basis = torch.from_numpy(basis)
        self.ref_db = 10.0 * np.log10(max(1e-10, float(mel["ref"])))
        self.floor_db = -float(mel["top_db"]) if mel["top_db"] > 0 else -np.inf

    def spectrum(self, audio):
        """|STFT| ** power [B, bins, F] of audio [B, T] with the node's framing."""
        torch = self.torch
        x = torch.nn.functional.pad(audio, (self.n_fft - self.hop, 0))
        frames = audio.shape[-1] // self.hop
        spec = torch.stft(x, self.n_fft, self.hop, window=self.window, center=False, return_complex=True)
        mag = magnitude(spec[..., :frames])
        return mag if self.power == 1.0 else mag ** self.power

    def __call__(self, audio):
        torch = self.torch
        mel = torch.matmul(self.basis, self.spectrum(audio))
        db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10)) - self.ref_db
        return torch.clamp(db, min=self.floor_db) if np.isfinite(self.floor_db) else db

    def log_mel(self, audio):
        torch = self.torch
        mag = self.spectrum(audio)
        if self.power != 1.0:
            mag = mag ** (1.0 / self.power)
        return torch.log(torch.clamp(torch.matmul(self.basis, mag), min=1e-5))


# ---- discriminators (HiFi-GAN's, narrower: they train on one CPU thread) -------------------


def build_discriminators(periods=(2, 3, 5, 7, 11), width: int = 16):
    """(multi-period, multi-scale) discriminators. Each returns ([scores], [[features]]).
    ``width``: the first layer's channels (HiFi-GAN: 32 for the periods, 128 for the scales;
    the layers after widen by 4, 2, ... as there, capped at 32 x width)."""
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional
    wn = torch.nn.utils.parametrizations.weight_norm

    def conv_stack(d, x):
        """d.convs with leaky ReLUs, then d.post: (flattened scores, every layer's output)."""
        feats = []
        for conv in d.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            feats.append(x)
        x = d.post(x)
        feats.append(x)
        return x.flatten(1), feats

    class PeriodD(nn.Module):
        def __init__(self, period):
            super().__init__()
            self.period = period
            chans = [1, width, 4 * width, 8 * width, 16 * width, 16 * width]
            self.convs = nn.ModuleList(wn(nn.Conv2d(chans[i], chans[i + 1], (5, 1), (3 if i < 4 else 1, 1), (2, 0)))
                                       for i in range(5))
            self.post = wn(nn.Conv2d(chans[-1], 1, (3, 1), 1, (1, 0)))

        def forward(self, x):
            b, t = x.shape
            if t % self.period:
                x = F.pad(x, (0, self.period - t % self.period), "reflect")
            return conv_stack(self, x.view(b, 1, -1, self.period))

    class ScaleD(nn.Module):
        def __init__(self):
            super().__init__()
            w = width
            spec = [(1, w, 15, 1, 1), (w, w, 41, 2, 4), (w, 2 * w, 41, 2, 16), (2 * w, 4 * w, 41, 4, 16),
                    (4 * w, 8 * w, 41, 4, 16), (8 * w, 8 * w, 41, 1, 16), (8 * w, 8 * w, 5, 1, 1)]
            self.convs = nn.ModuleList(wn(nn.Conv1d(ci, co, k, s, groups=min(g, ci), padding=k // 2))
                                       for ci, co, k, s, g in spec)
            self.post = wn(nn.Conv1d(8 * w, 1, 3, 1, padding=1))

        def forward(self, x):
            return conv_stack(self, x[:, None])

    class Multi(nn.Module):
        def __init__(self, discs, pools):
            super().__init__()
            self.discs = nn.ModuleList(discs)
            self.pools = pools

        def forward(self, x):
            scores, feats = [], []
            for i, d in enumerate(self.discs):
                xi = x
                for _ in range(self.pools[i]):
                    xi = F.avg_pool1d(xi[:, None], 4, 2, padding=2)[:, 0]
                s, f = d(xi)
                scores.append(s)
                feats.append(f)
            return scores, feats

    mpd = Multi([PeriodD(p) for p in periods], [0] * len(periods))
    msd = Multi([ScaleD() for _ in range(3)], [0, 1, 2])
    return mpd, msd


def discriminator_loss(real_scores, fake_scores):
    """Least-squares GAN: mean (1 - D(real))^2 + mean D(fake)^2, summed over discriminators."""
    loss = 0.0
    for r, g in zip(real_scores, fake_scores):
        loss = loss + ((1.0 - r) ** 2).mean() + (g ** 2).mean()
    return loss


def generator_adv_loss(fake_scores):
    loss = 0.0
    for g in fake_scores:
        loss = loss + ((1.0 - g) ** 2).mean()
    return loss


def feature_loss(real_feats, fake_feats):
    """Feature matching: 2 x the summed mean L1 between every layer's real and fake features."""
    loss = 0.0
    for rs, gs in zip(real_feats, fake_feats):
        for r, g in zip(rs, gs):
            loss = loss + (r.detach() - g).abs().mean()
    return 2.0 * loss


def stft_loss(torch, pred, target, sizes=(2048, 512, 128)):
    """Multi-resolution STFT loss (spectral convergence + mean |log S - log S'|): the
    reconstruction term that gets a generator going in few steps before the adversarial
    terms join (Parallel WaveGAN's auxiliary loss)."""
    loss = 0.0
    for n in sizes:
        window = torch.hann_window(n, dtype=pred.dtype)
        sp = magnitude(torch.stft(pred, n, n // 4, window=window, return_complex=True))
        st = torch.stft(target, n, n // 4, window=window, return_complex=True).abs()
        loss = loss + ((st - sp) ** 2).sum().add(1e-12).sqrt() / torch.clamp(torch.linalg.norm(st), min=1e-7)
        loss = loss + (torch.log(sp + 1e-5) - torch.log(st + 1e-5)).abs().mean()
    return loss / len(sizes)
