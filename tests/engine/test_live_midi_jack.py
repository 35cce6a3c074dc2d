"""Live MIDI into the engine through JACK (the dummy server): notes sent at known JACK
frames sound from the synth with their spacing kept to within one block, no later than the
reported latency."""
import time

import numpy as np
import pytest

from neuropatch.engine import AddNode, Connect, Edge, Graph, new_node_spec
from neuropatch.engine.live import EngineClient

from .conftest import JACK_PERIOD, JACK_RATE


class MidiProbe:
    """A JACK client with a MIDI output (sends note-ons at chosen frames) and an audio input
    recording the engine's output, both on JACK's frame clock."""

    def __init__(self, server: str, name: str):
        import jack

        self.client = jack.Client(name, servername=server, no_start_server=True)
        self.midi = self.client.midi_outports.register("midi_out")
        self.rec = self.client.inports.register("rec")
        self.sends = []                 # pending (frame, bytes)
        self.recorded = np.zeros(0, np.float32)
        self.t0 = None
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames):
        self.midi.clear_buffer()
        now = self.client.last_frame_time
        for frame, data in list(self.sends):
            if now <= frame < now + frames:
                self.midi.write_midi_event(frame - now, data)
                self.sends.remove((frame, data))
        if self.t0 is not None:
            k = now - self.t0
            if 0 <= k and k + frames <= self.recorded.size:
                self.recorded[k:k + frames] = self.rec.get_array()

    def record(self, seconds: float, messages) -> np.ndarray:
        """Record `seconds` from a period a little ahead; messages: (frame offset, MIDI bytes)."""
        self.recorded = np.zeros(int(seconds * JACK_RATE), np.float32)
        t0 = self.client.last_frame_time + 8 * JACK_PERIOD
        self.sends = [(t0 + off, bytes(data)) for off, data in messages]
        self.t0 = t0
        time.sleep(seconds + 0.3)
        self.t0 = None
        return self.recorded

    def close(self):
        self.client.deactivate()
        self.client.close()


@pytest.mark.jack
def test_notes_played_into_midi_in_keep_their_timing_within_one_block(jack_server):
    probe = MidiProbe(jack_server, f"np_midi{int(time.monotonic() * 1000) % 100000}")
    g = Graph()
    g.apply(AddNode(new_node_spec("io.midi_in", "keys", params={"device": f"{probe.client.name}:midi_out",
                                                                 "api": "jack"})))
    g.apply(AddNode(new_node_spec("synth.poly", "synth", params={"wave": "square", "attack_ms": 0.5,
                                                                  "release_ms": 1.0, "gain_db": 0.0,
                                                                  "cutoff_hz": 20000.0})))
    g.apply(AddNode(new_node_spec("io.audio_out", "out")))
    g.apply(Connect(Edge("keys", "out", "synth", "events")))
    g.apply(Connect(Edge("synth", "out", "out", "in")))
    try:
        with EngineClient(mode="process", block_size=JACK_PERIOD, in_channels=1, out_channels=1) as client:
            client.load(g)
            client.start()
            client.sync()
            m = client.meters()
            assert m["compile_error"] is None and not m["errors"], m
            pa_out = sorted(p.name for p in probe.client.get_ports(is_output=True, is_audio=True)
                            if p.name.startswith("PortAudio"))[0]
            probe.client.connect(pa_out, probe.rec)
            time.sleep(0.3)
            offsets = [12000 + 37, 24000 + 200]
            rec = probe.record(0.8, [(offsets[0], (0x90, 60, 127)), (offsets[0] + 2400, (0x80, 60, 0)),
                                     (offsets[1], (0x90, 72, 127))])
            m = client.meters()
            # a note does not pass the audio input: graph latency (MIDI In's block) + output
            latency = m["graph_latency_samples"] + m["output_latency_samples"]
    finally:
        probe.close()
    loud = np.flatnonzero(np.abs(rec) > 1e-3)
    assert loud.size, "the note never sounded"
    starts = [int(loud[0])] + [int(loud[k]) for k in range(1, loud.size) if loud[k] - loud[k - 1] > 2000]
    onsets = [s for s in starts if s > offsets[0] - 100]
    assert len(onsets) == 2, starts
    delays = [heard - sent for sent, heard in zip(offsets, onsets)]
    # the timing between notes is kept to within one block, and no note is later than the
    # reported latency (PortAudio's split of it between input and output is not exact on JACK)
    assert abs(delays[1] - delays[0]) <= JACK_PERIOD, delays
    assert all(0 < d <= latency + JACK_PERIOD for d in delays), (delays, latency)
