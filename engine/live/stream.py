"""Audio streams that drive the engine's block callback.

Both streams call ``callback(indata, outdata, frames, time, status)`` with sounddevice's
signature: ``indata`` float32 [frames, in_channels], ``outdata`` float32 [frames,
out_channels] to fill, ``status`` with ``input_overflow`` / ``output_underflow`` flags.

- :class:`SoundDeviceStream`: a PortAudio duplex stream (sound card; JACK in CI).
- :class:`OfflineStream`: no sound card; a thread calls the callback at real-time pace
  with silence in (or :meth:`OfflineStream.pump` runs blocks on demand).
"""
from __future__ import annotations

import threading
import time

import numpy as np

from ..errors import NeuropatchError


class LiveAudioError(NeuropatchError):
    """The audio device cannot be opened or run as asked (the message says why)."""


_open_streams = 0   # SoundDeviceStreams open in this process


#: the fix for an audio error, by a phrase of its message
AUDIO_FIXES = {
    "PortAudio library not found": "install libportaudio2 (sudo apt-get install libportaudio2), "
                                   "or pick the offline backend in the audio settings",
}


def with_fix(message: str) -> str:
    """`message` followed by how to fix it, when the error is one we know."""
    for phrase, fix in AUDIO_FIXES.items():
        if phrase in message and fix not in message:
            return f"{message}: {fix}"
    return message


def _sd():
    try:
        import sounddevice as sd  # imported late: PortAudio enumerates host APIs at import
    except OSError as exc:        # sounddevice raises OSError when libportaudio is missing
        raise OSError(with_fix(str(exc))) from None

    if not sd._initialized:   # released earlier (release_portaudio): enumerate again
        sd._initialize()
    return sd


def release_portaudio() -> bool:
    """Terminate PortAudio in this process when no stream of ours is open; returns True
    when it was released.

    An initialised PortAudio keeps host-API connections alive: with JACK, an *active*
    JACK client ("PortAudio") whose process thread the server waits for every period. In
    a busy controlling process (an editor that only listed devices) that idle client can
    be the one that misses the deadline, and JACK reports the xrun to every client,
    the engine included. The next PortAudio call initialises it again.
    """
    import sys

    sd = sys.modules.get("sounddevice")
    if sd is None or _open_streams > 0:
        return False
    while sd._initialized:
        sd._terminate()
    return True


def list_devices(release: bool = True) -> list[dict]:
    """Every PortAudio device: index, name, host API, channels, default rate (Hz) and
    default low latencies (s); ``default_input`` / ``default_output`` mark the host's defaults.

    release: terminate PortAudio afterwards when no stream is open in this process (see
    :func:`release_portaudio`)."""
    try:
        return _list_devices()
    finally:
        if release:
            release_portaudio()


def _list_devices() -> list[dict]:
    sd = _sd()
    apis = sd.query_hostapis()
    din, dout = sd.default.device
    out = []
    for i, d in enumerate(sd.query_devices()):
        out.append({
            "index": i, "name": d["name"], "hostapi": apis[d["hostapi"]]["name"],
            "max_input_channels": d["max_input_channels"],
            "max_output_channels": d["max_output_channels"],
            "default_samplerate": d["default_samplerate"],
            "default_low_input_latency": d["default_low_input_latency"],
            "default_low_output_latency": d["default_low_output_latency"],
            "default_input": i == din, "default_output": i == dout,
        })
    return out


def host_api_names(release: bool = True) -> list[str]:
    """Names of PortAudio's host APIs (release: as in :func:`list_devices`)."""
    try:
        return [a["name"] for a in _sd().query_hostapis()]
    finally:
        if release:
            release_portaudio()


def resolve_device(device, kind: str):
    """A device index for ``device`` (index, exact or partial name, None = host default)."""
    sd = _sd()
    if device is None or device == "":
        idx = sd.default.device[0 if kind == "input" else 1]
        if idx is None or idx < 0:
            raise LiveAudioError(f"no default {kind} device; pick one (see `neuropatch devices`)")
        return int(idx)
    if isinstance(device, int) or (isinstance(device, str) and device.isdigit()):
        return int(device)
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    devices = sd.query_devices()
    for i, d in enumerate(devices):
        if d["name"] == device and d[key] > 0:
            return i
    for i, d in enumerate(devices):
        if device.lower() in d["name"].lower() and d[key] > 0:
            return i
    raise LiveAudioError(f"no {kind} device named {device!r} (see `neuropatch devices`)")


