"""What every driver shares: the pin syntax, and rollbacks only to exact versions."""

from __future__ import annotations

import pytest

from patchtui.drivers.base import DriverError, PackageTarget, pin_words
from patchtui.drivers.registry import FAMILIES, driver_for


def test_pin_words_quote_and_leave_unpinned_names_bare() -> None:
    targets = [PackageTarget("openssl", "1:3.0.13-1~deb12u1"), PackageTarget("curl")]
    assert pin_words(targets) == "'openssl=1:3.0.13-1~deb12u1' curl"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_driver_refuses_a_rollback_without_exact_versions(family: str) -> None:
    driver = driver_for(family)
    for targets in ([], [PackageTarget("openssl")]):
        with pytest.raises(DriverError, match="exact version"):
            driver.downgrade_command(targets)
    assert "openssl" in driver.downgrade_command([PackageTarget("openssl", "3.0.11-1")])
