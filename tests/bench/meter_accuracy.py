#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""tests/bench/meter_accuracy.py SOCKET FUNCTION [N] — invokes the ground-truth function
(tests/functions/groundtruth.c) N times per kind of work and prints, per kind, how far the
kernel-measured duration is from the function's own clock (wall_ns), and the CPU time
beside the work's true CPU time. One line per kind:
    <kind> n=<N> dur_err_mean_us=<..> dur_err_max_us=<..> cpu_ms_mean=<..> cpu_true_ms=<..>"""
import json
import socket
import sys


def main():
    path, name = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rwb")
    seq = 0

    def invoke(payload):
        nonlocal seq
        seq += 1
        f.write(json.dumps({"id": seq, "action": "Invoke", "FunctionName": name,
                            "Payload": payload}).encode() + b"\n")
        f.flush()
        r = json.loads(f.readline())
        if not r.get("ok") or "FunctionError" in r:
            sys.exit(f"meter_accuracy: invoke failed: {r}")
        return r

    invoke({"work": "echo"})
    for kind, payload, cpu_true in (("spin-50ms", {"work": "spin", "ms": 50}, 50.0),
                                    ("sleep-50ms", {"work": "sleep", "ms": 50}, 0.0),
                                    ("fork-spin-50ms", {"work": "fork-spin", "ms": 50}, 50.0)):
        errs, cpus = [], []
        for _ in range(n):
            r = invoke(payload)
            errs.append(abs(r["Report"]["DurationNs"] - r["Payload"]["wall_ns"]) / 1000)
            cpus.append(r["Report"]["CpuTimeNs"] / 1e6)
        print(f"{kind} n={n} dur_err_mean_us={sum(errs) / n:.1f} dur_err_max_us={max(errs):.1f} "
              f"cpu_ms_mean={sum(cpus) / n:.2f} cpu_true_ms={cpu_true:.1f} "
              f"exact={not r['Report']['Approximate']}")


if __name__ == "__main__":
    main()