class SoundDeviceStream:
    """PortAudio duplex stream at ``sample_rate`` (Hz) and ``block_size`` (samples).

    in_channels / out_channels None: the device's channel count (capped at 2).
    ``latency`` (after start): (input, output) device latency in seconds.
    """

    def __init__(self, callback, sample_rate: int, block_size: int, input_device=None,
                 output_device=None, in_channels: int | None = None, out_channels: int | None = None):
        sd = _sd()
        self.input_device = resolve_device(input_device, "input")
        self.output_device = resolve_device(output_device, "output")
        din = sd.query_devices(self.input_device)
        dout = sd.query_devices(self.output_device)
        self.device_names = (din["name"], dout["name"])
        self.device_rate = float(dout["default_samplerate"])
        self.in_channels = int(in_channels or min(2, din["max_input_channels"]) or 1)
        self.out_channels = int(out_channels or min(2, dout["max_output_channels"]) or 1)
        if self.in_channels > din["max_input_channels"]:
            raise LiveAudioError(f"input device {din['name']!r} has {din['max_input_channels']} "
                                 f"channels; asked for {self.in_channels}")
        if self.out_channels > dout["max_output_channels"]:
            raise LiveAudioError(f"output device {dout['name']!r} has {dout['max_output_channels']} "
                                 f"channels; asked for {self.out_channels}")
        self.sample_rate = int(sample_rate)
        self.block_size = int(block_size)
        try:
            self._stream = sd.Stream(
                samplerate=self.sample_rate, blocksize=self.block_size,
                device=(self.input_device, self.output_device),
                channels=(self.in_channels, self.out_channels), dtype="float32",
                latency="low", callback=callback, prime_output_buffers_using_stream_callback=False)
        except sd.PortAudioError as exc:
            hint = ""
            if abs(self.device_rate - self.sample_rate) > 0.5:
                hint = (f"; sample-rate mismatch: the graph runs at {self.sample_rate} Hz, the "
                        f"device {dout['name']!r} at {self.device_rate:.0f} Hz — use --sr "
                        f"{self.device_rate:.0f} or change the device's rate")
            raise LiveAudioError(f"cannot open {din['name']!r} -> {dout['name']!r} at "
                                 f"{self.sample_rate} Hz, block {self.block_size}: {exc}{hint}") from None
        self.device_rate = float(self._stream.samplerate)
        global _open_streams
        _open_streams += 1
        self._counted = True

    @property
    def latency(self) -> tuple[float, float]:
        lat = self._stream.latency
        return float(lat[0]), float(lat[1])

    def start(self) -> None:
        self._stream.start()

    def stop(self) -> None:
        if self._stream.active:
            self._stream.stop()

    def close(self) -> None:
        self._stream.close()
        global _open_streams
        if self._counted:
            self._counted = False
            _open_streams -= 1

    @property
    def active(self) -> bool:
        return bool(self._stream.active)


class _Flags:
    __slots__ = ("input_overflow", "output_underflow")

    def __init__(self):
        self.input_overflow = False
        self.output_underflow = False

    def __bool__(self):
        return self.input_overflow or self.output_underflow


class OfflineStream:
    """No sound card: a thread runs the callback every block at real-time pace (silence in).

    A block that starts more than one block late counts as an output underflow.
    """

    def __init__(self, callback, sample_rate: int, block_size: int, in_channels: int | None = None,
                 out_channels: int | None = None, **_ignored):
        self.callback = callback
        self.sample_rate, self.block_size = int(sample_rate), int(block_size)
        self.in_channels = int(in_channels or 1)
        self.out_channels = int(out_channels or 2)
        self.device_names = ("offline", "offline")
        self.device_rate = float(sample_rate)
        self.indata = np.zeros((self.block_size, self.in_channels), np.float32)
        self.outdata = np.zeros((self.block_size, self.out_channels), np.float32)
        self.flags = _Flags()
        self._thread = None
        self._stop = threading.Event()

    latency = (0.0, 0.0)

    def pump(self, blocks: int = 1, audio_in: np.ndarray | None = None) -> np.ndarray:
        """Run ``blocks`` blocks now (stream stopped). audio_in: float32 [channels, samples]
        or None (silence). Returns the output float32 [out_channels, blocks * block_size]."""
        if self.active:
            raise LiveAudioError("pump() needs a stopped stream")
        bs = self.block_size
        out = np.zeros((self.out_channels, blocks * bs), np.float32)
        for b in range(blocks):
            self.indata.fill(0.0)
            if audio_in is not None:
                seg = audio_in[:, b * bs:(b + 1) * bs]
                c = min(seg.shape[0], self.in_channels)
                self.indata[:seg.shape[1], :c] = seg[:c].T
            self.flags.input_overflow = self.flags.output_underflow = False
            self.callback(self.indata, self.outdata, bs, None, self.flags)
            out[:, b * bs:(b + 1) * bs] = self.outdata.T
        return out

    def _run(self) -> None:
        period = self.block_size / self.sample_rate
        next_t = time.perf_counter()
        flags, indata, outdata, bs = self.flags, self.indata, self.outdata, self.block_size
        while not self._stop.is_set():
            now = time.perf_counter()
            late = now - next_t
            flags.output_underflow = late > period
            if late > period:
                next_t = now          # resynchronise after an underflow
            elif late < 0:
                time.sleep(-late)
            self.callback(indata, outdata, bs, None, flags)
            next_t += period

    def start(self) -> None:
        if self.active:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="neuropatch-offline-audio", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(5.0)
            self._thread = None

    def close(self) -> None:
        self.stop()

    @property
    def active(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
