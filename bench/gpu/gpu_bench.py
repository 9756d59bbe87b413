#!/usr/bin/env python3
"""The parts of bench/gpu/run.sh: each runs in its own process, bounded in time, and writes one JSON.

  gpu_bench.py loader   --url URL ...             facestream stream -> GPU, no model (the loader's ceiling)
  gpu_bench.py train    --url URL ...             ResNet-18 trained from the facestream stream
  gpu_bench.py loader   --images DIR ...          the same two for PyTorch's DataLoader on the same JPEGs
  gpu_bench.py train    --images DIR ...            (PIL decode + torchvision face profile, uint8 out)
  gpu_bench.py synthetic ...                      ResNet-18 on tensors already on the GPU (the model's ceiling)
  gpu_bench.py report PART.json ...               one JSON document and a markdown table from the parts,
                                                  with a summary of the parts run.sh names (SUMMARY_PARTS)

Every source yields uint8 NHWC batches with int64 labels; they cross to the device as uint8 and are
normalised there (facestream.to_device), the same way for facestream and for PyTorch's DataLoader.

Timing: a warm-up (worker start-up, cuDNN autotuning, the first connections) is excluded; the window
starts after torch.cuda.synchronize() and ends with another. The fraction of time the GPU waited for
data comes from CUDA events: one recorded at the end of each step and one at the start of the next,
right after next(iterator) returned; the gap between them on the GPU's clock is time the GPU sat idle
because the batch was not there (zero when the CPU had queued the next step before the GPU finished).
The time the training loop spent blocked in next(iterator) is reported too; on CPU it is the only one.

CPU cost: over the same window, the CPU time (user + system, from /proc/PID/stat) of this process
with its DataLoader workers (the client) and, given --server-pid, of the facestream server, divided
by the images delivered: cpu_us_per_image {"client", "server", "total"}.
"""

import argparse
import json
import os
import sys
import time
from contextlib import closing

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))

import torch  # noqa: E402


def import_facestream():
    try:
        import facestream
    except ImportError:  # run from a checkout or the GPU bundle without `pip install ./python`
        sys.path.insert(0, os.path.join(REPO, "python"))
        import facestream
    return facestream


def import_torch_augment():
    sys.path.insert(0, os.path.join(REPO, "bench", "peer"))
    import torch_augment

    return torch_augment


# ---- sources: each returns (iterable of (uint8 [B,H,W,C], int64 [B]), a description)


def facestream_source(args, device):
    """The server's stream read by a DataLoader whose workers each read their own sub-stream."""
    facestream = import_facestream()
    kwargs = dict(seed=args.seed, token=args.token or None)
    if args.profile:
        kwargs["profile"] = args.profile
    # An endless stream (epochs=0) keeps the workers and their connections up for the whole window.
    kwargs["epochs"] = 0
    if args.workers == 0:
        # A thread of this process reads --prefetch batches ahead, from the socket straight into
        # page-locked memory on CUDA: no worker processes, no shared memory, no pinning copy.
        ds = facestream.StreamDataset(args.url, args.batch, pin_memory=device.type == "cuda", **kwargs)
        loader = facestream.StreamLoader(ds, read_ahead=args.prefetch)
        return repeat_epochs(loader, ds), f"facestream StreamLoader, read ahead {args.prefetch} in a thread"
    ds = facestream.StreamDataset(args.url, args.batch, **kwargs)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, **loader_options(args, device))
    return repeat_epochs(loader, ds), f"facestream StreamDataset, {args.workers} DataLoader workers"


def torch_source(args, device):
    """PyTorch's DataLoader on the same JPEGs: PIL decode + the torchvision face profile, uint8 out."""
    import torchvision

    torch_augment = import_torch_augment()
    # ImageFolder's loader is PIL open + convert("RGB"), as bench/peer/torch_augment.py's own folder reader.
    ds = torchvision.datasets.ImageFolder(args.images, transform=torch_augment.face_transform(args.size))
    # Repeated so one epoch outlasts the window: an epoch's end drains the workers' prefetch, a stall
    # facestream's endless stream does not have (torch_augment.py repeats its folder for the same reason).
    ds = torch.utils.data.ConcatDataset([ds] * 64)
    loader = torch.utils.data.DataLoader(
        ds, batch_size=args.batch, shuffle=True, drop_last=True, **loader_options(args, device)
    )
    # The transform ends in PILToTensor (uint8 CHW); an NHWC view lets both sources share to_device,
    # which copies the bytes as they lie and lays them out channels_last on the device.
    nhwc = ((images.permute(0, 2, 3, 1), labels) for images, labels in repeat_epochs(loader, None))
    return nhwc, f"PyTorch DataLoader (PIL + torchvision face profile), {args.workers} workers"


