"""The guide exactly as written (posteio-guide.md §2, §3, §6): everything should arrive.

Python twin of scenarios/catalog/guide-baseline.yaml.
"""

import mailsim

from _common import main


def build() -> mailsim.Scenario:
    s = mailsim.Scenario(
        "guide-baseline-py",
        extends="guide-baseline",
        teaches="Following the guide's DNS, rDNS and DKIM steps gets mail into every inbox.",
    )
    s.expect("outbound", "all", "inbox")
    s.expect("outbound", "mailtester", {"disposition": "inbox", "score": ">= 9"})
    s.expect("inbound", "all", "inbox")
    return s


if __name__ == "__main__":
    main(build)
