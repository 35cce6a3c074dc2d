"""numba kernels of the DDSP decoders: one frame of controls from f0 and loudness.

Both decoders write the network output ``o`` float64 [1 + K + B] (K harmonics, B noise
bands); :func:`controls_from_output` turns it into DDSP's controls. Inputs are scaled as
DDSP does: f0 -> hz_to_midi(f0) / 127, loudness (dB) -> loudness / 80 + 1.
"""
from __future__ import annotations

import math

from neuropatch.engine.jit import njit

from ..dsp.frame_queue import queue_pop, queue_slot

LOG10 = math.log(10.0)
LAYER_NORM_EPS = 1e-5


# ---- scaling (DDSP core: hz_to_midi, exp_sigmoid) ---------------------------------------

@njit(cache=True)
def hz_to_midi(f0_hz):
    """MIDI note number of ``f0_hz`` (Hz, clamped below at 20 Hz so unvoiced 0 stays finite)."""
    return 69.0 + 12.0 * math.log2(max(f0_hz, 20.0) / 440.0)


@njit(cache=True)
def exp_sigmoid(x):
    """DDSP's exp_sigmoid: 2 * sigmoid(x) ** ln(10) + 1e-7 (range (1e-7, 2])."""
    s = 1.0 / (1.0 + math.exp(-x))
    return 2.0 * s ** LOG10 + 1e-7


@njit(cache=True)
def controls_from_output(o, n_harm, noise_bias, dist, noise):
    """Network output o [1 + K + B] -> overall amplitude (returned, linear), harmonic
    distribution dist [K] (softmax, sums to 1) and noise band magnitudes noise [B] (linear)."""
    peak = o[1]
    for k in range(1, n_harm):
        peak = max(peak, o[1 + k])
    total = 0.0
    for k in range(n_harm):
        dist[k] = math.exp(o[1 + k] - peak)
        total += dist[k]
    for k in range(n_harm):
        dist[k] /= total
    for b in range(noise.shape[0]):
        noise[b] = exp_sigmoid(o[1 + n_harm + b] + noise_bias)
    return exp_sigmoid(o[0])


# ---- version 1: per-frame MLP (2 -> h1 -> h2 -> 1 + K + B) ------------------------------

@njit(cache=True)
def mlp_frame(x0, x1, w1, b1, w2, b2, w3, b3, slope, h1, h2, o):
    """o = MLP(x0, x1) (leaky ReLU hidden layers). w1 [h1, 2], w2 [h2, h1], w3 [n_out, h2];
    h1, h2: scratch."""
    for i in range(h1.shape[0]):
        v = b1[i] + w1[i, 0] * x0 + w1[i, 1] * x1
        h1[i] = v if v > 0.0 else slope * v
    for i in range(h2.shape[0]):
        v = b2[i]
        for j in range(h1.shape[0]):
            v += w2[i, j] * h1[j]
        h2[i] = v if v > 0.0 else slope * v
    for i in range(o.shape[0]):
        v = b3[i]
        for j in range(h2.shape[0]):
            v += w3[i, j] * h2[j]
        o[i] = v


# ---- version 2: DDSP RnnFcDecoder --------------------------------------------------------
# theta: float64 [P], every tensor flattened in model.rnn_order; a cursor walks it.

@njit(cache=True, fastmath={"reassoc", "contract"})
def _dense(theta, c, x, y):
    """y [n_out] = W x + b with W [n_out, n_in] row-major at theta[c:], b after it.
    Returns the cursor after b."""
    n_in = x.shape[0]
    n_out = y.shape[0]
    bias = c + n_out * n_in
    for i in range(n_out):
        row = theta[c + i * n_in:c + (i + 1) * n_in]
        v = 0.0
        for j in range(n_in):
            v += row[j] * x[j]
        y[i] = v + theta[bias + i]
    return bias + n_out