def loader_options(args, device):
    """DataLoader options both sources share (prefetch_factor only with workers: torch 1.13 refuses it otherwise)."""
    opts = dict(num_workers=args.workers, pin_memory=device.type == "cuda")
    if args.workers > 0:
        opts.update(prefetch_factor=args.prefetch, persistent_workers=True)
    return opts


def repeat_epochs(loader, ds):
    """Yields batches epoch after epoch (an endless facestream stream is one long 'epoch')."""
    epoch = 0
    while True:
        if ds is not None and hasattr(ds, "set_epoch"):
            ds.set_epoch(epoch)
        n = 0
        for batch in loader:
            n += 1
            yield batch
        if n == 0:
            raise RuntimeError("the source yielded no batch in a whole epoch (dataset smaller than a batch?)")
        epoch += 1


def source(args, device):
    if bool(args.url) == bool(args.images):
        raise SystemExit("give --url (facestream) or --images (PyTorch DataLoader), one of them")
    return facestream_source(args, device) if args.url else torch_source(args, device)


# ---- CPU time


def parse_stat(text):
    """(parent pid, CPU seconds) from the text of /proc/PID/stat: user + system time (fields 14
    and 15, in clock ticks). The command name (field 2) is in parentheses and may itself hold spaces
    and parentheses, so the fields are counted from the last ')'."""
    end = text.rindex(")")
    rest = text[end + 1:].split()  # rest[0] is field 3, the state
    if len(rest) < 13:
        raise ValueError(f"/proc stat line has {len(rest) + 2} fields, want at least 15")
    ticks = int(rest[11]) + int(rest[12])
    return int(rest[1]), ticks / os.sysconf("SC_CLK_TCK")


def read_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        return parse_stat(f.read())


def client_cpu_seconds():
    """CPU seconds of this process (all its threads: the pin-memory thread too) and its children
    (the DataLoader workers; persistent, so none ends inside the window and takes its time away)."""
    me = os.getpid()
    total = read_stat(me)[1]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parent, seconds = read_stat(entry)
        except (OSError, ValueError):  # it ended while we looked
            continue
        if parent == me:
            total += seconds
    return total


class CPUMeter:
    """CPU time of the client (and the server, given its pid) between start() and stop()."""

    def __init__(self, server_pid=None):
        self.server_pid = server_pid
        self.begin = self.end = None

    def read(self):
        server = read_stat(self.server_pid)[1] if self.server_pid else None
        return client_cpu_seconds(), server

    def start(self):
        self.begin = self.read()

    def stop(self):
        self.end = self.read()

    def per_image(self, images):
        """{"client", "server", "total"} µs of CPU per image delivered; None without a window."""
        if self.begin is None or self.end is None or images <= 0:
            return None
        return cpu_per_image(self.begin, self.end, images)


def cpu_per_image(begin, end, images):
    """The arithmetic of CPUMeter.per_image: (client, server-or-None) seconds at both edges."""
    out = {"client": (end[0] - begin[0]) / images * 1e6}
    if begin[1] is not None and end[1] is not None:
        out["server"] = (end[1] - begin[1]) / images * 1e6
    out["total"] = out["client"] + out.get("server", 0.0)
    return out


# ---- timing


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Window:
    """Counts what happens between the end of the warm-up and the end of the measured time."""

    def __init__(self, warmup, seconds, server_pid=None):
        self.warmup, self.seconds = warmup, seconds
        self.start = time.perf_counter()
        self.t0 = None
        self.cpu = CPUMeter(server_pid)

    def measuring(self):
        return self.t0 is not None

    def tick(self, device):
        """Returns False when the run is over; starts the window once the warm-up has passed."""
        now = time.perf_counter()
        if self.t0 is None and now - self.start >= self.warmup:
            sync(device)
            self.cpu.start()
            self.t0 = time.perf_counter()
        return self.t0 is None or now - self.t0 < self.seconds

    def close(self, device):
        sync(device)
        if self.t0 is None:
            return 0.0
        secs = time.perf_counter() - self.t0
        self.cpu.stop()
        return secs


