import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".numba_cache"))
# the TorchScript trust store of this test session (never the user's)
os.environ["NEUROPATCH_TRUST_FILE"] = os.path.join(__import__("tempfile").mkdtemp(prefix="np-trust-"),
                                                   "trusted_models.json")
# the bundle cache of this test session (never the user's)
os.environ["NEUROPATCH_BUNDLE_CACHE"] = __import__("tempfile").mkdtemp(prefix="np-bundles-")

REPO = Path(__file__).resolve().parent.parent
JACK_RATE = 48000
JACK_PERIOD = 256


@pytest.fixture(autouse=True)
def _work_in_tmp_path(tmp_path, monkeypatch):
    """Every test runs in its own folder, so files written to relative paths (recorders,
    renders) never land in the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def registry():
    from neuropatch.engine import default_registry

    return default_registry()


@pytest.fixture
def cli(tmp_path):
    """Run the real `neuropatch` console entry in a subprocess: returns CompletedProcess."""
    import subprocess

    def run(*args, timeout=300, cwd=None):
        return subprocess.run([sys.executable, "-m", "neuropatch.app.cli", *map(str, args)],
                              capture_output=True, text=True, timeout=timeout, cwd=cwd or tmp_path)
    return run


# ---- live audio: a JACK server on the dummy backend ---------------------------------------
# The server starts before sounddevice is imported (PortAudio enumerates host APIs at
# import); if sounddevice was imported earlier, PortAudio is re-initialised. When jackd
# cannot start, tests using it fail with the reason. One server per session, shared by the
# engine's and the editor's live tests.


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


def unshipped_copy(src, folder):
    """A copy of a shipped model or IR with other bytes, in `folder`: resources resolve to the
    shipped assets as a last resort, so a test that deletes a file and expects it missing
    must use content that is not shipped."""
    import json
    from pathlib import Path

    import soundfile as sf

    src, folder = Path(src), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / src.name
    if src.suffix == ".nam":
        model = json.loads(src.read_text())
        model["metadata"] = {**(model.get("metadata") or {}), "name": "test copy, not shipped"}
        dst.write_text(json.dumps(model))
    else:
        audio, sr = sf.read(src, dtype="float32", always_2d=True)
        sf.write(dst, audio * 0.5, sr, subtype="FLOAT")
    return dst
