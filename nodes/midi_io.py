"""MIDI in and out of the graph: a .mid file player, a recorder, live ports (mido +
python-rtmidi).

Files are read and written with mido. Timing is sample-accurate against the engine clock:
the player places each event on the sample its time maps to; the live input stamps each
message with the time it arrived and delivers it at that offset one block later (a fixed,
reported delay, so the spacing of played notes is kept).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from neuropatch.engine import Node, Param, Port, Resource
from neuropatch.engine.capture import Capture
from neuropatch.engine.errors import NodeConfigError, ResourceError
from neuropatch.engine.events import CONTROL, NOTE_OFF, NOTE_ON, PITCH_BEND

CHANNEL_TYPES = {"note_on": NOTE_ON, "note_off": NOTE_OFF, "control_change": CONTROL, "pitchwheel": PITCH_BEND}


def message_record(msg) -> tuple | None:
    """A mido channel message as an event record (type, channel, data1, data2, value), or
    None for other messages; a note-on of velocity 0 is a note-off, bend is in value (-1..1)."""
    t = CHANNEL_TYPES.get(msg.type)
    if t is None:
        return None
    if t == NOTE_ON and msg.velocity == 0:
        t = NOTE_OFF
    if t == NOTE_ON:
        return t, msg.channel, msg.note, msg.velocity, 0.0
    if t == NOTE_OFF:
        return t, msg.channel, msg.note, 0, 0.0
    if t == CONTROL:
        return t, msg.channel, msg.control, msg.value, 0.0
    return t, msg.channel, 0, 0, msg.pitch / 8192.0


def record_message(typ: int, ch: int, d1: int, d2: int, value: float, time: int = 0):
    """An event record as a mido message (None for a type mido files do not take from us)."""
    import mido

    ch, d1, d2 = int(ch), int(d1), int(d2)
    if typ == NOTE_ON:
        return mido.Message("note_on", channel=ch, note=d1, velocity=d2, time=time)
    if typ == NOTE_OFF:
        return mido.Message("note_off", channel=ch, note=d1, velocity=0, time=time)
    if typ == CONTROL:
        return mido.Message("control_change", channel=ch, control=d1, value=d2, time=time)
    if typ == PITCH_BEND:
        return mido.Message("pitchwheel", channel=ch, time=time,
                            pitch=int(max(-8192, min(8191, round(value * 8192)))))
    return None


def read_midi_file(path: str | Path) -> tuple[np.ndarray, float, np.ndarray]:
    """A .mid file's channel events with their times in beats, its length in beats and its
    tempo map, from one parse of the file.

    Returns (records float64 [k, 6]: beat, type, channel, data1, data2, value; sorted by
    beat), length in beats, tempo map [(beat, microseconds per beat)] (120 bpm when the
    file sets none; :func:`beats_to_seconds` applies it).
    """
    import mido

    try:
        mid = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise ResourceError(f"{Path(path).name}: not a readable MIDI file ({exc})") from None
    tpb = mid.ticks_per_beat
    rows = []
    tempos = {0.0: 500000}
    end = 0
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            end = max(end, tick)
            if msg.type == "set_tempo":
                tempos[tick / tpb] = msg.tempo
            rec = message_record(msg)
            if rec is not None:
                rows.append((tick / tpb, *rec))
    # at equal times: note-offs first, so a repeated note is released before it sounds again
    rows.sort(key=lambda r: (r[0], 0 if r[1] == NOTE_OFF else 1))
    return (np.array(rows, np.float64).reshape(-1, 6), end / tpb,
            np.array(sorted(tempos.items()), np.float64))


def beats_to_seconds(beats: np.ndarray, tmap: np.ndarray) -> np.ndarray:
    """Seconds of each beat position under a tempo map from :func:`read_midi_file`."""
    starts, tempos = tmap[:, 0], tmap[:, 1] * 1e-6
    seg_seconds = np.concatenate([[0.0], np.cumsum(np.diff(starts) * tempos[:-1])])
    k = np.searchsorted(starts, beats, side="right") - 1
    return seg_seconds[k] + (beats - starts[k]) * tempos[k]


class MidiFilePlayer(Node):
    type_id = "io.midi_file_player"
    title = "MIDI File Player"
    category = "io"
    prepare_does_io = True
    doc = ("Plays a .mid file's notes, controllers and pitch bend as events, following the "
           "transport: at the file's own tempo map ('file'), or at the patch tempo "
           "('transport'). Loops when 'loop' is on (the loop is the file's length).")
    outputs = [Port("out", "events")]
    resources = [Resource("file", (".mid", ".midi"), "MIDI file", required=True)]
    params = [Param.flag("loop", False),
              Param.choice("tempo", ("file", "transport"), "file", structural=True),
              Param("transpose", -48, 48, 0, int, unit="st")]

    @classmethod
    def contract_setup(cls, tmp_dir):
        path = Path(tmp_dir) / "contract.mid"
        spb = 48000 * 0.5   # samples per beat at 120 bpm
        notes = [(0.0, 60), (0.25, 64), (0.5, 67), (1.0, 72)]
        rows = [(t * spb, NOTE_ON, 0, n, 100, 0.0) for t, n in notes]
        rows += [((t + 0.2) * spb, NOTE_OFF, 0, n, 0, 0.0) for t, n in notes]
        write_midi_file(path, np.array(sorted(rows)), 48000, 120.0)
        return {"resources": {"file": str(path)}, "params": {"loop": True}}

    def prepare(self, ctx):
        path = self.resource_paths["file"]
        rows, length, tmap = read_midi_file(path)
        self._transport = ctx.host.transport
        if self.param_values["tempo"] == "file":
            secs = beats_to_seconds(np.append(rows[:, 0], length), tmap)
            self._times = np.round(secs[:-1] * ctx.sample_rate).astype(np.int64)
            self._length = max(int(round(secs[-1] * ctx.sample_rate)), 1)
        else:
            spb = self._transport.samples_per_beat
            self._times = np.round(rows[:, 0] * spb).astype(np.int64)
            self._length = max(int(round(length * spb)), 1)
        self._rows = rows
        self._next = 0
        self._loop_start = 0  # transport sample where the current pass of the file began

    def reset(self):
        super().reset()
        self._next = 0
        self._loop_start = 0

    def process(self, ins, outs, n):
        out = outs["out"]
        out.clear()
        tr = self._transport
        if not tr.playing:
            return
        pos = tr.position
        transpose = self.param_values["transpose"]
        times, rows = self._times, self._rows
        while True:
            base = self._loop_start
            while self._next < times.shape[0] and times[self._next] + base < pos + n:
                k = self._next
                t = int(times[k] + base - pos)
                if t >= 0:
                    typ = int(rows[k, 1])
                    d1 = int(rows[k, 3])
                    if typ in (NOTE_ON, NOTE_OFF):
                        d1 = min(127, max(0, d1 + transpose))
                    out.push(t, typ, int(rows[k, 2]), d1, int(rows[k, 4]), rows[k, 5])
                self._next += 1
            if self.param_values["loop"] and base + self._length < pos + n:
                self._loop_start = base + self._length
                self._next = 0
                continue
            return


class MidiRecorder(Node):
    type_id = "io.midi_recorder"
    title = "MIDI Recorder"
    category = "io"
    doc = ("Records its events and writes them to 'path' as a standard MIDI file (480 ticks per "
           "beat at the patch tempo; relative to the working directory) when the render or live "
           "session stops.")
    inputs = [Port("in", "events")]
    params = [Param.text("path", "recording.mid")]

    def prepare(self, ctx):
        # rows: position // 2**20, position % 2**20, type, channel, data1, data2, value (exact in float32)
        self._capture = Capture((7,), chunk_rows=4096)
        self._row = np.zeros((1, 7), np.float32)
        self._transport = ctx.host.transport
        self.sample_rate = ctx.sample_rate

    def reset(self):
        super().reset()
        self._capture.clear()

    def process(self, ins, outs, n):
        ev = ins["in"]
        row = self._row
        for k in range(ev.count):
            pos = self._transport.position + int(ev.offset[k])
            row[0, 0] = pos >> 20
            row[0, 1] = pos & 0xFFFFF
            row[0, 2] = ev.type[k]
            row[0, 3] = ev.channel[k]
            row[0, 4] = ev.data1[k]
            row[0, 5] = ev.data2[k]
            row[0, 6] = ev.value[k]
            self._capture.append(row)

    def housekeeping(self):
        self._capture.refill()

    def result(self) -> np.ndarray:
        """Recorded events: float64 [k, 6] (sample, type, channel, data1, data2, value)."""
        data = self._capture.result().astype(np.float64)
        out = np.empty((data.shape[0], 6))
        out[:, 0] = data[:, 0] * (1 << 20) + data[:, 1]
        out[:, 1:] = data[:, 2:]
        return out

    def finish(self):
        if self.param_values["path"]:
            write_midi_file(Path(self.param_values["path"]).expanduser(), self.result(),
                            self.sample_rate, self._transport.tempo)


def write_midi_file(path: Path, records: np.ndarray, sample_rate: int, tempo: float, tpb: int = 480) -> None:
    """records float64 [k, 6] (sample, type, channel, data1, data2, value) -> a type-0 .mid."""
    import mido

    events = [(0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo)))]
    for k, (sample, typ, ch, d1, d2, value) in enumerate(records):
        msg = record_message(typ, ch, d1, d2, value)
        if msg is not None:   # recorded order is kept at equal ticks
            events.append((int(round(sample / sample_rate * tempo / 60.0 * tpb)), 1 + k, msg))
    _save_track(path, events, tpb)


def write_notes_file(path: Path, notes, tempos=((0.0, 120.0),), tpb: int = 480) -> Path:
    """A type-0 .mid of `notes` ((start beat, length beats, pitch[, velocity])) with the tempo
    changes `tempos` ((beat, bpm)); at equal ticks note-offs come before note-ons."""
    import mido

    events = [(int(round(b * tpb)), 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
              for b, bpm in tempos]
    for start, length, pitch, *vel in notes:
        events.append((int(round(start * tpb)), 2, mido.Message("note_on", note=pitch, velocity=(vel or [90])[0])))
        events.append((int(round((start + length) * tpb)), 1, mido.Message("note_off", note=pitch)))
    _save_track(path, events, tpb)
    return Path(path)


def _save_track(path: Path, events: list, tpb: int) -> None:
    """Write (tick, order, message) events, sorted by tick then order, as a one-track .mid
    (via a temporary name, so a reader never sees half a file)."""
    import mido

    mid = mido.MidiFile(ticks_per_beat=tpb)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    last = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - last))
        last = tick
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    mid.save(str(tmp))
    tmp.replace(path)


# ---- live ports ------------------------------------------------------------------------------


class _MidiRing:
    """Messages from the MIDI thread to the audio thread: preallocated arrays and two counters
    (each written by one side only), no lock."""

    def __init__(self, capacity: int = 1024):
        self.when = np.zeros(capacity, np.float64)     # perf_counter seconds at arrival
        self.msg = np.zeros((capacity, 4), np.float32)  # type, channel, data1, data2 (value in data2 for bend)
        self.written = 0
        self.read = 0
        self.dropped = 0

    def put(self, when: float, typ: int, ch: int, d1: int, d2: float) -> None:
        cap = self.when.shape[0]
        if self.written - self.read >= cap:
            self.dropped += 1
            return
        i = self.written % cap
        self.when[i] = when
        self.msg[i] = (typ, ch, d1, d2)
        self.written += 1


NO_DEVICE = "(none)"
APIS = {"jack": "UNIX_JACK", "alsa": "LINUX_ALSA"}
PORT_ERRORS = (OSError, ValueError, ImportError, SystemError, RuntimeError)


def midi_backend(api: str):
    """mido's rtmidi backend on `api` ("jack", "alsa"; "auto": JACK when a JACK server runs,
    else ALSA). Raises NodeConfigError when none works."""
    import mido

    errors = []
    if api == "auto":   # probe only what exists: a failed probe makes the C libraries print noise
        names = ([n for n, up in (("jack", _jack_running()), ("alsa", Path("/dev/snd/seq").exists())) if up])
        if not names:
            raise NodeConfigError("midi", "no MIDI system found (no JACK server running, no ALSA sequencer)")
    else:
        names = [api]
    for name in names:
        backend = mido.Backend(f"mido.backends.rtmidi/{APIS[name]}", load=False)
        try:
            backend.get_input_names()
            return backend
        except PORT_ERRORS as exc:
            errors.append(f"{name}: {exc}")
    raise NodeConfigError("midi", "no MIDI system available (" + "; ".join(errors) + ")")


def _jack_running() -> bool:
    """The JACK server rtmidi would connect to (``$JACK_DEFAULT_SERVER`` or "default") runs:
    its socket exists (JACK 2 keeps it in /dev/shm)."""
    import os
    import stat

    name = os.environ.get("JACK_DEFAULT_SERVER", "default")
    try:
        return stat.S_ISSOCK(os.stat(f"/dev/shm/jack_{name}_{os.getuid()}_0").st_mode)
    except OSError:
        return False


def open_port(kind: str, name: str, virtual: bool, api: str, node_id: str, callback=None):
    """Open a MIDI input ("input", with `callback` on the MIDI thread) or output."""
    try:
        backend = midi_backend(api)
        if kind == "input":
            return backend.open_input(name or ("neuropatch in" if virtual else None), virtual=virtual,
                                      callback=callback)
        return backend.open_output(name or ("neuropatch out" if virtual else None), virtual=virtual)
    except NodeConfigError as exc:
        raise NodeConfigError(node_id, str(exc).split(": ", 1)[-1]) from None
    except PORT_ERRORS as exc:
        try:
            names = backend.get_input_names() if kind == "input" else backend.get_output_names()
        except (PORT_ERRORS + (NameError,)):
            names = []
        raise NodeConfigError(node_id, f"cannot open MIDI {kind} {name or '(first)'!r} ({exc}); "
                                       f"available: {', '.join(names) or 'none'}") from None


def available_ports(kind: str = "input", api: str = "auto") -> list:
    try:
        backend = midi_backend(api)
        return list(backend.get_input_names() if kind == "input" else backend.get_output_names())
    except (NodeConfigError,) + PORT_ERRORS:
        return []


PORT_PARAMS = [Param("device", 0, 0, "", str, structural=True,
                     doc=f"port name; empty: the first one; '{NO_DEVICE}': no port"),
               Param.flag("virtual", False, doc="create a port other programs connect to", structural=True),
               Param.choice("api", ("auto", "jack", "alsa"), "auto", doc="MIDI system", structural=True)]


class _PortNode(Node):
    """What MIDI In and MIDI Out share: the port params; no port in the contract tests."""
    category = "io"
    prepare_does_io = True
    params = PORT_PARAMS

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"params": {"device": NO_DEVICE}}


class MidiIn(_PortNode):
    type_id = "io.midi_in"
    title = "MIDI In"
    doc = ("Live MIDI from a device (by name; empty: the first one) or a virtual input port other "
           "programs connect to. Messages are stamped on arrival and delivered one block later at "
           "that offset, so timing within a block is kept (latency: one block).")
    outputs = [Port("out", "events")]

    def prepare(self, ctx):
        self._ring = _MidiRing()
        self.latency_samples = ctx.block_size   # delivered one block after arrival (see doc)
        self.sr = ctx.sample_rate
        self._block_start = None    # perf_counter time of the previous block's start
        p = self.param_values
        self._port = (None if p["device"] == NO_DEVICE and not p["virtual"] else
                      open_port("input", p["device"], p["virtual"], p["api"], ctx.node_id, self._on_message))

    def _on_message(self, msg) -> None:   # the MIDI thread
        now = time.perf_counter()
        rec = message_record(msg)
        if rec is not None:
            typ, ch, d1, d2, value = rec
            self._ring.put(now, typ, ch, d1, value if typ == PITCH_BEND else d2)

    def process(self, ins, outs, n):
        out = outs["out"]
        out.clear()
        now = time.perf_counter()
        start, self._block_start = self._block_start, now
        ring = self._ring
        cap = ring.when.shape[0]
        while ring.read < ring.written:
            i = ring.read % cap
            # arrival time within the previous block's span -> the same offset in this block
            t = 0 if start is None else int((ring.when[i] - start) * self.sr)
            t = min(max(t, 0), n - 1)
            typ, ch, d1, d2 = ring.msg[i]
            if typ == PITCH_BEND:
                out.push(t, int(typ), int(ch), 0, 0, float(d2))
            else:
                out.push(t, int(typ), int(ch), int(d1), int(d2))
            ring.read += 1

    def reset(self):
        super().reset()
        self._ring.read = self._ring.written
        self._block_start = None

    def finish(self):
        port, self._port = getattr(self, "_port", None), None
        if port is not None:
            port.close()

    def __del__(self):
        self.finish()


class MidiOut(_PortNode):
    type_id = "io.midi_out"
    title = "MIDI Out"
    doc = ("Sends its events to a MIDI output (by name; empty: the first one) or a virtual "
           "output port. Messages are queued on the audio thread and sent by a sender thread at "
           "their time (one block later).")
    inputs = [Port("in", "events")]

    def prepare(self, ctx):
        p = self.param_values
        self._port = (None if p["device"] == NO_DEVICE and not p["virtual"] else
                      open_port("output", p["device"], p["virtual"], p["api"], ctx.node_id))
        self._ring = _MidiRing()
        self.sr = ctx.sample_rate
        self._stop = None
        if self._port is not None:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._send_loop, name="neuropatch-midi-out", daemon=True)
            self._thread.start()

    def process(self, ins, outs, n):
        ev = ins["in"]
        if self._port is None:
            return
        now = time.perf_counter()
        for k in range(ev.count):
            d2 = ev.value[k] if ev.type[k] == PITCH_BEND else ev.data2[k]
            self._ring.put(now + (n + int(ev.offset[k])) / self.sr, int(ev.type[k]), int(ev.channel[k]),
                           int(ev.data1[k]), d2)

    def _send_loop(self):
        ring = self._ring
        cap = ring.when.shape[0]
        while not self._stop.is_set():
            while ring.read < ring.written:
                i = ring.read % cap
                wait = ring.when[i] - time.perf_counter()
                if wait > 0:
                    time.sleep(min(wait, 0.002))
                    break
                typ, ch, d1, d2 = ring.msg[i]
                bend = typ == PITCH_BEND   # the ring keeps a bend's value where data2 goes
                msg = record_message(int(typ), ch, d1, 0 if bend else d2, d2 if bend else 0.0)
                if msg is not None:
                    self._port.send(msg)
                ring.read += 1
            else:
                self._stop.wait(0.001)

    def finish(self):
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
            self._thread.join(timeout=1.0)
            if self._port is not None:
                self._port.close()
            self._stop = None


NODE_CLASSES = [MidiFilePlayer, MidiRecorder, MidiIn, MidiOut]
