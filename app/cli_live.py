"""``neuropatch devices`` and ``neuropatch run``: live audio from the command line (no Qt)."""
from __future__ import annotations

import sys
import time

from neuropatch.app.cli import fail


def cmd_devices(args) -> int:
    from neuropatch.engine.live.stream import list_devices

    try:
        devices = list_devices()
    except OSError as exc:
        return fail(f"PortAudio is not available: {exc}")
    from neuropatch.nodes.midi_io import available_ports

    midi_in, midi_out = available_ports("input"), available_ports("output")
    print("MIDI in: " + (", ".join(midi_in) or "none") + "   MIDI out: " + (", ".join(midi_out) or "none"))
    if not devices:
        print("no audio devices found")
        return 0
    for d in devices:
        mark = ("<" if d["default_input"] else " ") + (">" if d["default_output"] else " ")
        print(f"{mark} {d['index']:>3}  {d['name']}  [{d['hostapi']}]  "
              f"in {d['max_input_channels']} / out {d['max_output_channels']}  "
              f"{d['default_samplerate']:.0f} Hz")
    print("(< default input, > default output)")
    return 0


def _status_line(m: dict) -> str:
    errs = f"  bypassed: {', '.join(m['errors'])}" if m.get("errors") else ""
    dropped = m.get("event_overflows") or {}
    if dropped:
        errs = "  events dropped: " + ", ".join(f"{k} {v}" for k, v in dropped.items()) + errs
    lanes = m.get("lanes") or {}
    if lanes:   # per lane node: buffering + model delay (samples), late chunks
        errs = "  lanes: " + ", ".join(f"{nid} {v['buffer_latency']}+{v['model_delay']} late {v['late_chunks']}"
                                       for nid, v in lanes.items()) + errs
    return (f"load {m['load_avg'] * 100:5.1f}% (peak {m['load_peak'] * 100:5.1f}%)  "
            f"xruns {m['xruns']}  latency {m['latency_ms']:.1f} ms "
            f"({m['latency_samples']} samples: io {m['io_latency_ms']:.1f} ms + graph "
            f"{m['graph_latency_samples']}){errs}")


def cmd_run(args) -> int:
    from neuropatch.engine import NeuropatchError, compile_graph
    from neuropatch.engine.live import EngineClient, LiveAudioError

    from .cli import load_trusted_patch_arg

    graph, base_dir, err = load_trusted_patch_arg(args)
    if err:
        return fail(err)
    if args.midi_in is not None:   # every MIDI input of the patch listens to this port
        inputs = [spec for spec in graph.nodes.values() if spec.type == "io.midi_in"]
        if not inputs:
            return fail(f"--midi-in {args.midi_in}: the patch has no io.midi_in node")
        for spec in inputs:
            spec.params["device"] = args.midi_in
    try:  # refuse what cannot run (untrusted TorchScript...) before any audio device opens
        compile_graph(graph, base_dir=base_dir, check_only=True)
    except NeuropatchError as exc:
        return fail(f"{args.patch}: {exc}")
    sr = args.sr or int(graph.settings.get("sample_rate", 48000))
    block = args.block or int(graph.settings.get("block_size", 256))
    mode = "thread" if args.thread else "auto"
    try:
        client = EngineClient(mode=mode, sample_rate=sr, block_size=block,
                              input_device=args.input_device, output_device=args.output_device,
                              in_channels=args.in_channels, out_channels=args.out_channels,
                              limiter=not args.no_limiter)
    except LiveAudioError as exc:
        return fail(f"{exc}")
    try:
        client.load(graph, base_dir)
        client.sync()
        m = client.meters()
        if m.get("compile_error"):
            return fail(f"{args.patch}: {m['compile_error']}")
        try:
            info = client.start()
        except LiveAudioError as exc:
            return fail(f"{exc}")
        for w in m.get("warnings", []):
            print(f"warning: {w}", file=sys.stderr)
        for note in m.get("notes", []):
            print(f"note: {note}", file=sys.stderr)
        print(f"running {args.patch} on {info['devices'][0]} -> {info['devices'][1]} at {sr} Hz, "
              f"block {block}, engine in a {client.mode}; Ctrl-C stops", file=sys.stderr)
        t_end = time.monotonic() + args.seconds if args.seconds else None
        while t_end is None or time.monotonic() < t_end:
            time.sleep(1.0)
            print(_status_line(client.meters()), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    return 0


def add_parser(subparsers) -> None:
    d = subparsers.add_parser("devices", help="list audio devices")
    d.set_defaults(func=cmd_devices)

    r = subparsers.add_parser("run", help="run a patch live (headless) until Ctrl-C")
    r.add_argument("patch")
    r.add_argument("--input-device", help="input device index or name (default: the host's)")
    r.add_argument("--output-device", help="output device index or name (default: the host's)")
    r.add_argument("--in-channels", type=int, help="device input channels (default: up to 2)")
    r.add_argument("--out-channels", type=int, help="device output channels (default: up to 2)")
    r.add_argument("--midi-in", metavar="PORT",
                   help="MIDI input port for the patch's MIDI In nodes (see `neuropatch devices`)")
    r.add_argument("--block", type=int, help="block size in samples (default: the patch's)")
    r.add_argument("--sr", type=int, help="sample rate in Hz (default: the patch's)")
    r.add_argument("--thread", action="store_true",
                   help="run the engine in a thread of this process (default: its own process "
                        "for blocks below 1024)")
    r.add_argument("--no-limiter", action="store_true", help="turn the -0.3 dBFS safety limiter off")
    r.add_argument("--seconds", type=float, help="stop after this many seconds")
    from .cli import add_trust_argument
    add_trust_argument(r)
    r.set_defaults(func=cmd_run)