_NORM = {}


def to_device(images, labels, device):
    """facestream.to_device with mean and std already on the device: given Python numbers, it would
    copy them to the GPU on every call, and a blocking copy synchronises the stream each step."""
    facestream = import_facestream()
    if device not in _NORM:
        _NORM[device] = torch.tensor(127.5, device=device)
    norm = _NORM[device]
    x = facestream.to_device(images, device, mean=norm, std=norm, dtype=torch.float32)
    return x, labels.to(device, non_blocking=labels.is_pinned())


def run_loader(args, device):
    """Batches onto the device and normalised there, no model: the most a trainer could get."""
    batches, what = source(args, device)
    w = Window(args.warmup, args.seconds, args.server_pid)
    images = steps = 0
    shape = None
    with closing(batches):
        while w.tick(device):
            images_u8, labels = next(batches)
            if args.uint8:
                x = images_u8.to(device, non_blocking=images_u8.is_pinned())
            else:
                x, _ = to_device(images_u8, labels, device)
            if w.measuring():
                images += x.shape[0]
                steps += 1
            shape = list(x.shape)
        secs = w.close(device)
    return {"source": what, "seconds": secs, "batches": steps, "images": images,
            "images_per_s": images / secs if secs else 0.0, "shape_nchw": shape,
            "cpu_us_per_image": w.cpu.per_image(images)}


def resnet18(num_classes, device):
    import torchvision

    model = torchvision.models.resnet18(num_classes=num_classes)
    return model.to(device, memory_format=torch.channels_last)


