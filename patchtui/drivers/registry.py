"""Map a package-manager family name to its driver.

apt and apk live here; dnf/yum and zypper are imported lazily by module name
so this module works (and its families are listed) whether or not those
drivers are installed.
"""

from __future__ import annotations

import importlib

from patchtui.drivers.base import Driver, DriverError

_DRIVERS: dict[str, tuple[str, str]] = {
    "apt": ("patchtui.drivers.apt", "AptDriver"),
    "dnf": ("patchtui.drivers.dnf", "DnfDriver"),
    "yum": ("patchtui.drivers.dnf", "YumDriver"),
    "zypper": ("patchtui.drivers.zypper", "ZypperDriver"),
    "apk": ("patchtui.drivers.apk", "ApkDriver"),
}

FAMILIES: tuple[str, ...] = tuple(_DRIVERS)


def driver_for(family: str) -> Driver:
    """A new driver for ``family`` (apt, dnf, yum, zypper, apk).

    Raises ``DriverError('unsupported')`` for an unknown family or a driver
    module that is not available.
    """
    try:
        module_name, class_name = _DRIVERS[family]
    except KeyError:
        known = ", ".join(FAMILIES)
        raise DriverError(
            "unsupported", f"unknown package manager {family!r} (known: {known})"
        ) from None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # Only a missing driver module is "unsupported"; a driver that fails to
        # import because of its own broken import must surface as the bug it is.
        if error.name != module_name:
            raise
        raise DriverError(
            "unsupported", f"the {family} driver is not available ({module_name} is missing)"
        ) from error
    driver_class = getattr(module, class_name, None)
    if driver_class is None:
        raise DriverError("unsupported", f"{module_name} has no {class_name}")
    driver: Driver = driver_class()
    return driver
