"""Reads an `strace -f` log and says every way a traced run reached outside the sealed world.

DESIGN.md "Sealed world": a run never opens a socket to an address outside the fabric, nor
queries a real resolver. The loopback fabric puts every world host on a 127.N.x.y alias, so
in a trace of `mailsim run` that means:

* every AF_INET address given to connect/bind/sendto/sendmsg/sendmmsg is in 127.0.0.0/8 and
  every AF_INET6 one is ::1 (or ::ffff:127.x.y.z); AF_UNIX, AF_NETLINK and AF_UNSPEC (a UDP
  disconnect) carry no network address; any other family is a leak;
* every connect() dials an address:port that the run itself bound — a world host's listener.
  This is what keeps DNS inside the world: the FakeDnsServer is one of those listeners, so a
  query to the system's stub (127.0.0.53:53) or to /etc/resolv.conf's nameserver is flagged;
* nothing sends to port 53 that the run did not bind (RFC 1035 §4.2: DNS is port 53);
* the system resolver's configuration (/etc/resolv.conf, /etc/hosts, /etc/nsswitch.conf,
  /etc/gai.conf, systemd-resolved's files) is not opened by any lookup: glibc reads it on the
  first getaddrinfo()/res_query(). One reader is known and harmless: libopendkim's
  dkim_init() calls res_ninit() for its default resolver, which only parses the file; mailsim
  replaces the key lookup (dkim_set_key_lookup, fakes/auth/src/dkim.cpp) so that resolver
  never sends, and the network rules above prove no query left. To tell such a reader from
  a lookup the opens are traced a second time with stacks (strace -k), and each open of a
  resolver file must have an allowed frame (ALLOWED_RESOLVER_READERS) in its stack.

The network trace is taken with
  strace -f -qq -e signal=none -e trace=connect,bind,sendto,sendmsg,sendmmsg -o LOG
and the opens with
  strace -f -qq -k -e signal=none -e trace=open,openat -o LOG
(stacks for every socket call would make the run ten times slower).
Usage as a program: python3 trace_check.py LOG (exit 1 and one line per violation).
"""
from __future__ import annotations

import ipaddress
import re
import sys
from dataclasses import dataclass, field

NET_SYSCALLS = "connect,bind,sendto,sendmsg,sendmmsg"
OPEN_SYSCALLS = "open,openat"
# Stack frames (strace -k) under which reading the resolver's configuration is not a lookup.
ALLOWED_RESOLVER_READERS = ("libopendkim.so", )

RESOLVER_FILES = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/host.conf",
    "/run/systemd/resolve/",
)

# "1234 connect(3, {...}" or "1234 <... sendmmsg resumed>[{...}"; strace -f prefixes the pid.
_CALL = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()")
_FAMILY = re.compile(r"sa_family=(AF_\w+)")
_INET = re.compile(r'sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(
    r'sa_family=AF_INET6, sin6_port=htons\((\d+)\),.*?inet_pton\(AF_INET6, "([^"]+)"')
_OPEN_PATH = re.compile(r'^\d+\s+(?:open|openat)\((?:AT_FDCWD|\d+), "([^"]*)"|^\d+\s+open\("([^"]*)"')
_LOCAL_FAMILIES = {"AF_UNIX", "AF_LOCAL", "AF_NETLINK", "AF_UNSPEC"}


@dataclass
class Violation:
    line: int
    syscall: str
    what: str
    text: str

    def __str__(self) -> str:
        return f"trace line {self.line}: {self.syscall}: {self.what}\n    {self.text.strip()[:300]}"


@dataclass
class TraceSummary:
    violations: list[Violation] = field(default_factory=list)
    connects: int = 0           # connect() calls with an AF_INET/AF_INET6 address
    binds: int = 0
    sends_with_address: int = 0
    opens: int = 0
    resolver_reads_allowed: int = 0  # resolver files read under ALLOWED_RESOLVER_READERS
    bound: set[tuple[str, int]] = field(default_factory=set)

    def ok(self) -> bool:
        return not self.violations

    def report(self) -> str:
        return "\n".join(str(v) for v in self.violations)


