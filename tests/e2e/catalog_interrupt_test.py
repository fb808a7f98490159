"""Ctrl-C during `mailsim run` (docs/cli.md "Interrupts"): exit code 130, the report of what
ran is still printed, and nothing is left behind — no child process, no listening socket on
the run's 127.N blocks.

The whole catalog is run four times over (copies with renamed `name:`), --jobs 2, so it is
surely still running when SIGINT arrives 0.5 s in (one catalog takes about 1 s).

Leftovers: this test makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so any
process mailsim started and did not reap is re-parented to us instead of init and can be
found. Sockets: /proc/net/{tcp,tcp6,udp,udp6} before, during and after the run; during,
mailsim's own pid must own listeners on 127.N (N >= 1) — which shows the scan sees them —
and after, no new listener on 127.N may be owned by mailsim, a process it started, or
nobody. (Other test processes may use other 127.N blocks at the same time; sockets they own
are not ours and are ignored.)

Needs MAILSIM (path of the mailsim binary) and a catalog in MAILSIM_SOURCE_DIR/scenarios.
"""
import ctypes
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

MAILSIM = os.environ.get("MAILSIM", "")
SOURCE_DIR = Path(os.environ.get("MAILSIM_SOURCE_DIR", Path(__file__).resolve().parents[2]))
PR_SET_CHILD_SUBREAPER = 36


def copy_catalog(dest: Path, copies: int) -> int:
    """The catalog `copies` times into dest, each copy's `name:` suffixed (-c1, -c2, …)."""
    n = 0
    for src in sorted((SOURCE_DIR / "scenarios" / "catalog").glob("*.yaml")):
        text = src.read_text()
        for k in range(copies):
            renamed = re.sub(r"^name:\s*(\S+)", lambda m: f"name: {m.group(1)}-c{k}", text,
                             count=1, flags=re.M)
            assert renamed != text, f"{src}: no top-level name:"
            (dest / f"{src.stem}-c{k}.yaml").write_text(renamed)
            n += 1
    return n


def loopback_listeners():
    """{(proto, ip, port, inode)} for TCP LISTEN and bound UDP sockets on 127.N.x.y, N >= 1."""
    out = set()
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            local, state, inode = f[1], f[3], f[9]
            if proto.startswith("tcp") and state != "0A":  # 0A = TCP_LISTEN
                continue
            if proto.startswith("udp") and state != "07":  # 07 = TCP_CLOSE: bound, unconnected
                continue
            addr_hex, port_hex = local.split(":")
            if proto.endswith("6"):
                if not addr_hex.startswith("0000000000000000FFFF0000"):  # ::ffff:a.b.c.d
                    continue
                addr_hex = addr_hex[24:]
            a = bytes.fromhex(addr_hex)[::-1]  # /proc prints the address in host order
            if a[0] == 127 and a[1] >= 1:
                out.add((proto, ".".join(map(str, a)), int(port_hex, 16), inode))
    return out


def socket_owners():
    """{socket inode: {pid, …}} from /proc/*/fd."""
    owners = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    owners.setdefault(target[8:-1], set()).add(int(pid))
        except OSError:
            continue
    return owners


def children_of(ppid):
    kids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == ppid:
            kids.add(int(pid))
    return kids


def test_sigint_exits_130_and_leaves_nothing_behind(tmp_path):
    if not MAILSIM or not os.access(MAILSIM, os.X_OK):
        pytest.fail(f"MAILSIM={MAILSIM!r} is not an executable mailsim binary")
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, "prctl(PR_SET_CHILD_SUBREAPER)"
    scenarios = tmp_path / "catalog4x"
    scenarios.mkdir()
    total = copy_catalog(scenarios, 4)
    me = os.getpid()
    before_kids = children_of(me)
    before = loopback_listeners()
    report = tmp_path / "report.json"
    proc = subprocess.Popen([MAILSIM, "run", str(scenarios), "--jobs", "2", "-q",
                             "--json", str(report)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_COLOR": "1"})
    try:
        # Wait until mailsim's own listeners show up rather than a fixed time: a slower
        # build (the sanitize preset: ASan+UBSan) takes longer than 0.5 s to open them.
        mine = set()
        deadline = time.monotonic() + 20
        while not mine and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            during = loopback_listeners() - before
            owners = socket_owners()
            mine = {s for s in during if proc.pid in owners.get(s[3], set())}
        assert proc.poll() is None, f"mailsim ended before the interrupt (exit {proc.returncode})"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert mine, "no listener on 127.N owned by mailsim while it ran: the scan sees nothing"
    assert proc.returncode == 130, f"exit {proc.returncode}\nstderr: {err[-3000:]}"

    # The report of what ran is printed and says the run was cancelled.
    doc = json.loads(report.read_text())
    assert doc["cancelled"] is True and doc["passed"] is False
    assert doc["summary"]["scenarios"] == total
    cancelled = [s["name"] for s in doc["scenarios"] if s["cancelled"]]
    assert cancelled, "no scenario marked cancelled"
    assert "scenario" in out and "guide-baseline-c0" in out, f"table not printed:\n{out[:2000]}"

    # No process left: anything mailsim started and left running would now be our child.
    time.sleep(0.2)
    left = children_of(me) - before_kids
    assert not left, f"processes left behind: {[Path(f'/proc/{p}/cmdline').read_bytes() for p in left]}"

    # No listener left on a 127.N block that is mailsim's (its pid is gone; so are its kids).
    after = loopback_listeners() - before
    owners = socket_owners()
    # Another suite's process may exit between the two scans (ctest runs suites side by
    # side): its listeners then have no owner, but they are gone too. A leaked listener
    # outlives the scans.
    still = loopback_listeners()
    stray = [s for s in after
             if s in still and (not owners.get(s[3]) or proc.pid in owners[s[3]])]
    assert not stray, f"listening sockets left with no owner: {stray}"
    assert not (after & mine), f"mailsim's listeners survived it: {after & mine}"
