"""``neuropatch train-amp`` (LSTM amp model from a DI / re-amped pair, writes a .nam) and
``neuropatch train-ddsp`` (DDSP decoder from solo audio, writes a .safetensors)."""
from __future__ import annotations


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


def cmd_train_ddsp(args) -> int:
    from neuropatch.engine.audiofile import read_audio
    from neuropatch.engine.errors import NeuropatchError

    try:
        audio, sr = read_audio(args.audio)
    except NeuropatchError as exc:
        return fail(f"{exc}")
    from neuropatch.nodes.ddsp.model import save_model
    from neuropatch.nodes.ddsp.train import train_ddsp

    try:
        result = train_ddsp(audio.mean(axis=0), sr, epochs=args.epochs, lr=args.lr, seed=args.seed,
                            n_harmonics=args.harmonics, n_bands=args.noise_bands, hidden=(args.hidden, args.hidden),
                            name=args.name or "", progress=not args.quiet)
    except ValueError as exc:
        return fail(f"{exc}")
    try:
        save_model(args.output, result.model)
    except (OSError, NeuropatchError) as exc:
        return fail(f"cannot write {args.output}: {exc}")
    print(f"final loss {result.final_loss:.4f} ({result.steps} steps, {result.seconds:.0f} s) -> {args.output}")
    return 0


def _add_ddsp_parser(subparsers) -> None:
    p = subparsers.add_parser("train-ddsp", help="train a DDSP harmonic-plus-noise decoder from solo audio")
    p.add_argument("--audio", required=True, help="monophonic solo recording (one instrument)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--hidden", type=int, default=96, help="units in each of the two hidden layers")
    p.add_argument("--harmonics", type=int, default=48)
    p.add_argument("--noise-bands", type=int, default=24)
    p.add_argument("--name", default="", help="model name stored in the file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help=".safetensors file to write (config beside it as .json)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_train_ddsp)
