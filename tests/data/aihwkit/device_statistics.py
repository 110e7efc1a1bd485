"""Device statistics of IBM aihwkit's inference noise models, run from aihwkit's own source.

Usage: python device_statistics.py AIHWKIT_SRC OUT_DIR [--count N] [--seed S]

AIHWKIT_SRC is the `src` folder of an aihwkit checkout. The noise models (`PCMLikeNoiseModel`,
`HermesNoiseModel`, `ReRamWan2022NoiseModel`) and the conductance converters they import are
plain Python over torch and are imported unmodified from that folder. Only the package
`__init__` files are bypassed: `aihwkit/__init__.py` imports a generated version file and
`aihwkit/inference/__init__.py` imports the simulator (the C++ extension). The script registers
`aihwkit`, `aihwkit.inference`, `aihwkit.inference.noise` and `aihwkit.inference.converter` as
empty packages whose `__path__` is the source folder, so every submodule is loaded from its own
file and nothing else is touched.

Writes OUT_DIR/statistics.csv: one row per (model, target, quantity, time) with the mean, the
standard deviation and the minimum over N devices.
"""

import argparse
import csv
import os
import sys
import types

import torch

TARGETS_RELATIVE = [0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0]
READ_TIMES = [20.0, 3600.0, 86400.0]


def bypass_package_inits(src):
    """Registers the aihwkit packages without running their __init__ files."""
    for name in ["aihwkit", "aihwkit.inference", "aihwkit.inference.noise",
                 "aihwkit.inference.converter"]:
        module = types.ModuleType(name)
        module.__path__ = [os.path.join(src, *name.split("."))]
        sys.modules[name] = module
    sys.path.insert(0, src)


def stats(x):
    x = x.double()
    return float(x.mean()), float(x.std()), float(x.min())


def pcm_like(model, name, g_max, count, rows):
    """Programming, drift exponents and reads at READ_TIMES of a PCM-like model."""
    for rel in TARGETS_RELATIVE:
        target = g_max * rel
        g_target = torch.full((count,), target, dtype=torch.float64)
        g_prog = model.apply_programming_noise_to_conductance(g_target.clone())
        nu = model.generate_drift_coefficients(g_target.clone())
        rows.append((name, g_max, target, "programmed", 0.0, *stats(g_prog)))
        rows.append((name, g_max, target, "nu", 0.0, *stats(nu)))
        for t in READ_TIMES:
            g = model.apply_drift_noise_to_conductance(g_prog.clone(), nu, t)
            rows.append((name, g_max, target, "conductance", t, *stats(g)))


def reram(model, name, g_max, count, rows):
    """Programming noise (the 1 s fit) and the 1-day fit of the ReRAM model."""
    for rel in TARGETS_RELATIVE:
        target = g_max * rel
        g_target = torch.full((count,), target, dtype=torch.float64)
        g_prog = model.apply_programming_noise_to_conductance(g_target.clone())
        rows.append((name, g_max, target, "programmed", 0.0, *stats(g_prog)))
        g = model.apply_drift_noise_to_conductance(g_prog, g_target.clone(), 86400.0)
        rows.append((name, g_max, target, "conductance", 86400.0, *stats(g)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("aihwkit_src")
    parser.add_argument("out_dir")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    bypass_package_inits(args.aihwkit_src)
    from aihwkit.inference.noise.pcm import PCMLikeNoiseModel
    from aihwkit.inference.noise.hermes import HermesNoiseModel
    from aihwkit.inference.noise.reram import ReRamWan2022NoiseModel

    torch.manual_seed(args.seed)
    rows = []
    pcm_like(PCMLikeNoiseModel(g_max=25.0), "pcm", 25.0, args.count, rows)
    pcm_like(HermesNoiseModel(num_devices=1), "hermes_1", 10.35, args.count, rows)
    pcm_like(HermesNoiseModel(num_devices=2), "hermes_2", 20.7, args.count, rows)
    reram(ReRamWan2022NoiseModel(g_max=40.0), "reram_wan2022", 40.0, args.count, rows)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "statistics.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["model", "g_max_uS", "target_uS", "quantity", "time_s", "mean", "std", "min"])
        for model, g_max, target, quantity, t, mean, std, low in rows:
            w.writerow([model, g_max, f"{target:.6g}", quantity, t,
                        f"{mean:.6g}", f"{std:.6g}", f"{low:.6g}"])


if __name__ == "__main__":
    main()
