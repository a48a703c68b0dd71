"""Collect a snapshot of this machine into the run's result (standard library only)."""

# ruff: noqa: T201  (a runbook reports by printing)

import json
import os
import platform
import shutil

with open(os.environ["STEWARD_PARAMS"]) as f:
    params = json.load(f)
top_n = params.get("top_processes", 5)


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def meminfo():
    fields = {}
    for line in read("/proc/meminfo").splitlines():
        name, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            fields[name] = int(rest.split()[0]) * 1024
    total, available = fields.get("MemTotal", 0), fields.get("MemAvailable", 0)
    return {
        "total_mib": total // 2**20,
        "available_mib": available // 2**20,
        "used_percent": round(100 * (total - available) / total, 1) if total else None,
        "swap_total_mib": fields.get("SwapTotal", 0) // 2**20,
        "swap_free_mib": fields.get("SwapFree", 0) // 2**20,
    }


def processes():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        status = read(f"/proc/{pid}/status")
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss = fields.get("VmRSS", "0 kB").split()[0]
        if rss.isdigit():
            found.append({"pid": int(pid), "name": fields.get("Name", "?").strip(), "rss_mib": int(rss) // 1024})
    return sorted(found, key=lambda p: p["rss_mib"], reverse=True)[:top_n]


uptime_seconds = float(read("/proc/uptime", "0 0").split()[0])
load = read("/proc/loadavg", "0 0 0").split()[:3]
disk = shutil.disk_usage("/")
result = {
    "host": platform.node(),
    "kernel": platform.release(),
    "os": read("/etc/os-release").partition('PRETTY_NAME="')[2].partition('"')[0],
    "cpus": os.cpu_count(),
    "uptime_hours": round(uptime_seconds / 3600, 1),
    "load": [float(x) for x in load],
    "memory": meminfo(),
    "root_disk": {"size_gib": round(disk.total / 2**30, 1), "used_percent": round(100 * disk.used / disk.total, 1)},
    "top_processes": processes(),
}
print(f"{result['host']}: kernel {result['kernel']}, {result['cpus']} CPUs, up {result['uptime_hours']} h")
memory, root = result["memory"]["used_percent"], result["root_disk"]["used_percent"]
print(f"load {' '.join(load)}; memory {memory}% used; / {root}% used")
for p in result["top_processes"]:
    print(f"  {p['rss_mib']:>7} MiB  {p['pid']:>7}  {p['name']}")
with open(os.environ["STEWARD_RESULT"], "w") as f:
    json.dump(result, f)
