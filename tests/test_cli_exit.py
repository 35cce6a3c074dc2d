"""The `neuropatch` command ends without the interpreter's teardown (app.cli.run), and loses
nothing by it: exit codes, buffered output, exit handlers and written files all arrive."""
import subprocess
import sys
from pathlib import Path

import soundfile as sf

REPO = Path(__file__).resolve().parent.parent


def neuropatch(*args, cwd):
    return subprocess.run([sys.executable, "-m", "neuropatch.app.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_a_render_run_as_the_command_writes_its_whole_file_and_reports(tmp_path):
    out = tmp_path / "tone.wav"
    proc = neuropatch("render", REPO / "patches" / "hello_tone.json", "--seconds", "0.5", "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "rendered 0.50 s" in proc.stdout + proc.stderr
    info = sf.info(str(out))
    assert info.frames == round(0.5 * info.samplerate)


def test_a_failing_command_keeps_its_exit_code_and_message(tmp_path):
    proc = neuropatch("render", tmp_path / "missing.json", "--seconds", "1", cwd=tmp_path)
    assert proc.returncode == 2
    assert "missing.json" in proc.stderr and "Traceback" not in proc.stderr


def test_exit_now_runs_exit_handlers_and_flushes_piped_output(tmp_path):
    script = ("import atexit\n"
              "from neuropatch.app.cli import exit_now\n"
              "atexit.register(lambda: print('handler ran'))\n"
              "print('partial line', end='')\n"
              "exit_now(3)\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3
    assert proc.stdout == "partial linehandler ran\n"
