"""View nodes: displays of a stream (spectrogram, scope, meter, pitch, latent, piano roll).

A view node is a sink that declares :attr:`~neuropatch.engine.node.Node.display`: its
``process`` does nothing, and an editor draws its input, read through the live engine's
tap of the ``in`` port at screen rate. The node works without any editor (a render runs
it as a no-op); its params are the view's size on the canvas and its settings, so they
are saved with the patch like any param. None is structural: changing one never
re-prepares anything.
"""
from __future__ import annotations

from neuropatch.engine import Node, Param, Port


def _size_params(width: int, height: int) -> list:
    return [Param("width", 160, 1600, width, int, unit="px", doc="width of the view on the canvas"),
            Param("height", 60, 1200, height, int, unit="px", doc="height of the view on the canvas")]


class ViewNode(Node):
    """Base of the view nodes: no outputs, nothing to do per block."""

    category = "view"
    outputs = []

    def process(self, ins, outs, n):
        pass


class SpectrogramView(ViewNode):
    type_id = "view.spectrogram"
    title = "Spectrogram"
    display = "spectrogram"
    doc = ("Scrolling spectrogram of an audio stream (Hann STFT of n_fft samples, hop n_fft/2) or of "
           "a frames stream as it arrives (STFT, mel), channel 0. Frequency axis in Hz (linear, log "
           "or mel spacing), time axis in seconds, colours in dB from floor_db to 0 dB with a colour "
           "bar; freeze holds the picture.")
    inputs = [Port("in", "any", doc="audio [channels, n] or frames [n, channels, bins]")]
    params = _size_params(360, 200) + [
        Param.choice("scale", ("linear", "log", "mel"), "log", doc="spacing of the frequency axis"),
        Param("n_fft", 256, 8192, 1024, int, unit="samples", doc="analysis size for audio inputs"),
        Param("floor_db", -140.0, -20.0, -100.0, unit="dB", doc="level drawn as the darkest colour"),
        Param("history_s", 1.0, 60.0, 5.0, unit="s", doc="time shown"),
        Param.flag("freeze", False, doc="hold the picture (the stream keeps running)"),
    ]


class ScopeView(ViewNode):
    type_id = "view.scope"
    title = "Scope"
    display = "scope"
    doc = ("Oscilloscope of an audio stream (channel 0): a window of time_ms milliseconds that starts "
           "where the signal rises through trigger_level (free: the newest samples). Time axis in ms, "
           "amplitude axis in full scale.")
    inputs = [Port("in", "audio")]
    params = _size_params(320, 160) + [
        Param("time_ms", 1.0, 1000.0, 20.0, unit="ms", log=True, doc="time shown"),
        Param.choice("trigger", ("rising", "free"), "rising", doc="where a sweep starts"),
        Param("trigger_level", -1.0, 1.0, 0.0, doc="level the rising trigger waits for"),
        Param("amplitude", 0.01, 4.0, 1.0, log=True, doc="full height of the amplitude axis (+/-)"),
    ]


class MeterView(ViewNode):
    type_id = "view.meter"
    title = "Meter"
    display = "meter"
    doc = ("Level meter of an audio stream: peak and RMS per channel in dBFS on a scale from floor_db "
           "to 0 dB, the highest peak held for hold_s seconds, a clip light once a sample reached "
           "full scale. Resets when audio stops.")
    inputs = [Port("in", "audio")]
    params = _size_params(160, 180) + [
        Param("floor_db", -120.0, -24.0, -60.0, unit="dB", doc="bottom of the scale"),
        Param("hold_s", 0.0, 10.0, 1.5, unit="s", doc="how long the highest peak stays marked"),
    ]


class PitchView(ViewNode):
    type_id = "view.pitch"
    title = "Pitch"
    display = "pitch"
    doc = ("f0 curve of a pitch stream (frames [n, 1, 1] in Hz, e.g. feature.pitch) on a note grid: "
           "time axis in seconds, rows labelled with note names from low_note to high_note; "
           "unvoiced frames (0 Hz) leave gaps.")
    inputs = [Port("in", "frames", doc="f0 in Hz per frame (0 = unvoiced)")]
    params = _size_params(320, 180) + [
        Param("low_note", 0, 126, 36, int, doc="lowest MIDI note shown"),
        Param("high_note", 1, 127, 84, int, doc="highest MIDI note shown"),
        Param("history_s", 1.0, 60.0, 5.0, unit="s", doc="time shown"),
    ]


class LatentView(ViewNode):
    type_id = "view.latent"
    title = "Latent"
    display = "latent"
    doc = ("Latent frames [n, dims] over time: one row per dimension, one column per frame, coloured "
           "from -range (blue) to +range (red), with the frame index axis and a colour bar.")
    inputs = [Port("in", "latent")]
    params = _size_params(320, 180) + [
        Param("range", 0.1, 20.0, 3.0, log=True, doc="value drawn at the ends of the colour scale"),
        Param("history_frames", 16, 2048, 256, int, unit="frames", doc="frames shown"),
    ]


class PianoRollView(ViewNode):
    type_id = "view.piano_roll"
    title = "Piano roll"
    display = "piano_roll"
    doc = ("Notes of an events stream over the last window_s seconds: one bar per note on a note "
           "grid (brightness = velocity, hue = channel), time axis in seconds.")
    inputs = [Port("in", "events")]
    params = _size_params(320, 180) + [
        Param("window_s", 1.0, 60.0, 8.0, unit="s", doc="time shown"),
        Param("low_note", 0, 126, 36, int, doc="lowest MIDI note shown"),
        Param("high_note", 1, 127, 96, int, doc="highest MIDI note shown"),
    ]


NODE_CLASSES = [SpectrogramView, ScopeView, MeterView, PitchView, LatentView, PianoRollView]
