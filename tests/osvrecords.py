"""OSV records the tests write themselves, in the shape of osv.dev's."""

from __future__ import annotations

from typing import Any

# Written here, not copied: no public Debian/Alpine OSV record could be fetched (see
# tests/data/osv/README.md). The shape follows osv.dev's Debian and Alpine records.
DEBIAN_RECORD: dict[str, Any] = {
    "id": "DEBIAN-CVE-2024-6387",
    "modified": "2024-07-02T00:00:00Z",
    "published": "2024-07-01T13:15:00Z",
    "upstream": ["CVE-2024-6387"],
    "affected": [
        {
            "package": {"ecosystem": "Debian:12", "name": "openssh"},
            "ranges": [
                {
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": "1:9.2p1-2+deb12u3"}],
                }
            ],
            "ecosystem_specific": {"urgency": "high"},
        }
    ],
}
ALPINE_RECORD: dict[str, Any] = {
    "id": "ALPINE-CVE-2024-6387",
    "modified": "2024-07-02T00:00:00Z",
    "upstream": ["CVE-2024-6387"],
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [
        {
            "package": {"ecosystem": "Alpine:v3.20", "name": "openssh"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.7_p1-r4"}]}
            ],
        }
    ],
}
