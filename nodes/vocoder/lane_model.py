"""The worker side of ``vocoder.gan``: the generator called on whole chunks of mel frames.

Built from plain data (:class:`VocoderChunkModel` ``(config)``): ``path`` (the
.safetensors model), ``threads`` (torch intra-op threads in the worker), ``device``
("cpu" | "cuda" | "auto"). Chunk arrays (see :mod:`neuropatch.engine.lane`): input ``in``
float32 [chunk // hop, n_mels] (dB mel frames), output ``out`` float32 [1, chunk].

The generator's layer histories live between chunks (cleared by ``reset``), so the chunks
join into the whole-signal output (on the CPU through :class:`.torch_model.StreamingGenerator`,
the same arithmetic as matrix products).
"""
from __future__ import annotations

import numpy as np


class VocoderChunkModel:
    def __init__(self, config: dict):
        import torch

        from .model import load_model
        from .torch_model import StreamingGenerator, build_generator, load_tensors

        self.torch = torch
        torch.set_num_threads(int(config.get("threads", 1)))
        model = load_model(config["path"])
        device = config.get("device", "cpu")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.generator = build_generator(model.config)
        load_tensors(self.generator, model.tensors)
        self.generator = self.generator.eval()
        self.config = model.config
        self.parameters = model.parameters
        self.state: dict = {}
        # on the CPU: the generator's matrix-product form (cheaper per chunk than torch's
        # convolutions); elsewhere the module itself with its state dict
        self.stream = StreamingGenerator(self.generator) if self.device.type == "cpu" else None
        self.generator = self.generator.to(self.device)
        frames = max(1, int(config.get("chunk", 1024)) // model.hop)
        self.mel = np.zeros((frames, int(model.config["mel"]["n_mels"])), np.float32)
        self._call(self.mel)      # torch's first call is slow: make it here, not on a live chunk
        self.reset()

    def describe(self) -> dict:
        return {"parameters": self.parameters, "sample_rate": int(self.config["mel"]["sample_rate"]),
                "delay": int(self.config["delay"])}

    def reset(self) -> None:
        self.state.clear()
        if self.stream is not None:
            self.stream.reset()

    def _call(self, frames: np.ndarray) -> np.ndarray:
        """frames float32 [F, n_mels] -> audio float32 [F * hop], continuing ``state``."""
        torch = self.torch
        with torch.inference_mode():
            mel = torch.from_numpy(np.ascontiguousarray(frames.T))
            if self.stream is not None:
                return self.stream(mel).numpy()
            y = self.generator(mel[None].to(self.device), self.state)
        return y[0].to("cpu").numpy()

    def process(self, inputs: dict, outputs: dict) -> None:
        outputs["out"][0] = self._call(inputs["in"])
