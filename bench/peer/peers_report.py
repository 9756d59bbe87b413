#!/usr/bin/env python3
"""The tables of bench/peer/run_peers.sh (`make bench`) from what it left in WORK, and WORK/peers.json.

    peers_report.py WORK CORES SET...      SET: synth, and lfw when the real faces were measured

Per set: WORK/SET-facestream.json (facestream bench, server in-process), SET-torch.json
(torch_augment.py), SET-tjbench.txt (file, decode frame rate, tjbench's wall, user and system
seconds); for synth also client.json (the Python client, gpu_bench.py loader) and go-remote.json
(facestream bench --url), both against a `facestream serve` of their own.
"""

import json
import os
import sys

# The served-path targets on the real faces (docs/DESIGN.md, Performance targets).
TARGET_TJBENCH_PER_CORE = 0.5
TARGET_OVER_DATALOADER = 10.0


def load(work, name):
    with open(os.path.join(work, name)) as f:
        return json.load(f)


def tjbench_rate(path):
    """Images/s decoding the sample files in turn on one core (harmonic mean of their rates), and
    images per CPU-second: each rate scaled by tjbench's wall over CPU time, the share of the core it
    got (it decodes on one thread the whole time)."""
    fps, per_cpu = [], []
    with open(path) as f:
        for line in f:
            rate, wall, user, system = (float(x) for x in line.split()[-4:])
            fps.append(rate)
            per_cpu.append(rate * wall / (user + system))
    harmonic = lambda xs: len(xs) / sum(1 / x for x in xs)  # noqa: E731
    return harmonic(fps), harmonic(per_cpu), fps


def machine_cpu():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        import platform

        return platform.processor() or platform.machine()


def measure(work, name, cores):
    fs = load(work, f"{name}-facestream.json")
    torch = load(work, f"{name}-torch.json")
    tj_core, tj_cpu, fps = tjbench_rate(os.path.join(work, f"{name}-tjbench.txt"))
    rate = fs["median"]["images_per_s"]
    return {
        "facestream": fs, "torch": torch, "tjbench_fps": fps, "tjbench_per_core": tj_core,
        "tjbench_per_cpu_second": tj_cpu,
        "per_core_of_tjbench": rate / cores / tj_core,
        "over_dataloader": rate / torch["img_per_s"],
        "cpu_us_per_image": fs["median"]["cpu_us_per_image"],
        # Steadier than per_core_of_tjbench on a machine others share: CPU time is not lost to them.
        "per_cpu_second_of_tjbench": 1e6 / fs["median"]["cpu_us_per_image"] / tj_cpu,
    }


def peer_rows(m, cores):
    fs, torch, tj = m["facestream"], m["torch"], m["tjbench_per_core"]
    return [
        ("facestream bench (Go client, in-process server)", fs["median"]["images_per_s"],
         f'{cores} streams, batch {fs["config"]["batch"]}'),
        ("PyTorch DataLoader, PIL + torchvision face profile", torch["img_per_s"],
         f'{torch["workers"]} workers, torch {torch["torch"]}'),
        ("tjbench decode only (libjpeg-turbo), 1 core × cores", tj * cores,
         f'{tj:,.0f} img/s on one core ({m["tjbench_per_cpu_second"]:,.0f} per CPU-second), '
         f'{len(m["tjbench_fps"])} files'),
    ]


def peer_table(rows, cores):
    base = rows[0][1]
    out = ["| peer | img/s | img/s per core | ratio to facestream | notes |", "|---|---:|---:|---:|---|"]
    out += [f"| {n} | {r:,.0f} | {r / cores:,.0f} | {r / base:.2f} | {t} |" for n, r, t in rows]
    return out


def cpu_row(name, rate, server, client, total):
    def cell(x):
        return "—" if x is None else f"{x:,.1f}"

    return f"| {name} | {rate:,.0f} | {cell(server)} | {cell(client)} | {cell(total)} |"


def python_client(run):
    """How a run of the Python client read the stream (gpu_bench.py loader's workers)."""
    if run["workers"] == 0:
        return "Python client (StreamLoader, read-ahead thread)"
    return f'Python client (StreamDataset, {run["workers"]} DataLoader workers)'


def cpu_table(m, clients, go_remote):
    """CPU-µs per image of the served path: the Go client in one process with the server, and the
    Python and Go clients each apart from it."""
    fs = m["facestream"]["median"]
    go = go_remote["median"]
    return [
        "| served path | img/s | server CPU-µs/img | client CPU-µs/img | total CPU-µs/img |",
        "|---|---:|---:|---:|---:|",
        cpu_row("Go client + server, one process", fs["images_per_s"], None, None, fs["cpu_us_per_image"]),
        cpu_row("Go client, server apart", go["images_per_s"], go.get("server_cpu_us_per_image"),
                go.get("client_cpu_us_per_image"), go["cpu_us_per_image"]),
        *(cpu_row(python_client(c) + ", server apart", c["images_per_s"], *(
            (c["cpu_us_per_image"] or {}).get(k) for k in ("server", "client", "total"))) for c in clients),
        f'| tjbench decode alone, for scale | | | | {1e6 / m["tjbench_per_cpu_second"]:,.1f} |',
    ]


