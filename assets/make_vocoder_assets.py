"""Make the training audio of the shipped GAN mel vocoder (run from the repository root):

    python assets/make_vocoder_assets.py       # -> build/vocoder_data/*.wav

then the two train-vocoder runs in assets/README.md ("GAN mel vocoder").

The audio is what the other shipped models were trained on, rendered by their scripts
with fluidsynth and the FluidR3 GM soundfont (Debian packages fluidsynth
fluid-soundfont-gm): the DDSP instruments' renders (violin, flute, trumpet: Bach chorale
soprano lines, seeded scale melodies, long swelled notes; ``make_ddsp_assets.py``) and
the VAE's mix of eight General MIDI programs (piano, nylon guitar, vibraphone, violin,
cello, trumpet, clarinet, flute; ``make_vae_assets.py``): 652 s at 48 kHz. Files that
already exist are not rendered again. No text-to-speech engine is installed here, so
there is no speech in the set.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_ddsp_assets  # noqa: E402
import make_vae_assets  # noqa: E402

OUT = Path("build/vocoder_data")


def main() -> None:
    sources = {}
    for name in make_ddsp_assets.INSTRUMENTS:
        wav = make_ddsp_assets.OUT / name / "train.wav"
        if not wav.is_file():
            make_ddsp_assets.main([name])
        sources[f"{name}.wav"] = wav
    mix = make_vae_assets.OUT / "gm_mix.wav"
    if not mix.is_file():
        make_vae_assets.main()
    sources["gm_mix.wav"] = mix
    OUT.mkdir(parents=True, exist_ok=True)
    for name, src in sources.items():
        dest = OUT / name
        if dest.is_symlink() or dest.exists():
            dest.unlink()
        shutil.copyfile(src, dest)
        print(f"{dest} <- {src}")


if __name__ == "__main__":
    main()