@njit(cache=True)
def _norm_leaky(theta, c, y, slope):
    """LayerNorm (weight then bias at theta[c:]) and leaky ReLU of y in place; returns the cursor."""
    n = y.shape[0]
    mean = 0.0
    for i in range(n):
        mean += y[i]
    mean /= n
    var = 0.0
    for i in range(n):
        d = y[i] - mean
        var += d * d
    inv = 1.0 / math.sqrt(var / n + LAYER_NORM_EPS)
    for i in range(n):
        v = (y[i] - mean) * inv * theta[c + i] + theta[c + n + i]
        y[i] = v if v > 0.0 else slope * v
    return c + 2 * n


@njit(cache=True)
def _stack(theta, c, x, layers, tmp, y, slope):
    """``layers`` x (Dense -> LayerNorm -> leaky ReLU) of x into y [units]; tmp [units] scratch."""
    c = _dense(theta, c, x, y)
    c = _norm_leaky(theta, c, y, slope)
    for _ in range(1, layers):
        for i in range(y.shape[0]):
            tmp[i] = y[i]
        c = _dense(theta, c, tmp, y)
        c = _norm_leaky(theta, c, y, slope)
    return c


@njit(cache=True)
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True)
def rnn_frame(theta, dims, f0_hz, loudness_db, z, h, scratch, o, slope):
    """One frame of the RnnFcDecoder; advances the GRU state h [gru] (float64).

    dims int64: (mlp_layers, mlp_units, gru_units, n_streams); z [z_dims] (ignored when
    n_streams == 2). scratch float64 >= 2 * units + 7 * gru + 2 * n_streams * units.
    Writes the network output o [1 + K + B].
    """
    layers, units, gru, streams = dims[0], dims[1], dims[2], dims[3]
    n_cat = streams * units
    big = scratch[:gru + n_cat]            # [GRU output, input MLP outputs]
    cat = big[gru:]
    tmp = scratch[gru + n_cat:gru + n_cat + units]
    y = scratch[gru + n_cat + units:gru + n_cat + 2 * units]
    gi = scratch[gru + n_cat + 2 * units:4 * gru + n_cat + 2 * units]
    gh = scratch[4 * gru + n_cat + 2 * units:7 * gru + n_cat + 2 * units]
    x1 = scratch[7 * gru + n_cat + 2 * units:7 * gru + n_cat + 2 * units + 1]
    x1[0] = hz_to_midi(f0_hz) / 127.0
    c = _stack(theta, 0, x1, layers, tmp, cat[0:units], slope)
    x1[0] = loudness_db / 80.0 + 1.0
    c = _stack(theta, c, x1, layers, tmp, cat[units:2 * units], slope)
    if streams == 3:
        c = _stack(theta, c, z, layers, tmp, cat[2 * units:3 * units], slope)
    # GRU (torch.nn.GRU gate order r, z, n)
    w_ih = c
    w_hh = w_ih + 3 * gru * n_cat
    b_ih = w_hh + 3 * gru * gru
    b_hh = b_ih + 3 * gru
    for i in range(3 * gru):
        row = theta[w_ih + i * n_cat:w_ih + (i + 1) * n_cat]
        v = 0.0
        for j in range(n_cat):
            v += row[j] * cat[j]
        gi[i] = v + theta[b_ih + i]
        row = theta[w_hh + i * gru:w_hh + (i + 1) * gru]
        v = 0.0
        for j in range(gru):
            v += row[j] * h[j]
        gh[i] = v + theta[b_hh + i]
    for i in range(gru):
        r = _sigmoid(gi[i] + gh[i])
        u = _sigmoid(gi[gru + i] + gh[gru + i])
        cand = math.tanh(gi[2 * gru + i] + r * gh[2 * gru + i])
        h[i] = (1.0 - u) * cand + u * h[i]
        big[i] = h[i]
    c = b_hh + 3 * gru
    c = _stack(theta, c, big, layers, tmp, y, slope)
    _dense(theta, c, y, o)


def rnn_scratch_size(units: int, gru: int, streams: int) -> int:
    return 7 * gru + streams * units + 2 * units + 1


# ---- streaming: pair f0 and loudness frames, decode each pair ----------------------------

