"""``neuropatch train-amp`` (LSTM amp model from a DI / re-amped pair, writes a .nam),
``neuropatch train-ddsp`` (DDSP decoder from solo audio, writes a .safetensors),
``neuropatch train-vae`` (streaming VAE in the nn~ conventions, writes a .safetensors) and
``neuropatch export-vae`` (that model as a TorchScript .ts for nn~ / vae.rave) and
``neuropatch train-transformer`` (the note generator from a folder of MIDI files)."""
from __future__ import annotations

from pathlib import Path

from neuropatch.app.cli import fail


def cmd_train_amp(args) -> int:
    from neuropatch.engine.audiofile import read_audio
    from neuropatch.engine.errors import NeuropatchError
    from neuropatch.engine.resample import resample

    try:
        x, sr_x = read_audio(args.input)
        y, sr_y = read_audio(args.target)
    except NeuropatchError as exc:
        return fail(f"{exc}")
    if args.arch != "lstm":
        return fail(f"unsupported --arch {args.arch!r} (supported: lstm)")
    if sr_y != sr_x:
        y = resample(y, sr_y, sr_x)
    x, y = x.mean(axis=0), y.mean(axis=0)
    n = min(len(x), len(y))
    if n < 4 * args.seq_len:
        return fail(f"need at least {4 * args.seq_len} samples of audio, got {n}")
    from neuropatch.nodes.amp.train import train_lstm, write_nam

    result = train_lstm(x[:n], y[:n], sr_x, hidden=args.hidden, epochs=args.epochs, seq_len=args.seq_len,
                        lr=args.lr, seed=args.seed, progress=not args.quiet)
    try:
        write_nam(args.output, result)
    except (OSError, NeuropatchError) as exc:
        return fail(f"cannot write {args.output}: {exc}")
    print(f"validation ESR {result.validation_esr:.5f} -> {args.output}")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("train-amp", help="train an LSTM amp model (.nam) from DI and re-amped audio")
    p.add_argument("--input", required=True, help="DI (dry) recording")
    p.add_argument("--target", required=True, help="the same recording through the amp, time-aligned")
    p.add_argument("--arch", default="lstm", choices=["lstm"])
    p.add_argument("--hidden", type=int, default=16, help="LSTM hidden units")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seq-len", type=int, default=2048, help="training segment length in samples")
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help=".nam file to write")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_train_amp)
    _add_ddsp_parser(subparsers)
    _add_vae_parsers(subparsers)
    _add_transformer_parser(subparsers)


def print_sawtooth_quality(q: dict) -> None:
    """train-ddsp / train-ddx7's held-out numbers: the model against a band-limited sawtooth."""
    if q:
        print(f"held-out multi-scale spectral loss ({q['segments']} segments): model {q['model']:.3f}, "
              f"band-limited sawtooth {q['sawtooth']:.3f} (ratio {q['model'] / q['sawtooth']:.2f})")
    else:
        print("no held-out segments (too little audio for a quality number)")


def train_and_save(args, train, save_model, details=None, print_quality=print_sawtooth_quality) -> int:
    """A train-* run: ``train(checkpoint)`` (the folder from --checkpoint, default OUTPUT
    with .ckpt) returning a TrainResult, its model written to --output, then the final loss
    (``details(result)`` appended inside its parentheses) and the held-out quality
    (``print_quality(result.quality)``) printed."""
    from neuropatch.engine.errors import NeuropatchError

    checkpoint = Path(args.checkpoint) if args.checkpoint else Path(args.output).with_suffix(".ckpt")
    try:
        result = train(checkpoint)
    except (ValueError, FileNotFoundError, NeuropatchError) as exc:
        return fail(f"{exc}")
    try:
        save_model(args.output, result.model)
    except (OSError, NeuropatchError) as exc:
        return fail(f"cannot write {args.output}: {exc}")
    extra = details(result) if details is not None else ""
    print(f"final training loss {result.final_loss:.4f} ({result.steps} steps, {result.seconds:.0f} s{extra}) "
          f"-> {args.output}")
    print_quality(result.quality)
    print(f"checkpoint kept in {checkpoint} (delete it to train from scratch)")
    return 0


def cmd_train_ddsp(args) -> int:
    from neuropatch.nodes.ddsp.model import save_model
    from neuropatch.nodes.ddsp.train import train_ddsp

    def train(checkpoint):
        return train_ddsp(args.audio, sample_rate=args.sample_rate, steps=args.steps, batch=args.batch, lr=args.lr,
                          arch=args.arch, reverb=not args.no_reverb, n_harmonics=args.harmonics,
                          n_bands=args.noise_bands, mlp_units=args.units, gru_units=args.gru,
                          hidden=(args.units, args.units), seed=args.seed, name=args.name or Path(args.output).stem,
                          checkpoint=checkpoint, progress=not args.quiet, timbre_z=args.timbre)

    def details(result):
        lead = result.model.config.get("onset_lead")
        if lead is None:
            return "; too few notes start from silence to measure the onset lead: latency reported unmeasured"
        return f"; onsets {lead} samples ahead of the features' frame time, reported as latency"

    if args.calibrate_only:
        return calibrate_only(args)
    return train_and_save(args, train, save_model, details)


