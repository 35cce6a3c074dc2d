"""Make the training audio of the shipped GAN mel vocoder (run from the repository root):

    python assets/make_vocoder_assets.py       # -> build/vocoder_data/*.wav

then the two train-vocoder runs in assets/README.md ("GAN mel vocoder").

The audio is what the other shipped models were trained on, rendered by their scripts
with fluidsynth and the FluidR3 GM soundfont (Debian packages fluidsynth
fluid-soundfont-gm): the DDSP instruments' renders (violin, flute, trumpet: Bach chorale
soprano lines, seeded scale melodies, long swelled notes; ``make_ddsp_assets.py``) and
the VAE's mix of eight General MIDI programs (piano, nylon guitar, vibraphone, violin,
cello, trumpet, clarinet, flute; ``make_vae_assets.py``): 652 s at 48 kHz; and speech
from espeak-ng (Debian package espeak-ng): the Harvard sentences below in English, German,
French, Spanish and Italian voices with seven voice variants at varied pitch and speed,
196 s (``speech.wav``). espeak-ng renders at 22.05 kHz, so the speech has nothing
above 11 kHz. Files that already exist are not rendered again.

``python assets/make_vocoder_assets.py --held-out-speech OUT.flac`` writes the speech clip
the quality check uses instead: sentences and a voice variant the training set does not
have.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_ddsp_assets  # noqa: E402
import make_vae_assets  # noqa: E402

OUT = Path("build/vocoder_data")
SR = 48000

# Harvard sentences (IEEE 1969), lists 1-6: training; list 7: the held-out clip.
SENTENCES = (
    "The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.", "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.", "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.", "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.", "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.", "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.", "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.", "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.", "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.", "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.", "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.", "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.", "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.", "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.", "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.", "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.", "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.", "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.", "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.", "What joy there is in living.",
    "A king ruled the state in the early days.", "The ship was torn apart on the sharp reef.",
    "Sickness kept him home the third week.", "The wide road shimmered in the hot sun.",
    "The lazy cow lay in the cool grass.", "Lift the square stone over the fence.",
    "The rope will bind the seven books at once.", "Hop over the fence and plunge in.",
    "The friendly gang left the drug store.", "Mesh wire keeps chicks inside.",
    "The frosty air passed through the coat.", "The crooked maze failed to fool the mouse.",
    "Adding fast leads to wrong sums.", "The show was a flop from the very start.",
    "A saw is a tool used for making boards.", "The wagon moved on well oiled wheels.",
    "March the soldiers past the next hill.", "A cup of sugar makes sweet fudge.",
    "Place a rosebush near the porch steps.", "Both lost their lives in the raging storm.",
)
HELD_OUT_SENTENCES = (
    "We talked of the side show in the circus.", "Use a pencil to write the first draft.",
    "He ran half way to the hardware store.", "The clock struck to mark the third period.",
    "A small creek cut across the field.", "Cars and busses stalled in snow drifts.",
)
LANGUAGES = ("en-us", "en", "de", "fr", "es", "it")
VARIANTS = ("m1", "m3", "m5", "f1", "f2", "f4", "klatt")
HELD_OUT_VOICE = ("en-us", "f3")


def espeak(text: str, voice: str, pitch: int, speed: int) -> np.ndarray:
    """float32 [samples] at 48 kHz of espeak-ng speaking ``text``."""
    import soundfile as sf
    from scipy.signal import resample_poly

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(wav), text],
                       check=True, capture_output=True)
        x, sr = sf.read(wav, dtype="float32")
    return resample_poly(x, 160, 147).astype(np.float32) if sr == 22050 else x


def speech(sentences, voices, gap: float = 0.3) -> np.ndarray:
    """The sentences spoken in turn by ``voices`` (cycled) at varied pitch and speed, with
    ``gap`` seconds of silence between them; float32 [samples] at 48 kHz, peak 0.5."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    parts = []
    for i, text in enumerate(sentences):
        voice = voices[i % len(voices)]
        parts += [espeak(text, voice, 25 + (i * 17) % 50, 130 + (i * 23) % 60), np.zeros(int(gap * SR), np.float32)]
    x = np.concatenate(parts)
    return (0.5 * x / max(float(np.abs(x).max()), 1e-9)).astype(np.float32)


def training_voices() -> list:
    return [f"{lang}+{var}" for var in VARIANTS for lang in LANGUAGES]


def render_speech(dest: Path) -> None:
    import soundfile as sf

    voices = training_voices()
    sentences = [s for _ in range(2) for s in SENTENCES]   # every sentence twice, by other voices
    sf.write(dest, speech(sentences, voices), SR, subtype="PCM_16")


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--held-out-speech"]:
        import soundfile as sf

        sf.write(argv[1], speech(HELD_OUT_SENTENCES, [f"{HELD_OUT_VOICE[0]}+{HELD_OUT_VOICE[1]}"]), SR)
        print(f"{argv[1]}: held-out speech")
        return
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
    dest = OUT / "speech.wav"
    if not dest.is_file():
        render_speech(dest)
    print(f"{dest} <- espeak-ng")


if __name__ == "__main__":
    main()
