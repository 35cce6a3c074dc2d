"""Live-audio fixtures: a JACK server on the dummy backend and a JACK probe client.

The server starts before sounddevice is imported (PortAudio enumerates host APIs at
import); if sounddevice was imported earlier, PortAudio is re-initialised. When jackd
cannot start, tests using these fixtures fail with the reason; only a missing jackd
binary skips them.
"""
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

JACK_RATE = 48000
JACK_PERIOD = 256


@pytest.fixture(scope="session")
def jack_server():
    """Name of a running JACK dummy server (48 kHz, 256-sample periods) for this test run."""
    if shutil.which("jackd") is None:
        pytest.fail("jackd is not installed (apt install jackd2): the live JACK tests need it")
    name = f"np_t{os.getpid()}"
    log = open(os.devnull, "w")
    proc = subprocess.Popen(["jackd", "-n", name, "-d", "dummy", "-r", str(JACK_RATE),
                             "-p", str(JACK_PERIOD)], stdout=log, stderr=subprocess.STDOUT)
    os.environ["JACK_DEFAULT_SERVER"] = name
    import jack

    client, deadline, last = None, time.monotonic() + 15.0, None
    while client is None and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            client = jack.Client("np_probe_ready", servername=name, no_start_server=True)
        except jack.JackError as exc:
            last = exc
            time.sleep(0.1)
    if client is None:
        proc.kill()
        pytest.fail(f"jackd -n {name} -d dummy did not start (exit {proc.poll()}, last error {last}); "
                    f"live audio tests need a JACK server")
    client.close()
    import sounddevice as sd

    if not sd._initialized:      # released earlier in this session (release_portaudio)
        sd._initialize()
    if "JACK Audio Connection Kit" not in [a["name"] for a in sd.query_hostapis()]:
        sd._terminate()          # imported before the server ran: enumerate again
        sd._initialize()
    apis = [a["name"] for a in sd.query_hostapis()]
    if "JACK Audio Connection Kit" not in apis:
        proc.kill()
        pytest.fail(f"sounddevice does not see the JACK host API (host APIs: {apis})")
    # release PortAudio here again: initialised, it keeps an idle but active JACK client in
    # this process that the server waits for every period; thread-mode engines initialise
    # it again on their first PortAudio call
    while sd._initialized:
        sd._terminate()
    try:
        yield name
    finally:
        while sd._initialized:   # let PortAudio leave JACK before the server goes away
            sd._terminate()
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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
        self._t0 = None
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
