"""Report the usage of every mounted filesystem; flag those over a threshold."""

# ruff: noqa: T201  (a runbook reports by printing)

import json
import os
import shutil

PSEUDO = {
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "securityfs",
    "debugfs",
    "tracefs",
    "pstore",
    "bpf",
    "mqueue",
    "hugetlbfs",
    "configfs",
    "fusectl",
    "autofs",
    "binfmt_misc",
    "nsfs",
}
SOFT = {"tmpfs", "overlay", "squashfs", "ramfs"}

with open(os.environ["STEWARD_PARAMS"]) as f:
    params = json.load(f)
warn = params.get("warn_percent", 85)
include_pseudo = params.get("include_pseudo", False)

filesystems, seen = [], set()
with open("/proc/mounts") as mounts:
    for line in mounts:
        device, mountpoint, fstype = line.split()[:3]
        mountpoint = mountpoint.replace("\\040", " ")
        if fstype in PSEUDO or (fstype in SOFT and not include_pseudo) or mountpoint in seen:
            continue
        seen.add(mountpoint)
        try:
            usage = shutil.disk_usage(mountpoint)
        except OSError:
            continue  # not readable by the runbook's user
        if usage.total == 0:
            continue
        percent = round(100 * usage.used / usage.total, 1)
        filesystems.append(
            {
                "mountpoint": mountpoint,
                "device": device,
                "type": fstype,
                "size_gib": round(usage.total / 2**30, 2),
                "used_gib": round(usage.used / 2**30, 2),
                "free_gib": round(usage.free / 2**30, 2),
                "used_percent": percent,
            }
        )

filesystems.sort(key=lambda fs: fs["used_percent"], reverse=True)
print(f"{'MOUNTPOINT':30} {'TYPE':10} {'SIZE GiB':>9} {'USED %':>7}")
for fs in filesystems:
    flag = "  <-- over threshold" if fs["used_percent"] > warn else ""
    print(f"{fs['mountpoint'][:30]:30} {fs['type'][:10]:10} {fs['size_gib']:9.2f} {fs['used_percent']:7.1f}{flag}")
over = [fs["mountpoint"] for fs in filesystems if fs["used_percent"] > warn]
print(f"{len(over)} filesystem(s) over {warn}%" if over else f"every filesystem is at or under {warn}%")

with open(os.environ["STEWARD_RESULT"], "w") as f:
    json.dump({"warn_percent": warn, "over_threshold": over, "filesystems": filesystems}, f)
