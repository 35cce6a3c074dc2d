"""``neuropatch train-vocoder``: a GAN mel vocoder (vocoder.gan) from a folder of recordings."""
from __future__ import annotations

from pathlib import Path

from neuropatch.app.cli import fail


def cmd_train_vocoder(args) -> int:
    from neuropatch.nodes.vocoder.model import save_model
    from neuropatch.nodes.vocoder.train import train_vocoder

    if args.steps < 1 or args.batch < 1 or not 0 <= args.warmup_steps <= args.steps:
        return fail("--steps and --batch must be >= 1 and --warmup-steps within 0..steps")
    oversample = {}
    for item in args.oversample:
        name, _, k = item.rpartition("=")
        if not name or not k.isdigit() or int(k) < 1:
            return fail(f"--oversample {item!r}: expected FILE_NAME=K with K a whole number >= 1")
        oversample[name] = int(k)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from neuropatch.app.cli_train import train_and_save

    def train(checkpoint):
        return train_vocoder(args.audio, sample_rate=args.sample_rate, steps=args.steps,
                             warmup_steps=args.warmup_steps, batch=args.batch, segment_frames=args.segment_frames,
                             lr=args.lr, channels=args.channels, n_mels=args.n_mels, seed=args.seed,
                             name=args.name or Path(args.output).stem, checkpoint=checkpoint,
                             checkpoint_every=args.checkpoint_every, progress=not args.quiet,
                             init=args.init, stft_weight=args.stft_weight,
                             spectral_weight=args.spectral_weight, oversample=oversample)

    return train_and_save(args, train, save_model, lambda result: f", {result.model.parameters} parameters",
                          print_quality)


def print_quality(q: dict) -> None:
    if q.get("blocks"):
        print(f"held-out ({q['blocks']} blocks of 4 s): multi-scale spectral loss {q['spectral_loss']:.3f}, "
              f"log-mel L1 {q['mel_l1']:.3f}")
    else:
        print("no held-out blocks (too little audio for a quality number)")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("train-vocoder", help="train a GAN mel vocoder (vocoder.gan) from recordings")
    p.add_argument("audio", help="a folder of recordings (searched recursively), or one file")
    p.add_argument("-o", "--output", required=True, help=".safetensors file to write (config beside it as .json)")
    p.add_argument("--steps", type=int, default=4000, help="training steps in all (batches)")
    p.add_argument("--warmup-steps", type=int, default=2000,
                   help="first steps on the reconstruction losses only, before the discriminators join")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--segment-frames", type=int, default=32, help="scored mel frames per training item")
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--channels", type=int, default=128, help="generator channels before the first upsampling")
    p.add_argument("--n-mels", type=int, default=80)
    p.add_argument("--init", help="a vocoder .safetensors to start from (fine-tuning: its settings and weights)")
    p.add_argument("--stft-weight", type=float, default=1.0,
                   help="weight of the multi-resolution STFT loss (the log-mel L1's is 45)")
    p.add_argument("--spectral-weight", type=float, default=0.0,
                   help="weight of DDSP's multi-scale spectral loss as a further reconstruction term (0: off)")
    p.add_argument("--oversample", action="append", default=[], metavar="FILE_NAME=K",
                   help="draw that recording's training blocks K times as often (repeatable)")
    p.add_argument("--sample-rate", type=int, default=48000, help="rate the model runs at (files are resampled)")
    p.add_argument("--checkpoint", help="checkpoint folder (default OUTPUT with .ckpt); an interrupted run resumes from it")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--name", default="", help="model name stored in the file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_train_vocoder)
