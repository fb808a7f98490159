#!/usr/bin/env python3
"""Writes the seed corpus of mailsim_dns_wire_fuzz: well-formed DNS queries (RFC 1035 §4.1)
for the names of the fuzz world, with and without EDNS(0) (RFC 6891 §6.1.2), plus the
odd-but-legal cases the handler has branches for. libFuzzer mutates from these instead of
having to discover the header layout and label encoding from nothing.
Usage: make_seeds.py <output dir>"""
import os
import struct
import sys

# RR types by number (RFC 1035 §3.2.2, RFC 3596, RFC 6891, RFC 1995/5936).
A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, OPT, IXFR, AXFR, ANY = 1, 2, 5, 6, 12, 15, 16, 28, 41, 251, 252, 255


def qname(name):
    out = b""
    for label in name.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(qid, name, qtype, *, flags=0x0100, edns=None, qdcount=1, opcode=0):
    # flags: RD=1 by default; opcode goes in bits 11-14 (RFC 1035 §4.1.1).
    flags |= opcode << 11
    arcount = 1 if edns is not None else 0
    msg = struct.pack(">HHHHHH", qid, flags, qdcount, 0, 0, arcount)
    msg += qname(name) + struct.pack(">HH", qtype, 1)
    if edns is not None:
        size, version = edns
        # OPT RR: root owner, TYPE 41, CLASS = UDP size, TTL = ext-rcode|version|DO|Z, RDLEN 0.
        msg += b"\0" + struct.pack(">HHBBHH", OPT, size, 0, version, 0x8000, 0)
    return msg


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {}
    qid = 0x1000
    for name in ["example.com", "www.example.com", "a.example.com", "big.example.com",
                 "sf.example.com", "tc.example.com", "to.example.com",
                 "nope.example.com", "outside.test", ""]:
        for qtype in [A, AAAA, MX, TXT, CNAME, SOA, NS, PTR, ANY]:
            qid += 1
            seeds[f"q-{name or 'root'}-{qtype}"] = query(qid, name, qtype)
        seeds[f"edns-{name or 'root'}-txt"] = query(qid + 1, name, TXT, edns=(1232, 0))
    seeds["edns-small"] = query(0x2001, "big.example.com", TXT, edns=(100, 0))
    seeds["edns-huge"] = query(0x2002, "big.example.com", TXT, edns=(65535, 0))
    seeds["edns-badvers"] = query(0x2003, "example.com", A, edns=(4096, 1))
    seeds["axfr"] = query(0x2004, "example.com", AXFR)
    seeds["ixfr"] = query(0x2005, "example.com", IXFR)
    seeds["notify-opcode"] = query(0x2006, "example.com", SOA, opcode=4)
    seeds["two-questions"] = query(0x2007, "example.com", A, qdcount=2)
    seeds["response-bit"] = query(0x2008, "example.com", A, flags=0x8000)
    seeds["header-only"] = struct.pack(">HHHHHH", 0x2009, 0x0100, 1, 0, 0, 0)
    # A compression pointer in the question (legal to send, RFC 1035 §4.1.4) pointing at
    # itself: a loop the parser must refuse rather than follow.
    seeds["pointer-loop"] = struct.pack(">HHHHHH", 0x200a, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + \
        struct.pack(">HH", A, 1)
    for key, data in seeds.items():
        with open(os.path.join(out, key.replace(".", "_")), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
