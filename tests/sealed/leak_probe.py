"""Negative control for the sealed-world test: a program that does exactly what a leaking run
would do, so the test can show trace_check.py flags each of them.

It refuses to run unless its network namespace has no interface but `lo` (run it under
`unshare -n`): there, every non-loopback address is unreachable (connect fails with
ENETUNREACH / EADDRNOTAVAIL), so nothing ever leaves the machine. The addresses are
documentation ranges anyway: 192.0.2.0/24 (TEST-NET-1, RFC 5737) and 2001:db8::/32
(RFC 3849).
"""
import errno
import socket
import sys


def attempt(what, fn):
    try:
        fn()
        print(f"{what}: no error")
    except OSError as e:
        print(f"{what}: {errno.errorcode.get(e.errno, e.errno)}")


def main() -> int:
    names = sorted(name for _, name in socket.if_nameindex())
    if names != ["lo"]:
        print(f"leak_probe: refusing to run outside an empty network namespace (interfaces: "
              f"{names}); run it under `unshare -n`", file=sys.stderr)
        return 3

    def tcp(family, addr):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(addr)

    def udp(addr):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01", addr)

    def bind_any():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("0.0.0.0", 0))

    attempt("connect 192.0.2.1:25", lambda: tcp(socket.AF_INET, ("192.0.2.1", 25)))
    attempt("connect [2001:db8::1]:25", lambda: tcp(socket.AF_INET6, ("2001:db8::1", 25)))
    attempt("sendto 192.0.2.53:53", lambda: udp(("192.0.2.53", 53)))
    # The systemd-resolved stub address: loopback, but not a host of any world.
    attempt("connect 127.0.0.53:53", lambda: tcp(socket.AF_INET, ("127.0.0.53", 53)))
    attempt("bind 0.0.0.0:0", bind_any)
    # A real lookup: glibc reads /etc/resolv.conf and queries its nameserver (unreachable here).
    attempt("getaddrinfo", lambda: socket.getaddrinfo("leak-probe.invalid", 25))
    print("probe done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
