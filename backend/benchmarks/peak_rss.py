"""``python -m benchmarks.peak_rss REPORT ARGS…``: run ``bahr-db ARGS…`` in this process and
write its peak resident set size (KiB) to REPORT when it ends.

The peak is ``VmHWM`` from ``/proc/self/status``: the high-water mark of this process's own
address space, which ``exec`` starts afresh. ``ru_maxrss`` from ``wait4`` cannot be used for a
child of the benchmark: Linux carries the parent's high-water mark at ``fork`` over the
``exec`` into the child's ``ru_maxrss``, so every child of a large parent looks as large as
the parent (seen in the first full run: 426 MiB for ``bahr-db --help``).
"""

from __future__ import annotations

import sys
from pathlib import Path


def vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> int:
    report, args = Path(sys.argv[1]), sys.argv[2:]
    sys.argv = ["bahr-db", *args]
    from app.cli import main as cli

    code = 0
    try:
        cli()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        report.write_text(str(vm_hwm_kib()))
    return code


if __name__ == "__main__":
    sys.exit(main())