@njit(cache=True)
def push_pending(pending, qstate, q, frames, count):
    """Queue ``count`` frames (float32 [>= count, 1, 1]) on queue q of pending float64
    [2, cap] (qstate int64 [2, 3] = read, write, count); a full queue drops its oldest."""
    for k in range(count):
        pending[q, queue_slot(qstate[q], pending.shape[1])] = frames[k, 0, 0]


@njit(cache=True)
def pop_pair(pending, qstate, held_f0):
    """Pop one (f0, loudness) pair (both queues non-empty): updates held_f0 [1] and
    returns the loudness."""
    f = pending[0, queue_pop(qstate[0], pending.shape[1])]
    ld = pending[1, queue_pop(qstate[1], pending.shape[1])]
    if f > 0.0:
        held_f0[0] = f
    return ld


@njit(cache=True)
def _emit(o, n_harm, noise_bias, hz, k, out_f0, out_amp, out_dist, out_noise, dist, noise):
    amp = controls_from_output(o, n_harm, noise_bias, dist, noise)
    out_f0[k, 0, 0] = hz
    out_amp[k, 0, 0] = amp
    for j in range(n_harm):
        out_dist[k, 0, j] = dist[j]
    for b in range(noise.shape[0]):
        out_noise[k, 0, b] = noise[b]


@njit(cache=True)
def push_latent(zq, zstate, frames, count):
    """Queue ``count`` latent frames (float32 [>= count, dims]) on zq float64 [cap, dims]
    (zstate int64 [3] = read, write, count); a full queue drops its oldest."""
    for k in range(count):
        w = queue_slot(zstate, zq.shape[0])
        for d in range(zq.shape[1]):
            zq[w, d] = frames[k, d]


@njit(cache=True)
def decode_rnn_block(pending, qstate, held_f0, zq, zstate, use_z, theta, dims, z, h, scratch, o, slope, noise_bias,
                     f0_ratio, loud_offset_db, out_f0, out_amp, out_dist, out_noise, dist, noise):
    """Decode every queued (f0, loudness[, z]) frame set with the RnnFcDecoder; returns the
    frames written to out_* (float32 [max_frames, 1, bins]: held and shifted f0 in Hz,
    amplitude, harmonic distribution [K], noise magnitudes [B]). With ``use_z`` a frame
    waits for its latent z (zq); without, z stays as it is (zeros)."""
    made = 0
    while (qstate[0, 2] > 0 and qstate[1, 2] > 0 and (not use_z or zstate[2] > 0)
           and made < out_f0.shape[0]):
        ld = pop_pair(pending, qstate, held_f0)
        if use_z:
            r = queue_pop(zstate, zq.shape[0])
            for d in range(z.shape[0]):
                z[d] = zq[r, d]
        hz = held_f0[0] * f0_ratio
        rnn_frame(theta, dims, hz, ld + loud_offset_db, z, h, scratch, o, slope)
        _emit(o, dist.shape[0], noise_bias, hz, made, out_f0, out_amp, out_dist, out_noise, dist, noise)
        made += 1
    return made


@njit(cache=True)
def decode_mlp_block(pending, qstate, held_f0, w1, b1, w2, b2, w3, b3, h1, h2, o, slope, noise_bias, f0_ratio,
                     loud_offset_db, out_f0, out_amp, out_dist, out_noise, dist, noise):
    """As :func:`decode_rnn_block` with the version-1 per-frame MLP."""
    made = 0
    while qstate[0, 2] > 0 and qstate[1, 2] > 0 and made < out_f0.shape[0]:
        ld = pop_pair(pending, qstate, held_f0)
        hz = held_f0[0] * f0_ratio
        mlp_frame(hz_to_midi(hz) / 127.0, (ld + loud_offset_db + 80.0) / 80.0, w1, b1, w2, b2, w3, b3, slope,
                  h1, h2, o)
        _emit(o, dist.shape[0], noise_bias, hz, made, out_f0, out_amp, out_dist, out_noise, dist, noise)
        made += 1
    return made
