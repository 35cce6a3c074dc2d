"""Shared by the live benchmarks: a private JACK dummy server for one measurement."""
from __future__ import annotations

import os
import subprocess
import time


class JackDummy:
    """``jackd -n NAME -d dummy -r RATE -p PERIOD`` for the lifetime of a with-block."""

    def __init__(self, name: str, rate: int = 48000, period: int = 256):
        self.name, self.rate, self.period = name, rate, period

    def __enter__(self):
        self.proc = subprocess.Popen(["jackd", "-n", self.name, "-d", "dummy", "-r", str(self.rate),
                                      "-p", str(self.period)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.environ["JACK_DEFAULT_SERVER"] = self.name
        try:
            return self._wait_ready()
        except BaseException:
            self.proc.kill()
            raise

    def _wait_ready(self):
        import jack

        deadline = time.monotonic() + 15
        while True:
            try:
                jack.Client("np_bench_ready", servername=self.name, no_start_server=True).close()
                break
            except jack.JackError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"jackd -n {self.name} did not start")
                time.sleep(0.1)
        import sounddevice as sd

        while sd._initialized:      # enumerate host APIs again for this server
            sd._terminate()
        sd._initialize()
        return self

    def __exit__(self, *exc):
        import sounddevice as sd

        while sd._initialized:
            sd._terminate()
        self.proc.terminate()
        self.proc.wait(5)