def _is_loopback(addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # 127.0.0.0/8 (RFC 1122 §3.2.1.3) or ::1 (RFC 4291 §2.5.3); is_loopback says exactly that.
    return ip.is_loopback


def _addresses(line: str) -> list[tuple[str, int]]:
    out = [(a, int(p)) for p, a in _INET.findall(line)]
    out += [(a, int(p)) for p, a in _INET6.findall(line)]
    return out


def check_lines(lines, allowed_readers=ALLOWED_RESOLVER_READERS) -> TraceSummary:
    """Every violation in an strace log; allowed_readers: stack frame substrings under
    which opening a resolver file is only reading configuration (needs strace -k)."""
    s = TraceSummary()
    parsed: list[tuple[int, str, str]] = []
    stacks: dict[int, list[str]] = {}  # syscall line number -> its " > frame" lines
    last = 0
    for n, line in enumerate(lines, 1):
        if line.startswith(" > ") and last:
            stacks.setdefault(last, []).append(line)
            continue
        m = _CALL.match(line)
        if not m:
            continue
        last = n
        parsed.append((n, m.group(2) or m.group(3), line))
    # First pass: the run's own listeners (bind is traced before any connect to it).
    for _, call, line in parsed:
        if call == "bind" and "= -1" not in line:
            s.bound.update(_addresses(line))
    for n, call, line in parsed:
        if call in ("open", "openat"):
            s.opens += 1
            pm = _OPEN_PATH.match(line)
            path = (pm.group(1) or pm.group(2)) if pm else ""
            for bad in RESOLVER_FILES:
                if not (path == bad or (bad.endswith("/") and path.startswith(bad))):
                    continue
                stack = stacks.get(n, [])
                if any(a in frame for frame in stack for a in allowed_readers):
                    s.resolver_reads_allowed += 1
                    continue
                where = "; stack: " + " | ".join(f.strip()[2:80] for f in stack[:8]) if stack \
                    else " (no stack: trace with strace -k to tell a config read from a lookup)"
                s.violations.append(Violation(
                    n, call, f"opened {path}: the system resolver was consulted{where}", line))
            continue
        for fam in _FAMILY.findall(line):
            if fam not in _LOCAL_FAMILIES and fam not in ("AF_INET", "AF_INET6"):
                s.violations.append(Violation(n, call, f"socket address family {fam}", line))
        addrs = _addresses(line)
        if call == "connect":
            s.connects += len(addrs)
        elif call == "bind":
            s.binds += len(addrs)
        else:
            s.sends_with_address += len(addrs)
        for addr, port in addrs:
            if not _is_loopback(addr):
                s.violations.append(Violation(
                    n, call, f"{addr} port {port} is outside 127.0.0.0/8 and ::1", line))
                continue
            if call == "connect" and (addr, port) not in s.bound:
                s.violations.append(Violation(
                    n, call, f"dials {addr}:{port}, which no host of the run listens on", line))
            elif call != "bind" and port == 53 and (addr, port) not in s.bound:
                s.violations.append(Violation(
                    n, call, f"DNS to {addr}:53, which is not the run's FakeDnsServer", line))
    return s


def check_file(path: str) -> TraceSummary:
    with open(path, encoding="utf-8", errors="replace") as f:
        return check_lines(f)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} STRACE_LOG", file=sys.stderr)
        return 2
    s = check_file(argv[1])
    print(f"{s.connects} connects, {s.binds} binds, {s.sends_with_address} addressed sends, "
          f"{s.opens} opens ({s.resolver_reads_allowed} allowed resolver config reads), "
          f"{len(s.violations)} violation(s)")
    if s.violations:
        print(s.report())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