def calibrate_only(args) -> int:
    from neuropatch.engine.errors import NeuropatchError
    from neuropatch.nodes.ddsp.train import calibrate_file

    try:
        lead = calibrate_file(args.output, args.audio, progress=not args.quiet)
    except (ValueError, FileNotFoundError, OSError, NeuropatchError) as exc:
        return fail(f"{exc}")
    if lead is None:
        from neuropatch.nodes.ddsp.calibrate import MIN_NOTES

        return fail(f"fewer than {MIN_NOTES} notes start from silence in {args.audio}: nothing measured")
    print(f"{args.output}: onsets come {lead} samples ahead of the features' frame time (stored in the model)")
    return 0


def _add_ddsp_parser(subparsers) -> None:
    p = subparsers.add_parser("train-ddsp", help="train a DDSP decoder (and reverb) from solo recordings")
    p.add_argument("audio", help="a folder of monophonic solo recordings of one instrument (searched "
                                 "recursively), or one file")
    p.add_argument("-o", "--output", required=True, help=".safetensors file to write (config beside it as .json)")
    p.add_argument("--steps", type=int, default=3000, help="training steps (batches)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--arch", choices=("rnn", "mlp"), default="rnn",
                   help="rnn: DDSP's RnnFcDecoder (GRU); mlp: a per-frame MLP (smaller, no memory)")
    p.add_argument("--no-reverb", action="store_true", help="do not learn a reverb impulse response")
    p.add_argument("--timbre", type=int, default=0, metavar="Z",
                   help="also learn a timbre encoder with a Z-dim latent (8-16; train on several instruments)")
    p.add_argument("--units", type=int, default=96, help="units of the MLP layers")
    p.add_argument("--gru", type=int, default=128, help="GRU units (rnn)")
    p.add_argument("--harmonics", type=int, default=60)
    p.add_argument("--noise-bands", type=int, default=65)
    p.add_argument("--sample-rate", type=int, default=48000, help="rate the model is trained at (files are resampled)")
    p.add_argument("--checkpoint", help="checkpoint folder (default OUTPUT with .ckpt); an interrupted run resumes from it")
    p.add_argument("--name", default="", help="model name stored in the file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--calibrate-only", action="store_true",
                   help="do not train: measure the onset lead of the existing OUTPUT model on the notes that start "
                        "from silence in these recordings and store it in the model")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_train_ddsp)


def cmd_train_vae(args) -> int:
    from neuropatch.engine.audiofile import read_audio
    from neuropatch.engine.errors import NeuropatchError

    if args.steps < 1 or args.batch < 1 or args.batch > 64 or args.segment_frames < 1 or args.threads < 0:
        return fail("--steps and --segment-frames must be >= 1, --batch in [1, 64], --threads >= 0")
    try:
        audio, sr = read_audio(args.audio)
    except NeuropatchError as exc:
        return fail(f"{exc}")
    import torch
    from tqdm import tqdm

    from neuropatch.nodes.vae.convention_model import default_config, save_model
    from neuropatch.nodes.vae.train import describe, train_vae

    if args.threads:
        torch.set_num_threads(args.threads)
    config = default_config(latent_dims=args.latent_dims)
    bar = tqdm(total=args.steps, desc="train-vae", unit="step", disable=args.quiet)

    def progress(step, steps, loss):
        bar.update(1)
        if step % 10 == 0 or step == steps:
            bar.set_postfix(loss=f"{loss:.3f}")

    try:
        model, config, metrics = train_vae(audio.mean(axis=0), sr, steps=args.steps, batch=args.batch,
                                           segment_frames=args.segment_frames, lr=args.lr,
                                           kl_weight=args.kl_weight, seed=args.seed, config=config,
                                           progress=progress)
    except ValueError as exc:
        return fail(f"{exc}")
    finally:
        bar.close()
    if args.name:
        config["name"] = args.name
    try:
        weights, config_path = save_model(model, config, args.output)
    except (OSError, NeuropatchError) as exc:
        return fail(f"cannot write {args.output}: {exc}")
    print(f"{describe(metrics)}; {metrics['steps']} steps in {metrics['train_seconds']:.0f} s -> {weights} "
          f"(+ {config_path.name})")
    return 0