def train_step(model, opt, x, y, device):
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def run_train(args, device, batches=None, what=None):
    """ResNet-18 at the stream's size in bf16, channels_last, SGD; counts images and data waits."""
    if batches is None:
        batches, what = source(args, device)
    torch.backends.cudnn.benchmark = True
    model = resnet18(args.classes, device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    cuda = device.type == "cuda"
    w = Window(args.warmup, args.seconds, args.server_pid)
    images = steps = 0
    blocked = 0.0
    gaps = []  # (end of previous step, start of this one) CUDA events inside the window
    prev_end = None
    loss = None
    with closing(batches):
        while w.tick(device):
            t = time.perf_counter()
            images_u8, labels = next(batches)
            waited = time.perf_counter() - t
            start_ev = None
            if cuda and w.measuring():
                start_ev = torch.cuda.Event(enable_timing=True)
                start_ev.record()
            x, y = to_device(images_u8, labels, device)
            loss = train_step(model, opt, x, y, device)
            if w.measuring():
                images += x.shape[0]
                steps += 1
                blocked += waited
                if cuda:
                    if prev_end is not None:
                        gaps.append((prev_end, start_ev))
                    prev_end = torch.cuda.Event(enable_timing=True)
                    prev_end.record()
        secs = w.close(device)
    gpu_idle = sum(a.elapsed_time(b) for a, b in gaps) / 1e3 if cuda else None
    out = {"source": what, "model": "resnet18", "classes": args.classes, "batch": args.batch,
           "seconds": secs, "steps": steps, "images": images,
           "images_per_s": images / secs if secs else 0.0,
           "blocked_in_next_s": blocked, "blocked_fraction": blocked / secs if secs else 0.0,
           "cpu_us_per_image": w.cpu.per_image(images),
           "final_loss": loss.item() if loss is not None else None}
    if gpu_idle is not None:
        out["gpu_waited_s"] = gpu_idle
        out["gpu_waited_fraction"] = gpu_idle / secs if secs else 0.0
    return out


def synthetic_batches(args, device):
    g = torch.Generator(device="cpu").manual_seed(0)
    images = torch.randint(0, 256, (args.batch, args.size, args.size, 3), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, args.classes, (args.batch,), generator=g)
    # Already on the device: to_device then only converts and normalises, as it does for real batches.
    images, labels = images.to(device), labels.to(device)
    while True:
        yield images, labels


def run_synthetic(args, device):
    return run_train(args, device, synthetic_batches(args, device), "tensors already on the device")


# ---- report


def fmt(x, spec=",.0f"):
    return "n/a" if x is None else format(x, spec)


def report(paths):
    parts = {}
    for p in paths:
        try:
            with open(p) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            doc = {"part": os.path.basename(p), "error": f"unreadable: {e}"}
        parts[doc.get("part", os.path.basename(p))] = doc
    rows = []
    for name, doc in parts.items():
        r = doc.get("result") or {}
        best = r.get("best") or r
        waited = best.get("gpu_waited_fraction", best.get("blocked_fraction"))
        rows.append((name, doc.get("title", ""), best.get("images_per_s"), waited, doc.get("error")))
    # On CUDA the wait is GPU idle time from events; on CPU (--cpu-smoke) it is time blocked in next().
    lines = ["| part | what | img/s | GPU waited for data | CPU µs/img (server + client) |",
             "|---|---|---:|---:|---:|"]
    for name, title, ips, waited, err in rows:
        if err:
            lines.append(f"| {name} | {title} | failed: {err.strip().splitlines()[-1][:100]} | | |")
            continue
        cpu = cpu_cell(best_of(parts[name]).get("cpu_us_per_image"))
        lines.append(f"| {name} | {title} | {fmt(ips)} | {'' if waited is None else format(waited, '.1%')} | {cpu} |")
    summary = summarize(parts)
    lines += ["", *summary_lines(summary)]
    doc = {"schema": "facestream.gpu-bench/v1", "machine": machine(), "parts": parts, "summary": summary}
    return doc, "\n".join(lines)


# The parts run.sh runs, by role in the summary.
SUMMARY_PARTS = {
    "ceiling": "d-synthetic",  # ResNet-18 on tensors already on the device
    "delivered": "a-loader",  # facestream stream -> device, no model
    "stream": "b-train",  # ResNet-18 fed by the stream, server placed off the trainer's cores
    "stream_unplaced": "b-train-unplaced",  # the same with the server on every core
    "dataloader": "c-torch-train",  # ResNet-18 fed by PyTorch's DataLoader
}
TARGETS = {"delivered_img_s": 50000, "stream_of_ceiling": 0.9}


def best_of(doc):
    r = (doc or {}).get("result") or {}
    return r.get("best") or r


def summarize(parts):
    """The figures one run reports: the ceiling, the rates trained from the stream and from
    PyTorch's DataLoader, the GPU's waiting share, and their ratios; None where a part is missing."""
    rate = {role: best_of(parts.get(name)).get("images_per_s") for role, name in SUMMARY_PARTS.items()}

    def ratio(a, b):
        return rate[a] / rate[b] if rate[a] and rate[b] else None

    stream = best_of(parts.get(SUMMARY_PARTS["stream"]))
    cuda = "gpu_waited_fraction" in stream
    return {
        **{f"{role}_img_s": v for role, v in rate.items()},
        "stream_of_ceiling": ratio("stream", "ceiling"),
        "stream_unplaced_of_ceiling": ratio("stream_unplaced", "ceiling"),
        "dataloader_of_ceiling": ratio("dataloader", "ceiling"),
        "stream_over_dataloader": ratio("stream", "dataloader"),
        "stream_waited_fraction": stream.get("gpu_waited_fraction", stream.get("blocked_fraction")),
        "dataloader_waited_fraction": (lambda d: d.get("gpu_waited_fraction", d.get("blocked_fraction")))(
            best_of(parts.get(SUMMARY_PARTS["dataloader"]))),
        "waited_measure": "GPU idle between steps (CUDA events)" if cuda
        else "time blocked in next() (no CUDA: the trainer's view)",
        "delivered_cpu_us_per_image": best_of(parts.get(SUMMARY_PARTS["delivered"])).get("cpu_us_per_image"),
        "targets": TARGETS,
    }


def summary_lines(s):
    def pct(x):
        return "n/a" if x is None else format(x, ".1%")

    def times(x):
        return "n/a" if x is None else format(x, ".2f")

    return [
        f"- ceiling (ResNet-18 on device tensors): {fmt(s['ceiling_img_s'])} img/s",
        f"- trained from facestream's stream: {fmt(s['stream_img_s'])} img/s = {pct(s['stream_of_ceiling'])} of the "
        f"ceiling (target ≥ {TARGETS['stream_of_ceiling']:.0%}); server on every core: {fmt(s['stream_unplaced_img_s'])} "
        f"img/s = {pct(s['stream_unplaced_of_ceiling'])}",
        f"- trained from PyTorch's DataLoader: {fmt(s['dataloader_img_s'])} img/s = {pct(s['dataloader_of_ceiling'])} "
        f"of the ceiling; stream ÷ DataLoader = {times(s['stream_over_dataloader'])}×",
        f"- waiting share ({s['waited_measure']}): stream {pct(s['stream_waited_fraction'])}, "
        f"DataLoader {pct(s['dataloader_waited_fraction'])}",
        f"- delivered to the device by the stream: {fmt(s['delivered_img_s'])} img/s (target ≥ "
        f"{TARGETS['delivered_img_s']:,}); CPU per image {cpu_cell(s['delivered_cpu_us_per_image'])} µs",
    ]


def cpu_cell(cpu):
    """'total (server + client)' µs per image, from a part's cpu_us_per_image."""
    if not cpu:
        return "n/a"
    if "server" in cpu:
        return f"{cpu['total']:,.0f} ({cpu['server']:,.0f} + {cpu['client']:,.0f})"
    return f"{cpu['total']:,.0f} (client)"


def machine():
    m = {"torch": torch.__version__, "cpus": os.cpu_count(), "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        m["gpu"] = torch.cuda.get_device_name(0)
    return m


# ---- command line


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("part", choices=["loader", "train", "synthetic", "report"])
    p.add_argument("files", nargs="*", help="report: the parts' JSON files")
    p.add_argument("--url", help="facestream server to stream from")
    p.add_argument("--token", default=os.environ.get("FACESTREAM_TOKEN", ""))
    p.add_argument("--server-pid", type=int, help="the server's pid on this machine: its CPU time is counted too")
    p.add_argument("--images", help="ImageFolder of the same JPEGs, for PyTorch's DataLoader")
    p.add_argument("--profile", default="face")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--classes", type=int, default=1000, help="ResNet-18 classes (the identities)")
    p.add_argument("--workers", type=int, nargs="+", default=[4],
                   help="DataLoader workers; several values (loader part) try each and keep the best; "
                        "0 for facestream: StreamLoader reading ahead in a thread")
    p.add_argument("--uint8", action="store_true",
                   help="loader part: move the uint8 batches only, without normalising (a CPU consumer's view)")
    p.add_argument("--prefetch", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup", type=float, default=10)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--device", default="auto", help="cuda, cpu, ... or auto: cuda when available, else cpu")
    p.add_argument("--name", help="part name in the report (default: the part)")
    p.add_argument("--title", default="", help="one-line description for the report table")
    p.add_argument("--out", help="write the part's JSON here (default: stdout)")
    args = p.parse_args(argv)

    if args.part == "report":
        doc, table = report(args.files)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(doc, f, indent=2)
        print(table)
        return 0

    if args.part == "synthetic":
        args.workers = [0]  # no loader
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    doc = {"part": args.name or args.part, "title": args.title, "device": str(device),
           "args": {k: v for k, v in vars(args).items() if k not in ("token", "files")}}
    try:
        if args.part == "synthetic":
            doc["result"] = run_synthetic(args, device)
        else:
            runs = []
            for k in args.workers:
                sub = argparse.Namespace(**{**vars(args), "workers": k})
                runs.append({"workers": k, **(run_loader if args.part == "loader" else run_train)(sub, device)})
                print(f"{doc['part']}: {k} workers: {runs[-1]['images_per_s']:,.0f} img/s", file=sys.stderr)
            best = max(runs, key=lambda r: r["images_per_s"])
            doc["result"] = {"runs": runs, "best": best}
    except Exception as e:  # the part's JSON says what failed; run.sh goes on with the next part
        import traceback

        doc["error"] = traceback.format_exc()
        print(doc["error"], file=sys.stderr)
    text = json.dumps(doc, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text)
    return 1 if "error" in doc else 0


if __name__ == "__main__":
    sys.exit(main())
