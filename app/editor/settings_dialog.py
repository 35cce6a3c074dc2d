"""Audio settings: devices (audio and MIDI input), sample rate, block size, engine mode."""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel

SAMPLE_RATES = [44100, 48000, 88200, 96000]
BLOCK_SIZES = [32, 64, 128, 256, 512, 1024, 2048]
MODES = [("auto", "automatic"), ("process", "separate process (robust against a busy editor)"),
         ("thread", "thread in the editor process")]


def list_devices() -> tuple[list, list, str]:
    """(input devices, output devices, note) as (index, name) pairs; empty when none.

    Goes through the engine's device listing, which releases PortAudio afterwards: an idle
    PortAudio left initialised in the editor process keeps a JACK client that the server
    waits for every period, and its misses count as xruns for the engine too."""
    try:
        from neuropatch.engine.live.stream import list_devices as engine_list_devices

        devices = engine_list_devices()
    except Exception as exc:  # no PortAudio, no devices
        return [], [], f"no audio devices: {exc}"
    ins = [(d["index"], d["name"]) for d in devices if d["max_input_channels"] > 0]
    outs = [(d["index"], d["name"]) for d in devices if d["max_output_channels"] > 0]
    return ins, outs, ""


class AudioSettingsDialog(QDialog):
    def __init__(self, current: dict, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Audio settings")
        form = QFormLayout(self)
        ins, outs, note = list_devices()
        self.input = QComboBox()
        self.output = QComboBox()
        for combo, devs, key in ((self.input, ins, "input_device"), (self.output, outs, "output_device")):
            combo.addItem("system default", None)
            for idx, name in devs:
                combo.addItem(f"{idx}: {name}", idx)
            i = combo.findData(current.get(key))
            combo.setCurrentIndex(max(i, 0))
        self.rate = QComboBox()
        for r in SAMPLE_RATES:
            self.rate.addItem(f"{r} Hz", r)
        self.rate.setCurrentIndex(max(self.rate.findData(current.get("sample_rate", 48000)), 0))
        self.block = QComboBox()
        for b in BLOCK_SIZES:
            self.block.addItem(f"{b} samples", b)
        self.block.setCurrentIndex(max(self.block.findData(current.get("block_size", 256)), 0))
        self.mode = QComboBox()
        for key, label in MODES:
            self.mode.addItem(label, key)
        self.mode.setCurrentIndex(max(self.mode.findData(current.get("mode", "auto")), 0))
        self.backend = QComboBox()
        self.backend.addItem("sound card (sounddevice)", "sounddevice")
        self.backend.addItem("offline (no device)", "offline")
        self.backend.setCurrentIndex(max(self.backend.findData(current.get("backend", "sounddevice")), 0))
        from neuropatch.nodes.midi_io import available_ports

        self.midi = QComboBox()
        self.midi.addItem("as set in each MIDI In node", None)
        for name in dict.fromkeys(available_ports("input") + ([current["midi_input"]] if current.get("midi_input") else [])):
            self.midi.addItem(name, name)
        self.midi.setCurrentIndex(max(self.midi.findData(current.get("midi_input")), 0))
        form.addRow("Input device", self.input)
        form.addRow("Output device", self.output)
        form.addRow("MIDI input", self.midi)
        form.addRow("Sample rate", self.rate)
        form.addRow("Block size", self.block)
        form.addRow("Engine", self.mode)
        form.addRow("Backend", self.backend)
        if note:
            form.addRow(QLabel(note))
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> dict:
        return {"input_device": self.input.currentData(), "output_device": self.output.currentData(),
                "sample_rate": self.rate.currentData(), "block_size": self.block.currentData(),
                "mode": self.mode.currentData(), "backend": self.backend.currentData(),
                "midi_input": self.midi.currentData()}
