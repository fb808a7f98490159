#!/usr/bin/env python3
"""Writes the seed corpora of the auth fuzz targets from the DKIM conformance vectors
(../shared/vectors/dkim, see its README): real signed messages and their key records.
  <out>/message/<vector>        the message as it is (mailsim_message_fuzz)
  <out>/dkim/<vector>-<n>       "<key TXT>\n<message after 'DKIM-Signature: '>"
                                (mailsim_dkim_fuzz's input layout, see dkim_fuzz.cpp)
Vectors absent → only the small built-in seeds are written; the fuzzers still run.
Usage: make_seeds.py <vectors dir> <output dir>"""
import os
import sys

BUILTIN_MESSAGE = (
    "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: hi\r\n"
    " folded\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n"
    "\r\nbody line\r\n.\r\n")
BUILTIN_DKIM = (
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n"
    "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=test; h=from:to;\r\n"
    " bh=AAAA; b=AAAA\r\nFrom: a@example.com\r\nTo: b@example.org\r\n\r\nhi\r\n")
PREFIX = "DKIM-Signature: "


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(text.encode("utf-8", "surrogateescape"))


def main():
    vectors, out = sys.argv[1], sys.argv[2]
    write(os.path.join(out, "message", "builtin"), BUILTIN_MESSAGE)
    write(os.path.join(out, "dkim", "builtin"), BUILTIN_DKIM)
    for sub in ["rfc", "stalwart"]:
        folder = os.path.join(vectors, "dkim", sub)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".txt") or name in ("EXPECTED.txt", "README.txt"):
                continue
            with open(os.path.join(folder, name), encoding="utf-8",
                      errors="surrogateescape") as f:
                dns, _, message = f.read().partition("\n\n")
            if not message.startswith(PREFIX):
                continue
            stem = f"{sub}-{name[:-4]}"
            write(os.path.join(out, "message", stem), message)
            # One seed per published key: "<owner> <rdata>" → the rdata.
            for n, line in enumerate(l for l in dns.splitlines() if " " in l):
                key = line.split(" ", 1)[1]
                write(os.path.join(out, "dkim", f"{stem}-{n}"),
                      key + "\n" + message[len(PREFIX):])


if __name__ == "__main__":
    main()
