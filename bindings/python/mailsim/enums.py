"""String-valued enums: every enum mailsim returns compares equal to its name.

``outcome.disposition == "inbox"`` is True, ``f"{outcome.disposition}"`` is ``inbox``, and
editors still see the closed set of values. The names are those of the C++ enums (and of
the YAML scenario format).
"""

from __future__ import annotations

import enum


class _StrEnum(str, enum.Enum):
    """A str subclass whose str()/format() is the bare value (like 3.11's StrEnum)."""

    __str__ = str.__str__
    __format__ = str.__format__

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}>"


class Disposition(_StrEnum):
    """Where a message ended up, best first (harness/score/outcome.hpp)."""

    inbox = "inbox"
    spam = "spam"
    rejected = "rejected"
    deferred = "deferred"
    unreachable = "unreachable"
    not_sent = "not_sent"


class Direction(_StrEnum):
    """outbound: the setup under test sends to a persona; inbound: the persona sends to it."""

    outbound = "outbound"
    inbound = "inbound"


class FindingKind(_StrEnum):
    """The links of a cause chain, in causal order."""

    fact = "fact"
    check = "check"
    verdict = "verdict"
    fix = "fix"


class RrType(_StrEnum):
    """DNS record types the world model carries."""

    A = "A"
    NS = "NS"
    CNAME = "CNAME"
    SOA = "SOA"
    PTR = "PTR"
    MX = "MX"
    TXT = "TXT"
    AAAA = "AAAA"
    TLSA = "TLSA"
    SPF = "SPF"
    CAA = "CAA"


class HostRole(_StrEnum):
    """What a host is for in the story of a run."""

    sut = "sut"
    receiver = "receiver"
    sender = "sender"
    proxy = "proxy"
    dns = "dns"
    web = "web"


class DnsFaultKind(_StrEnum):
    """How the fake DNS misbehaves for a name."""

    servfail = "servfail"
    timeout = "timeout"
    truncate = "truncate"
    refused = "refused"


class BreakageStage(_StrEnum):
    """world: applied to the world as configured; publish: when the SUT publishes its DKIM key."""

    world = "world"
    publish = "publish"


__all__ = [
    "BreakageStage",
    "Direction",
    "Disposition",
    "DnsFaultKind",
    "FindingKind",
    "HostRole",
    "RrType",
]
