"""patchtui: patch fleets of Linux hosts over SSH from a terminal."""

from __future__ import annotations

import warnings

__version__ = "0.1.0"


def _silence_asyncssh_dsa_warnings() -> None:
    """Keep cryptography's DSA deprecation notices off the user's stderr.

    asyncssh still imports cryptography's DSA classes at import time, and cryptography
    46+ warns on each of those imports. patchtui never offers DSA keys, so the notice
    says nothing about what the user is doing; it only buries patchtui's own one-line
    errors. Exactly that class and message are filtered, before any patchtui module
    imports asyncssh (every one of them imports this package first).
    """
    try:
        from cryptography.utils import CryptographyDeprecationWarning
    except ImportError:  # an older cryptography: nothing to silence
        return
    warnings.filterwarnings(
        "ignore", message=r"DSA is deprecated", category=CryptographyDeprecationWarning
    )


_silence_asyncssh_dsa_warnings()
