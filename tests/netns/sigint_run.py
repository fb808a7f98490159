#!/usr/bin/env python3
"""Ctrl-C in the middle of `mailsim run --fabric netns` leaves nothing behind (issue 8).

    sigint_run.py MAILSIM SUT

Starts a catalog run on a real MTA, waits until its namespaces and the MTA's run directory
exist and the MTA is running, sends SIGINT, and asserts: exit code 130, no namespace of the
run (`ip netns list`), no process still holding the run directory (`pgrep -f DIR`), and the
run directory removed. The veths live only inside those namespaces, so none can be left
when none of them is. Exits 77 (ctest SKIP) when not root or the MTA is missing.
"""
import glob
import os
import shutil
import signal
import subprocess
import sys
import time


def netns_of(pid):
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(f"mailsim-p{pid}-")]


def main():
    mailsim, sut = sys.argv[1], sys.argv[2]
    if os.geteuid() != 0:
        print("SKIP: the netns fabric needs root")
        return 77
    if sut == "postfix" and not os.access("/usr/sbin/postfix", os.X_OK):
        print("SKIP: postfix not installed (scripts/bootstrap)")
        return 77
    if sut == "haraka" and not shutil.which("node"):
        print("SKIP: node not installed (scripts/bootstrap)")
        return 77
    before = set(glob.glob(f"/tmp/mailsim-{sut}-*"))
    proc = subprocess.Popen([mailsim, "run", "--sut", sut, "--fabric", "netns", "--jobs", "1",
                             "--quiet", "guide-baseline", "port25-blocked", "dnsbl-listed"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_dir = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        dirs = set(glob.glob(f"/tmp/mailsim-{sut}-*")) - before
        if dirs and netns_of(proc.pid):
            run_dir = sorted(dirs)[0]
            if subprocess.run(["pgrep", "-f", run_dir], capture_output=True).returncode == 0:
                break
        time.sleep(0.05)
    if run_dir is None or proc.poll() is not None:
        proc.kill()
        print("FAIL: the run never reached a running MTA in its namespaces")
        return 1
    time.sleep(0.5)  # mid-run: the MTA is up and probes are under way
    print(f"SIGINT to {proc.pid} with {len(netns_of(proc.pid))} namespaces and {run_dir}")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        print("FAIL: mailsim did not stop within 60 s of SIGINT")
        return 1
    print(f"stopped in {time.monotonic() - t0:.1f} s, exit {proc.returncode}")
    failures = []
    if proc.returncode != 130:
        failures.append(f"exit code {proc.returncode}, want 130\n{err}")
    if netns_of(proc.pid):
        failures.append(f"namespaces left: {netns_of(proc.pid)}")
    left = subprocess.run(["pgrep", "-af", run_dir], capture_output=True, text=True).stdout
    if left.strip():
        failures.append(f"processes left holding {run_dir}:\n{left}")
    if os.path.exists(run_dir):
        failures.append(f"run directory {run_dir} left")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
