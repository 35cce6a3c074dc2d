"""The worker side of ``vocoder.gan``: the generator called on whole chunks of mel frames.

Built from plain data (:class:`VocoderChunkModel` ``(config)``): ``path`` (the
.safetensors model), ``threads`` (torch intra-op threads in the worker), ``device``
("cpu" | "cuda" | "auto"). Chunk arrays (see :mod:`neuropatch.engine.lane`): input ``in``
float32 [chunk // hop, n_mels] (dB mel frames), output ``out`` float32 [1, chunk].

The generator's layer histories live in ``state`` between chunks (cleared by ``reset``),
so the chunks join into exactly the whole-signal output.
"""
from __future__ import annotations

import numpy as np


class VocoderChunkModel:
    def __init__(self, config: dict):
        import torch

        from .model import load_model
        from .torch_model import build_generator, load_tensors

        self.torch = torch
        torch.set_num_threads(int(config.get("threads", 1)))
        model = load_model(config["path"])
        device = config.get("device", "cpu")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.generator = build_generator(model.config)
        load_tensors(self.generator, model.tensors)
        self.generator = self.generator.to(self.device).eval()
        self.config = model.config
        self.parameters = model.parameters
        self.state: dict = {}
        frames = max(1, int(config.get("chunk", 1024)) // model.hop)
        self.mel = np.zeros((frames, int(model.config["mel"]["n_mels"])), np.float32)
        self._call(self.mel)      # torch's first call is slow: make it here, not on a live chunk
        self.reset()

    def describe(self) -> dict:
        return {"parameters": self.parameters, "sample_rate": int(self.config["mel"]["sample_rate"]),
                "delay": int(self.config["delay"])}

    def reset(self) -> None:
        self.state.clear()

    def _call(self, frames: np.ndarray) -> np.ndarray:
        """frames float32 [F, n_mels] -> audio float32 [F * hop], continuing ``state``."""
        torch = self.torch
        with torch.inference_mode():
            mel = torch.from_numpy(np.ascontiguousarray(frames.T))[None].to(self.device)
            y = self.generator(mel, self.state)
        return y[0].to("cpu").numpy()

    def process(self, inputs: dict, outputs: dict) -> None:
        outputs["out"][0] = self._call(inputs["in"])
