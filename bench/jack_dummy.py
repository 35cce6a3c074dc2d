"""Shared by the live benchmarks: a private JACK dummy server for one measurement."""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections import Counter

_XRUN = re.compile(r"JackEngine::XRun: client = (.+?) was not finished, state = (\w+)")


class JackDummy:
    """``jackd [-R] -n NAME -d dummy -r RATE -p PERIOD`` for the lifetime of a with-block.

    realtime: run jackd with ``-R`` (SCHED_FIFO for its driver thread and, through
    libjack, for every client's process thread), as a musician's setup does.
    jackd's own output goes to a log file; :meth:`xruns` parses its xrun reports, which
    name the late client and its state ("Triggered": signalled but not yet scheduled by
    the OS; "Running": scheduled but not finished within the period).
    """

    def __init__(self, name: str, rate: int = 48000, period: int = 256, realtime: bool = False):
        self.name, self.rate, self.period, self.realtime = name, rate, period, realtime

    def __enter__(self):
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"{self.name}_", suffix=".log", delete=False)
        cmd = ["jackd", "-R" if self.realtime else "-r", "-n", self.name, "-d", "dummy",
               "-r", str(self.rate), "-p", str(self.period)]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
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
        # PortAudio stays released in this (controlling) process: an initialised PortAudio
        # keeps an active JACK client here that the server waits for every period. The
        # engine process, or a thread-mode engine's first PortAudio call, initialises it.
        from neuropatch.engine.live.stream import release_portaudio

        release_portaudio()
        return self

    def log_offset(self) -> int:
        """Current length of jackd's log (bytes): pass to :meth:`xruns` to count from here."""
        self.log.flush()
        return os.path.getsize(self.log.name)

    def xruns(self, since: int = 0) -> Counter:
        """(client, state) -> count of jackd's xrun reports after byte ``since`` of its log."""
        with open(self.log.name, errors="replace") as f:
            f.seek(since)
            return Counter(m.groups() for m in _XRUN.finditer(f.read()))

    def __exit__(self, *exc):
        from neuropatch.engine.live.stream import release_portaudio

        release_portaudio()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        os.unlink(self.log.name)
