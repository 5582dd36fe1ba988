"""Security advisories from the distributions' OSV data: parse, store, match pending updates."""
