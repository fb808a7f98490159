"""The world is sealed (DESIGN.md "Sealed world"): a full catalog run opens no socket outside
127.0.0.0/8, dials only its own world hosts, and sends no query to the system resolver.

Two independent proofs, plus a negative control that shows the first one can fail:
1. strace: what the run *attempted* — every sockaddr of connect/bind/send* and every open of
   the resolver's files, judged by trace_check.py;
2. an empty network namespace (`unshare -n`, only `lo` up): what the run *needs* — the same
   catalog gives the same report, byte for byte (bar elapsed_ms), with nothing else reachable;
3. the control: leak_probe.py, run in such a namespace (so its attempts fail locally with
   ENETUNREACH), traced the same way; every leak it attempts must be flagged.

Needs MAILSIM (path of the mailsim binary). Skips with a reason when strace or unshare/ip are
missing or namespaces are not permitted.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import trace_check  # noqa: E402

MAILSIM = os.environ.get("MAILSIM", "")
RUN_TIMEOUT = 300  # seconds; a catalog run takes about 1 s, 3-4 s under strace


def _need_mailsim():
    if not MAILSIM or not os.access(MAILSIM, os.X_OK):
        pytest.fail(f"MAILSIM={MAILSIM!r} is not an executable mailsim binary")


_STRACE_REASON = None


def _need_strace():
    global _STRACE_REASON
    if _STRACE_REASON is None:
        if shutil.which("strace") is None:
            _STRACE_REASON = "strace not installed (Debian package strace): cannot trace the run"
        else:
            # Containers without CAP_SYS_PTRACE (or with a seccomp profile) cannot trace.
            r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "true"],
                               capture_output=True, text=True, timeout=30)
            _STRACE_REASON = "" if r.returncode == 0 else \
                f"strace cannot trace here (ptrace not permitted?): {r.stderr.strip()[:200]}"
    if _STRACE_REASON:
        pytest.skip(_STRACE_REASON)


_NETNS_REASON = None


def _need_netns():
    global _NETNS_REASON
    if _NETNS_REASON is None:
        if shutil.which("unshare") is None or shutil.which("ip") is None:
            _NETNS_REASON = "unshare (util-linux) or ip (iproute2) not installed"
        else:
            r = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"],
                               capture_output=True, text=True, timeout=30)
            _NETNS_REASON = "" if r.returncode == 0 else \
                f"cannot create a network namespace here (unshare -n: {r.stderr.strip()})"
    if _NETNS_REASON:
        pytest.skip(_NETNS_REASON)


def _in_empty_netns(cmd):
    """cmd (a list) run in a fresh network namespace with only lo up."""
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *cmd]


def _strip_timing(report):
    """docs/json-schema.md: scenarios[].elapsed_ms is the one non-deterministic field."""
    for s in report["scenarios"]:
        assert "elapsed_ms" in s, "schema changed: scenarios[].elapsed_ms missing"
        del s["elapsed_ms"]
    return report


def _catalog_run(tmp_path, name, prefix=()):
    out = tmp_path / f"{name}.json"
    cmd = [*prefix, MAILSIM, "run", "-q", "-j", "2", "--json", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert r.returncode in (0, 1), f"{cmd} exited {r.returncode}\n{r.stderr[-3000:]}"
    report = json.loads(out.read_text())
    errors = [(s["name"], s["error"]) for s in report["scenarios"] if s["error"]]
    assert not errors, f"scenarios that could not run: {errors}"
    assert report["summary"]["scenarios"] >= 20, report["summary"]
    return r.returncode, report


def test_catalog_run_dials_only_its_own_loopback_hosts(tmp_path):
    _need_mailsim()
    _need_strace()
    log = tmp_path / "net.trace"
    prefix = ["strace", "-f", "-qq", "-e", "signal=none", "-e",
              f"trace={trace_check.NET_SYSCALLS}", "-o", str(log)]
    _, report = _catalog_run(tmp_path, "traced", prefix)
    s = trace_check.check_file(str(log))
    # The parser must have seen the run's traffic, or "no violation" would mean nothing:
    # each scenario binds its fake DNS and receivers and dials them many times.
    n = report["summary"]["scenarios"]
    assert s.binds >= 5 * n and s.connects >= 20 * n, \
        f"trace has {s.binds} binds, {s.connects} connects: strace output not parsed?"
    assert all(a.startswith("127.") for a, _ in s.bound)
    assert s.ok(), "the run reached outside its world:\n" + s.report()


def test_catalog_run_never_looks_up_through_the_system_resolver(tmp_path):
    _need_mailsim()
    _need_strace()
    log = tmp_path / "open.trace"
    prefix = ["strace", "-f", "-qq", "-k", "-e", "signal=none", "-e",
              f"trace={trace_check.OPEN_SYSCALLS}", "-o", str(log)]
    _catalog_run(tmp_path, "opens", prefix)
    text = log.read_text(errors="replace")
    assert "scenarios/catalog/guide-baseline.yaml" in text, "open trace incomplete"
    s = trace_check.check_file(str(log))
    assert s.opens > 20
    assert s.ok(), "a resolver file was opened outside the allowed reader:\n" + s.report()


def test_catalog_gives_the_same_report_with_nothing_but_loopback(tmp_path):
    _need_mailsim()
    _need_netns()
    code_host, host = _catalog_run(tmp_path, "host")
    code_ns, sealed = _catalog_run(tmp_path, "netns", _in_empty_netns([]))
    assert code_ns == code_host
    assert _strip_timing(sealed) == _strip_timing(host)


def test_negative_control_every_leak_is_flagged(tmp_path):
    _need_strace()
    _need_netns()
    log = tmp_path / "probe.trace"
    cmd = _in_empty_netns([
        "strace", "-f", "-qq", "-k", "-e", "signal=none", "-e",
        f"trace={trace_check.NET_SYSCALLS},{trace_check.OPEN_SYSCALLS}", "-o", str(log),
        sys.executable, "-S", str(HERE / "leak_probe.py")])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "probe done" in r.stdout, r.stdout + r.stderr
    # Inside the empty namespace nothing outside lo is reachable.
    assert "connect 192.0.2.1:25: ENETUNREACH" in r.stdout, r.stdout
    s = trace_check.check_file(str(log))
    found = "\n".join(v.what for v in s.violations)
    expected = [
        "192.0.2.1 port 25 is outside",
        "2001:db8::1 port 25 is outside",
        "192.0.2.53 port 53 is outside",
        "dials 127.0.0.53:53, which no host of the run listens on",
        "0.0.0.0 port 0 is outside",
        "opened /etc/resolv.conf: the system resolver was consulted",
    ]
    for e in expected:
        assert e in found, f"not flagged: {e!r}\nflagged:\n{found}"
    # glibc's lookup queried the nameserver from resolv.conf: flagged too (it is not 127/8
    # here; if it were, it would not be a listener of the run).
    resolv = [line.split()[1] for line in Path("/etc/resolv.conf").read_text().splitlines()
              if line.startswith("nameserver") and len(line.split()) > 1]
    if resolv:
        assert any(ns in found for ns in resolv), f"nameserver {resolv} not flagged:\n{found}"


def test_parser_accepts_loopback_world_traffic():
    lines = [
        '10 bind(5, {sa_family=AF_INET, sin_port=htons(20053), sin_addr=inet_addr("127.3.0.1")}, 16) = 0\n',
        '11 connect(6, {sa_family=AF_INET, sin_port=htons(20053), sin_addr=inet_addr("127.3.0.1")}, 16 <unfinished ...>\n',
        '11 <... connect resumed>) = 0\n',
        '12 sendmmsg(5, [{msg_hdr={msg_name={sa_family=AF_INET, sin_port=htons(40000), sin_addr=inet_addr("127.0.0.1")}, msg_namelen=16}}], 1, 0) = 1\n',
        '13 connect(7, {sa_family=AF_UNIX, sun_path="/run/x.sock"}, 110) = 0\n',
        '14 connect(8, {sa_family=AF_INET6, sin6_port=htons(20053), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 ECONNREFUSED\n',
        '14 bind(8, {sa_family=AF_INET6, sin6_port=htons(20053), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0\n',
    ]
    s = trace_check.check_lines(lines)
    assert s.ok(), s.report()
    assert (s.connects, s.binds, s.sends_with_address) == (2, 2, 1)
    bad = trace_check.check_lines(lines + [
        '15 connect(9, {sa_family=AF_INET, sin_port=htons(25), sin_addr=inet_addr("10.0.0.1")}, 16) = 0\n',
        '16 openat(AT_FDCWD, "/etc/resolv.conf", O_RDONLY|O_CLOEXEC) = 3\n',
        ' > /usr/lib/x86_64-linux-gnu/libc.so.6(getaddrinfo+0x1) [0x1]\n',
    ])
    assert [v.line for v in bad.violations] == [8, 9], bad.report()
