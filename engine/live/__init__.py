"""Live audio: sounddevice duplex stream, engine process/thread, meters, taps."""
