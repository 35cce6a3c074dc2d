"""``neuropatch train-ddx7``: a DDX7 decoder (TCN driving synth.fm) from solo audio."""
from __future__ import annotations

from pathlib import Path

from neuropatch.app.cli import fail


def cmd_train_ddx7(args) -> int:
    from neuropatch.app.cli_train import train_and_save
    from neuropatch.nodes.ddx7.model import save_model
    from neuropatch.nodes.ddx7.train import train_ddx7

    if len(args.ratios) != 6 or not 1 <= args.algorithm <= 32 or args.steps < 1 or args.batch < 1:
        return fail("--ratios takes 6 numbers, --algorithm 1..32, --steps and --batch >= 1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    def train(checkpoint):
        return train_ddx7(args.audio, sample_rate=args.sample_rate, steps=args.steps, batch=args.batch,
                          segment_frames=args.segment_frames, lr=args.lr, algorithm=args.algorithm,
                          ratios=args.ratios, blocks=args.blocks, channels=args.channels, seed=args.seed,
                          name=args.name or Path(args.output).stem, checkpoint=checkpoint,
                          progress=not args.quiet, reverb=not args.no_reverb)

    return train_and_save(args, train, save_model, lambda result: f", {result.model.parameters} parameters")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("train-ddx7", help="train a DDX7 decoder (TCN driving the FM synth) from solo "
                                                 "recordings")
    p.add_argument("audio", help="a folder of monophonic solo recordings of one instrument, or one file")
    p.add_argument("-o", "--output", required=True, help=".safetensors file to write (config beside it as .json)")
    p.add_argument("--steps", type=int, default=2000, help="training steps (batches)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--segment-frames", type=int, default=150, help="frames per training segment")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--algorithm", type=int, default=2, help="DX7 algorithm of the synth (1..32)")
    p.add_argument("--ratios", type=float, nargs="+", default=[1.0, 1.0, 1.0, 1.0, 3.0, 14.0],
                   help="the six operators' frequency ratios")
    p.add_argument("--blocks", type=int, default=5, help="TCN blocks (dilations 1, 2, 4, ...)")
    p.add_argument("--channels", type=int, default=128, help="TCN channels")
    p.add_argument("--no-reverb", action="store_true",
                   help="do not learn a reverb impulse response (ddsp.reverb plays a learned one from this file)")
    p.add_argument("--sample-rate", type=int, default=48000, help="rate the model is trained at (files are resampled)")
    p.add_argument("--checkpoint", help="checkpoint folder (default OUTPUT with .ckpt); an interrupted run resumes from it")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--name", default="", help="model name stored in the file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_train_ddx7)