def cmd_export_vae(args) -> int:
    from neuropatch.engine.errors import NeuropatchError
    from neuropatch.nodes.vae.convention_model import export_torchscript

    try:
        out = export_torchscript(args.model, args.output)
    except NeuropatchError as exc:
        return fail(f"{exc}")
    except OSError as exc:
        return fail(f"cannot write {args.output}: {exc}")
    print(f"{args.model} -> {out} (TorchScript for nn~ / vae.rave)")
    return 0


def _add_vae_parsers(subparsers) -> None:
    p = subparsers.add_parser("train-vae", help="train a small streaming VAE (nn~ / RAVE conventions) on audio")
    p.add_argument("--audio", required=True, help="training recording (mixed to mono; the model runs at its rate)")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--segment-frames", type=int, default=16, help="latent frames per training crop")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--kl-weight", type=float, default=0.01)
    p.add_argument("--latent-dims", type=int, default=8)
    p.add_argument("--name", default="", help="model name stored in the .json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("-o", "--output", required=True, help=".safetensors file to write (config beside it as .json)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_train_vae)

    e = subparsers.add_parser("export-vae", help="write a train-vae model as TorchScript (.ts) for nn~ (Max/Pd)")
    e.add_argument("model", help=".safetensors written by train-vae (its .json beside it)")
    e.add_argument("-o", "--output", required=True, help=".ts file to write")
    e.set_defaults(func=cmd_export_vae)


def cmd_train_transformer(args) -> int:
    from pathlib import Path

    from neuropatch.engine.errors import NeuropatchError

    if args.steps < 1 or args.batch < 1 or args.seq_len < 8 or args.threads < 0 or args.checkpoint_every < 1 \
            or not 0 <= args.until <= args.steps:
        return fail("--steps, --batch, --checkpoint-every must be >= 1, --seq-len >= 8, --threads >= 0, "
                    "--until in [0, --steps]")
    if not Path(args.midi_dir).is_dir():
        return fail(f"{args.midi_dir}: not a folder")
    import torch
    from tqdm import tqdm

    from neuropatch.nodes.gen.train import train_transformer

    if args.threads:
        torch.set_num_threads(args.threads)
    init = None
    if not args.from_scratch:
        from neuropatch.assets import path as asset_path

        init = args.init or asset_path("transformer", "chorales.safetensors")
    bar = tqdm(total=args.steps, desc="train-transformer", unit="step", disable=args.quiet)
    first = [True]

    def progress(step, steps, loss):
        if first[0]:
            bar.n = step - 1
            first[0] = False
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")

    try:
        metrics = train_transformer(args.midi_dir, args.output, held_out_dir=args.held_out, steps=args.steps,
                                    batch=args.batch, seq_len=args.seq_len, lr=args.lr, seed=args.seed, init=init,
                                    resume=args.resume, checkpoint_every=args.checkpoint_every,
                                    until=args.until, name=args.name, progress=progress)
    except (ValueError, NeuropatchError) as exc:
        return fail(f"{exc}")
    except OSError as exc:
        return fail(f"cannot write {args.output}: {exc}")
    finally:
        bar.close()
    held = (f"; held-out NLL {metrics['held_out_nll_per_token']:.4f} nats/token"
            if "held_out_nll_per_token" in metrics else "")
    print(f"loss {metrics['final_loss']:.4f}{held}; {metrics['steps']} steps in {metrics['train_seconds']:.0f} s "
          f"-> {metrics['weights']} (+ {Path(metrics['config']).name})")
    if not metrics["finished"]:
        print(f"stopped at step {metrics['steps']} of {args.steps}: continue with the same command, --resume "
              "and without --until")
    return 0


def _add_transformer_parser(subparsers) -> None:
    p = subparsers.add_parser("train-transformer",
                              help="train or fine-tune the note generator (Music Transformer) on MIDI files")
    p.add_argument("midi_dir", help="folder of .mid files (searched recursively; all tracks merged)")
    p.add_argument("-o", "--output", required=True, help=".safetensors file to write (config beside it as .json)")
    p.add_argument("--held-out", default=None, help="folder of .mid files to report the NLL per token on")
    p.add_argument("--from-scratch", action="store_true", help="start from random weights (default: fine-tune "
                   "the shipped chorale model, or --init)")
    p.add_argument("--init", default=None, help="model (.safetensors + .json) to fine-tune")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=256, help="tokens per training crop (at most the model context)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT's checkpoint (.ckpt.safetensors)")
    p.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    p.add_argument("--until", type=int, default=0, help="stop at step N of the --steps schedule and write the "
                   "model as it is then (continue later with --resume)")
    p.add_argument("--name", default="", help="model name stored in the .json")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_train_transformer)
