"""Where does a truncated DKIM key start to matter? Cuts the published key at a range of
lengths and prints, per persona, where delivery changes.

A 2048-bit RSA key's TXT record is ~410 characters; a panel that keeps only the first N
characters breaks the key whenever N is shorter than the record (RFC 6376 §3.6.1: p= must be
the whole base64 key). Each length is one run; the output lists the lengths at which any
persona's disposition (or the mailtester mark) differs from the previous length.

    PYTHONPATH=build/release/bindings /usr/bin/python3 scenarios/examples/dkim_truncation_sweep.py [LENGTH ...]
"""

from __future__ import annotations

import sys
from typing import Dict, List, Sequence, Tuple

import mailsim

DEFAULT_LENGTHS = [64, 128, 200, 255, 300, 350, 400, 420, 450, 500, 1000]


def cell(outcome: mailsim.Outcome) -> str:
    if outcome.score is not None:
        return f"{outcome.disposition} {outcome.score:.1f}"
    return str(outcome.disposition)


def sweep(lengths: Sequence[int], personas: Sequence[str] = ()) -> List[Tuple[int, Dict[str, str]]]:
    """One run per length (outbound only); returns [(length, {persona: cell})]."""
    rows = []
    for at in lengths:
        s = mailsim.Scenario(f"dkim-truncate-{at}", extends="guide-baseline")
        s.break_("dkim.truncate", at=at)
        s.probes.inbound = []
        result = mailsim.run(s, personas=list(personas))
        if result.error:
            raise RuntimeError(f"dkim.truncate at={at}: {result.error}")
        rows.append((at, {o.persona: cell(o) for o in result.outcomes}))
    return rows


def changes(rows: List[Tuple[int, Dict[str, str]]]) -> List[str]:
    """Lines 'at N: persona before → after' for each length where a cell changes."""
    out = []
    for (_, before), (at, after) in zip(rows, rows[1:]):
        for persona, now in after.items():
            if before.get(persona) != now:
                out.append(f"at {at}: {persona} {before.get(persona)} → {now}")
    return out


def main(argv: Sequence[str]) -> int:
    lengths = [int(a) for a in argv] or DEFAULT_LENGTHS
    rows = sweep(lengths)
    personas = list(rows[0][1]) if rows else []
    print("at".ljust(6) + "".join(p.ljust(16) for p in personas))
    for at, cells in rows:
        print(str(at).ljust(6) + "".join(cells.get(p, "—").ljust(16) for p in personas))
    print()
    found = changes(rows)
    print("\n".join(found) if found else "no change in delivery across these lengths")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
