"""Live-audio fixtures: a JACK probe client on the JACK dummy server of tests/conftest.py."""
import threading
import time

import numpy as np
import pytest

from ..conftest import JACK_PERIOD, JACK_RATE


class JackProbe:
    """A JACK client that plays ``signal`` into the engine's input and records its output.

    Playback and recording are indexed by JACK frame time from :meth:`play`, so
    ``recorded[k]`` and ``signal[k]`` share one clock.
    """

    def __init__(self, server: str, name: str = "np_probe"):
        import jack

        self.client = jack.Client(name, servername=server, no_start_server=True)
        self.gen = self.client.outports.register("gen")
        self.rec = self.client.inports.register("rec")
        self.signal = np.zeros(0, np.float32)
        self.recorded = np.zeros(0, np.float32)
        self._t0 = None
        self._lock = threading.Lock()
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames):
        out = self.gen.get_array()
        out[:] = 0.0
        t0 = self._t0
        if t0 is None:
            return
        k = self.client.last_frame_time - t0
        sig, rec = self.signal, self.recorded
        if 0 <= k < sig.size:
            m = min(frames, sig.size - k)
            out[:m] = sig[k:k + m]
        if 0 <= k and k + frames <= rec.size:
            rec[k:k + frames] = self.rec.get_array()

    def engine_ports(self) -> tuple[str, str]:
        """The engine's first PortAudio input and output port names (discovered)."""
        ins = [p.name for p in self.client.get_ports(is_input=True, is_audio=True)
               if p.name.startswith("PortAudio")]
        outs = [p.name for p in self.client.get_ports(is_output=True, is_audio=True)
                if p.name.startswith("PortAudio")]
        assert ins and outs, f"no PortAudio ports in JACK: {[p.name for p in self.client.get_ports()]}"
        return sorted(ins)[0], sorted(outs)[0]

    def wire(self) -> None:
        """gen -> engine input, engine output -> rec; the dummy system ports are unplugged."""
        pa_in, pa_out = self.engine_ports()
        for port in self.client.get_all_connections(pa_in):
            self.client.disconnect(port.name, pa_in)
        self.client.connect(self.gen, pa_in)
        self.client.connect(pa_out, self.rec)

    def play(self, signal: np.ndarray, record_seconds: float) -> np.ndarray:
        """Play ``signal`` (float32 [samples]) from the next period; record ``record_seconds``."""
        self.signal = np.ascontiguousarray(signal, np.float32)
        self.recorded = np.zeros(int(record_seconds * JACK_RATE) // JACK_PERIOD * JACK_PERIOD, np.float32)
        self._t0 = self.start_time()
        time.sleep(record_seconds + 6 * JACK_PERIOD / JACK_RATE + 0.2)
        self.wait_until_recorded()      # JACK time, not wall time: a loaded machine runs late
        return self.recorded

    def wait_until_recorded(self, timeout: float = 10.0) -> None:
        """Block until the recording buffer is full (JACK time), then stop playing."""
        deadline = time.monotonic() + timeout
        while (self.client.last_frame_time - self._t0 < self.recorded.size + 2 * JACK_PERIOD
               and time.monotonic() < deadline):
            time.sleep(0.02)
        self._t0 = None

    def start_time(self) -> int:
        """A period boundary a few periods ahead (JACK frame time)."""
        return self.client.last_frame_time + 4 * JACK_PERIOD

    def close(self):
        self.client.deactivate()
        self.client.close()


@pytest.fixture
def jack_probe(jack_server):
    probe = JackProbe(jack_server, f"np_probe{int(time.monotonic() * 1000) % 100000}")
    yield probe
    probe.close()


def measured_lag(recorded: np.ndarray, signal: np.ndarray, max_lag: int = 8192) -> int:
    """Delay (samples) of ``signal``'s start in ``recorded`` (cross-correlation peak)."""
    probe = signal[:4096]
    corr = np.correlate(recorded[:max_lag + probe.size], probe, mode="valid")
    return int(np.argmax(np.abs(corr)))
