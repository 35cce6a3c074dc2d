"""Live audio: sounddevice duplex stream, engine process/thread, meters, taps.

The controlling side uses :class:`EngineClient`; nothing here imports Qt.
"""
from .client import AUTO_THREAD_BLOCK, EngineClient
from .limiter import SafetyLimiter
from .shm_ring import TapReader
from .stream import LiveAudioError

__all__ = ["AUTO_THREAD_BLOCK", "EngineClient", "LiveAudioError", "SafetyLimiter", "TapReader"]