def verdict(value, target):
    return "meets" if value >= target else "below"


def main(argv):
    work, cores, sets = argv[1], int(argv[2]), argv[3:]
    cpu = machine_cpu()
    m = {name: measure(work, name, cores) for name in sets}
    clients = load(work, "client.json")["result"]["runs"]
    client = max(clients, key=lambda r: r["images_per_s"])
    go_remote = load(work, "go-remote.json")
    synth = m["synth"]
    image = synth["facestream"]["image"]
    print(f"Measured on {cores} cores of {cpu}; {image['height']}x{image['width']} images, face profile.\n")

    rows = peer_rows(synth, cores)
    rows += [(python_client(c), c["images_per_s"], "from facestream serve") for c in clients]
    rows += [("Go client, server apart (facestream bench --url)", go_remote["median"]["images_per_s"],
              f"{cores} streams, from facestream serve")]
    print("synth:\n")
    print("\n".join(peer_table(rows, cores)))
    print(f"\nfacestream ÷ PyTorch = {synth['over_dataloader']:.2f}×; facestream per core ÷ tjbench's decode "
          f"= {synth['per_core_of_tjbench']:.2f} (the whole served path, client included; the image "
          f"pipeline's own ratio is bench/peer/augment_compare.sh's).\n")
    print("CPU per image of the served path (synth; user + system time over the window ÷ images delivered):\n")
    print("\n".join(cpu_table(synth, clients, go_remote)))
    print(f"\nGo client + server in one process: {synth['per_cpu_second_of_tjbench']:.2f} of tjbench's images "
          f"per CPU-second (the load-proof form of the ratio to tjbench).")

    doc = {"schema": "facestream.peers/v1", "cores": cores, "cpu": cpu,
           "rows": [{"peer": n, "images_per_s": r, "ratio_to_facestream": r / rows[0][1], "notes": t}
                    for n, r, t in rows],
           "facestream": synth["facestream"], "torch": synth["torch"], "tjbench_fps": synth["tjbench_fps"],
           "python_client": client, "python_client_runs": clients, "go_remote": go_remote,
           "cpu_us_per_image": {
               "go_in_process": synth["cpu_us_per_image"],
               "go_remote": {k: go_remote["median"].get(f"{k}_cpu_us_per_image") for k in ("server", "client")}
               | {"total": go_remote["median"]["cpu_us_per_image"]},
               "python_client": client["cpu_us_per_image"],
               "python_client_runs": {python_client(c): c["cpu_us_per_image"] for c in clients},
           },
           "sets": {name: {k: v for k, v in s.items() if k not in ("facestream", "torch")} | {
               "images_per_s": s["facestream"]["median"]["images_per_s"],
               "dataloader_images_per_s": s["torch"]["img_per_s"]} for name, s in m.items()}}

    if "lfw" in m:
        lfw = m["lfw"]
        print("\nlfw-ak, the team's real 112x112 faces (server and Go client in one process, all cores):\n")
        print("\n".join(peer_table(peer_rows(lfw, cores), cores)))
        a, b = lfw["per_core_of_tjbench"], lfw["over_dataloader"]
        print(f"\nserved per core ÷ tjbench's decode per core = {a:.2f} (target ≥ {TARGET_TJBENCH_PER_CORE}: "
              f"{verdict(a, TARGET_TJBENCH_PER_CORE)}); served ÷ PyTorch's DataLoader = {b:.2f}× (target ≥ "
              f"{TARGET_OVER_DATALOADER:.0f}×: {verdict(b, TARGET_OVER_DATALOADER)}); CPU "
              f"{lfw['cpu_us_per_image']:,.1f} µs per image (server + Go client), "
              f"{lfw['per_cpu_second_of_tjbench']:.2f} of tjbench's images per CPU-second.")
        doc["targets"] = {"lfw_per_core_of_tjbench": TARGET_TJBENCH_PER_CORE,
                          "lfw_over_dataloader": TARGET_OVER_DATALOADER}
    else:
        try:
            with open(os.path.join(work, "lfw-skipped.txt")) as f:
                why = f.read().strip()
        except OSError:
            why = "not measured"
        print(f"\nlfw-ak (real faces): skipped: {why}")
        doc["lfw_skipped"] = why
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end.")
    with open(os.path.join(work, "peers.json"), "w") as f:
        json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main(sys.argv)
