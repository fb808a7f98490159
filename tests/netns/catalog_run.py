#!/usr/bin/env python3
"""The scenario catalog on a real MTA in the netns fabric (issue 8).

    catalog_run.py MAILSIM SUT [--jobs N]

Runs `mailsim run --sut SUT --fabric netns --json FILE` over the whole catalog and asserts
that every expectation holds, except the legitimate differences listed in KNOWN_DIFFERENCES
(each one is explained in docs/real-mtas.md — they are findings, not bugs). An allowed
difference that no longer happens fails too, so the list stays true. Prints each scenario's
wall time. Afterwards no namespace of the run may be left. Exits 77 (ctest SKIP) when not
root or when the MTA is not installed.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

# (sut, scenario, direction, persona) → why the real MTA legitimately differs.
KNOWN_DIFFERENCES = {
    ("postfix", "missing-message-id-date", "outbound", "gmail"):
        "Postfix's cleanup(8) adds the missing Message-ID: and Date: (always_add_missing_headers)",
    ("postfix", "missing-message-id-date", "outbound", "mailtester"):
        "Postfix's cleanup(8) adds the missing Message-ID: and Date:",
    ("haraka", "missing-message-id-date", "outbound", "gmail"):
        "Haraka adds the missing Message-ID: and Date: to mail it relays",
    ("haraka", "missing-message-id-date", "outbound", "mailtester"):
        "Haraka adds the missing Message-ID: and Date: to mail it relays",
}


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    mailsim, sut = sys.argv[1], sys.argv[2]
    jobs = sys.argv[sys.argv.index("--jobs") + 1] if "--jobs" in sys.argv else "2"
    if os.geteuid() != 0:
        skip("the netns fabric needs root (CI runs as root)")
    for tool in ("ip", "nft"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            skip(f"`{tool}` missing (scripts/bootstrap)")
    if sut == "postfix" and not (os.access("/usr/sbin/postfix", os.X_OK)
                                 and os.access("/usr/sbin/opendkim", os.X_OK)):
        skip("postfix/opendkim not installed (scripts/bootstrap)")
    if sut == "haraka":
        if not shutil.which("node"):
            skip("node not installed (scripts/bootstrap)")
        src = os.environ.get("MAILSIM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
        if not os.path.exists(os.path.join(src, "third_party/haraka/node_modules/Haraka/bin/haraka")) \
                and not os.environ.get("MAILSIM_HARAKA_DIR"):
            skip("Haraka not installed (scripts/bootstrap runs npm ci in third_party/haraka)")

    with tempfile.TemporaryDirectory(prefix=f"mailsim-catalog-{sut}-") as tmp:
        out = os.path.join(tmp, "run.json")
        started = time.monotonic()
        proc = subprocess.Popen([mailsim, "run", "--sut", sut, "--fabric", "netns", "--jobs", jobs,
                                 "--quiet", "--json", out], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            stdout_text, stderr_text = proc.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        wall = time.monotonic() - started
        print(stdout_text)
        if proc.returncode not in (0, 1):
            print(stderr_text)
            print(f"FAIL: mailsim exited {proc.returncode}")
            return 1
        with open(out) as f:
            report = json.load(f)
        # The run's namespaces carry its pid; none may survive it. (Only this run's: another
        # mailsim on the machine may have its own namespaces up right now.)
        left = [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                          text=True).stdout.split()
                if n.startswith(f"mailsim-p{proc.pid}-")]
    failures, seen = [], set()
    print(f"{'scenario':28} {'wall s':>7}  unmet")
    for s in report["scenarios"]:
        unmet = []
        if s.get("error"):
            failures.append(f"{s['name']}: error: {s['error']}")
        for e in s["expectations"]:
            if e["met"]:
                continue
            key = (sut, s["name"], e["direction"], e["persona"])
            if key in KNOWN_DIFFERENCES:
                seen.add(key)
                unmet.append(f"{e['persona']} (known: {KNOWN_DIFFERENCES[key]})")
            else:
                unmet.append(f"{e['persona']} UNEXPECTED")
                failures.append(f"{s['name']}: {e['why']}")
        print(f"{s['name']:28} {s['elapsed_ms'] / 1000:7.1f}  {'; '.join(unmet)}")
    for key, why in KNOWN_DIFFERENCES.items():
        if key[0] == sut and key not in seen:
            failures.append(f"{key[1]} {key[2]}/{key[3]}: listed as a known difference ({why}) "
                            f"but the expectation now holds — update the list and docs/real-mtas.md")
    if left:
        failures.append(f"namespaces left behind: {left}")
    print(f"total wall time {wall:.1f} s for {len(report['scenarios'])} scenarios (--jobs {jobs})")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
