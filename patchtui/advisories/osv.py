"""OSV records -> advisories, and which pending update each one fixes. Pure.

The distributions publish their advisories as OSV records (osv.dev serves a
zip per ecosystem). A record names, per *ecosystem* (``Ubuntu:22.04:LTS``,
``Debian:12``, ``Alpine:v3.19``, ``Rocky Linux:9``, ``AlmaLinux:9``...), a
package and the version that fixes it. Each distribution says how bad it is
in its own words:

- Ubuntu: ``affected[].ecosystem_specific.ubuntu_priority`` (negligible, low,
  medium, high, critical); the source package's binaries are listed in
  ``ecosystem_specific.binaries`` (as ``{binary_name, binary_version}``
  objects, or in older records one ``{name: version}`` object);
- Debian: ``affected[].ecosystem_specific.urgency`` (the security tracker's
  unimportant, low, medium, high, "not yet assigned");
- AlmaLinux / Rocky (Red Hat's classification): the summary's first word,
  ``"Important: openssh security update"``, or ``database_specific.severity``;
- any record: a CVSS vector in ``severity[]``, whose v3 base score is computed
  here (a bare number is taken as the score).

A pending update is fixed by an advisory when the host's ecosystem and the
package (source name, or one of Ubuntu's listed binaries) match and
``installed < fixed <= candidate`` in the distribution's own version ordering
(:mod:`patchtui.drivers.versions`): the update is what closes the hole.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from patchtui.drivers.base import SEVERITIES, PendingUpdate
from patchtui.drivers.versions import Comparator, comparator

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")

# Distribution words -> patchtui's normalised SEVERITIES (dnf/zypper use the same scale).
_WORDS = {
    "critical": "critical",
    "high": "important",
    "important": "important",
    "medium": "moderate",
    "moderate": "moderate",
    "low": "low",
    "negligible": "low",
    "unimportant": "low",
}

_SEVERITY_ALIASES = {"high": "important", "medium": "moderate"}


def normalise_severity(word: str | None) -> str | None:
    """``high`` -> ``important`` etc.; None for words that say nothing ("not yet assigned")."""
    if not word:
        return None
    return _WORDS.get(word.strip().strip("*").lower())


def severity_choice(word: str) -> str:
    """A user's ``--severity`` word in patchtui's scale (``high`` means important)."""
    lowered = word.lower()
    return _SEVERITY_ALIASES.get(lowered, lowered)


def cvss_severity(score: float | None) -> str | None:
    """CVSS v3 qualitative rating in patchtui's words (high -> important)."""
    if score is None or score <= 0:
        return None
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "important"
    if score >= 4.0:
        return "moderate"
    return "low"


# ------------------------------------------------------------------ CVSS v3

_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}


def _roundup(value: float) -> float:
    # CVSS v3.1 Appendix A: round up to one decimal without float artefacts.
    integer = round(value * 100_000)
    if integer % 10_000 == 0:
        return integer / 100_000.0
    return (math.floor(integer / 10_000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float | None:
    """The base score of a ``CVSS:3.x/AV:../AC:..`` vector; None if it is not one."""
    parts = vector.strip().split("/")
    if not parts or not parts[0].startswith("CVSS:3"):
        return None
    metrics = dict(part.split(":", 1) for part in parts[1:] if ":" in part)
    try:
        scope_changed = metrics["S"] == "C"
        privileges = {"N": 0.85, "L": 0.68 if scope_changed else 0.62}
        privileges["H"] = 0.5 if scope_changed else 0.27
        impact_base = 1 - (
            (1 - _CIA[metrics["C"]]) * (1 - _CIA[metrics["I"]]) * (1 - _CIA[metrics["A"]])
        )
        exploitability = (
            8.22 * _AV[metrics["AV"]] * _AC[metrics["AC"]] * privileges[metrics["PR"]]
        ) * _UI[metrics["UI"]]
    except KeyError:
        return None
    if scope_changed:
        impact = 7.52 * (impact_base - 0.029) - 3.25 * (impact_base - 0.02) ** 15
    else:
        impact = 6.42 * impact_base
    if impact <= 0:
        return 0.0
    total = impact + exploitability
    return _roundup(min(1.08 * total if scope_changed else total, 10.0))


# ------------------------------------------------------------------ records


@dataclass(frozen=True)
class Affected:
    """One package of one ecosystem in a record, reduced to what matching needs."""

    ecosystem: str
    package: str
    ranges: tuple[tuple[str | None, str], ...]
    """(introduced or None, fixed): only ranges with a fix; an unfixed range fixes nothing."""
    binaries: tuple[tuple[str, str], ...] = ()
    """Ubuntu: (binary package, its fixed version)."""
    word: str | None = None
    """The distribution's own severity word for this package, as written."""


@dataclass(frozen=True)
class Advisory:
    id: str
    modified: str
    published: str | None
    ids: tuple[str, ...]
    """Advisory ids besides CVEs: the record's own id, USN-..., RHSA-..."""
    cves: tuple[str, ...]
    summary: str
    cvss_vector: str | None
    cvss_score: float | None
    word: str | None
    """Record-level word (a Red Hat-style summary, database_specific.severity)."""
    affected: tuple[Affected, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "modified": self.modified,
            "published": self.published,
            "ids": list(self.ids),
            "cves": list(self.cves),
            "summary": self.summary,
            "cvss_vector": self.cvss_vector,
            "cvss_score": self.cvss_score,
            "word": self.word,
            "affected": [_affected_to_json(a) for a in self.affected],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, affected: bool = True) -> Advisory:
        """From :meth:`to_json`'s form; ``affected=False`` skips the package list (the
        index reads it per ecosystem, only for the ecosystems a fleet has)."""
        return cls(
            id=str(data["id"]),
            modified=str(data["modified"]),
            published=data.get("published"),
            ids=tuple(data.get("ids") or ()),
            cves=tuple(data.get("cves") or ()),
            summary=str(data.get("summary") or ""),
            cvss_vector=data.get("cvss_vector"),
            cvss_score=data.get("cvss_score"),
            word=data.get("word"),
            affected=tuple(_affected_from_json(raw) for raw in data.get("affected") or ())
            if affected
            else (),
        )


def _affected_to_json(affected: Affected) -> list[Any]:
    # A binary fixed in the package's own fixed version (nearly always) is stored as its
    # bare name: Ubuntu lists a dozen binaries per package, and the file is read whole.
    last_fixed = affected.ranges[-1][1] if affected.ranges else None
    return [
        affected.ecosystem,
        affected.package,
        [list(r) for r in affected.ranges],
        [name if version == last_fixed else [name, version] for name, version in affected.binaries],
        affected.word,
    ]


def _affected_from_json(raw: Sequence[Any]) -> Affected:
    ecosystem, package, ranges, binaries, word = raw
    pairs = tuple((r[0], r[1]) for r in ranges)
    last_fixed = pairs[-1][1] if pairs else ""
    return Affected(
        ecosystem=ecosystem,
        package=package,
        ranges=pairs,
        binaries=tuple((b, last_fixed) if isinstance(b, str) else (b[0], b[1]) for b in binaries),
        word=word,
    )


class RecordError(ValueError):
    """A JSON document that is not an OSV record (no id, no modified date)."""


def _strings(value: object) -> list[str]:
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _binaries(specific: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for entry in specific.get("binaries") or ():
        if not isinstance(entry, Mapping):
            continue
        if "binary_name" in entry:
            name, version = entry.get("binary_name"), entry.get("binary_version")
            if isinstance(name, str) and isinstance(version, str):
                found.append((name, version))
        else:
            # Older Ubuntu records: one object mapping every binary to its version.
            found.extend(
                (name, version)
                for name, version in entry.items()
                if isinstance(name, str) and isinstance(version, str)
            )
    return tuple(found)


def _ranges(affected: Mapping[str, Any]) -> tuple[tuple[str | None, str], ...]:
    ranges: list[tuple[str | None, str]] = []
    for rng in affected.get("ranges") or ():
        if not isinstance(rng, Mapping) or rng.get("type") != "ECOSYSTEM":
            continue
        introduced: str | None = None
        for event in rng.get("events") or ():
            if not isinstance(event, Mapping):
                continue
            if isinstance(event.get("introduced"), str):
                introduced = None if event["introduced"] == "0" else event["introduced"]
            elif isinstance(event.get("fixed"), str):
                ranges.append((introduced, event["fixed"]))
    return tuple(ranges)


def _specific_word(affected: Mapping[str, Any]) -> str | None:
    for section in ("ecosystem_specific", "database_specific"):
        specific = affected.get(section)
        if isinstance(specific, Mapping):
            for key in ("ubuntu_priority", "urgency", "severity"):
                if isinstance(specific.get(key), str):
                    return str(specific[key])
    return None


_SUMMARY_WORD = re.compile(r"^(Critical|Important|Moderate|Low):", re.IGNORECASE)


def parse_record(record: object) -> Advisory:
    """One OSV record -> an Advisory. Raises RecordError if it is not an OSV record."""
    if not isinstance(record, Mapping):
        raise RecordError(f"not an OSV record: a JSON {type(record).__name__}, not an object")
    ident, modified = record.get("id"), record.get("modified")
    if not isinstance(ident, str) or not ident:
        raise RecordError("not an OSV record: no 'id'")
    if not isinstance(modified, str) or parse_time(modified) is None:
        raise RecordError(f"OSV record {ident}: no valid 'modified' date")
    names = [ident, *_strings(record.get("aliases")), *_strings(record.get("related"))]
    names += _strings(record.get("upstream"))
    cves = tuple(dict.fromkeys(name for name in names if _CVE.match(name)))
    ids = tuple(dict.fromkeys(name for name in names if not _CVE.match(name)))
    vector: str | None = None
    score: float | None = None
    for entry in record.get("severity") or ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("score"), str):
            continue
        text = entry["score"]
        if entry.get("type") == "CVSS_V3":
            vector, score = text, cvss3_base_score(text)
            break
        if vector is None:
            vector = text
            try:
                score = float(text)
            except ValueError:
                score = None
    summary = record.get("summary") if isinstance(record.get("summary"), str) else ""
    word = None
    summary_word = _SUMMARY_WORD.match(summary or "")
    if summary_word:
        word = summary_word.group(1)
    database = record.get("database_specific")
    if word is None and isinstance(database, Mapping) and isinstance(database.get("severity"), str):
        word = database["severity"]
    affected: list[Affected] = []
    for entry in record.get("affected") or ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("package"), Mapping):
            continue
        package = entry["package"]
        ecosystem, name = package.get("ecosystem"), package.get("name")
        if not isinstance(ecosystem, str) or not isinstance(name, str):
            continue
        specific = entry.get("ecosystem_specific")
        ranges = _ranges(entry)
        if not ranges:
            continue
        affected.append(
            Affected(
                ecosystem=ecosystem,
                package=name,
                ranges=ranges,
                binaries=_binaries(specific) if isinstance(specific, Mapping) else (),
                word=_specific_word(entry),
            )
        )
    published = record.get("published")
    return Advisory(
        id=ident,
        modified=modified,
        published=published if isinstance(published, str) else None,
        ids=ids,
        cves=cves,
        # The record's own one-line summary only: "details" can run to pages, and the
        # stored file is read whole by every report.
        summary=str(summary or "")[:200],
        cvss_vector=vector,
        cvss_score=score,
        word=word,
        affected=tuple(affected),
    )


def parse_time(text: str | None) -> float | None:
    """An RFC 3339 time (``2024-07-01T00:00:00Z``) as epoch seconds; None if it is not one."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


# ------------------------------------------------------------------ ecosystems


def host_ecosystems(os_id: str, os_version: str) -> tuple[str, ...]:
    """The OSV ecosystems whose records apply to a host, from its os-release ID/VERSION_ID."""
    os_id = (os_id or "").lower()
    version = (os_version or "").strip()
    major = version.split(".")[0]
    if os_id == "ubuntu" and version:
        year, _, month = version.partition(".")
        lts = month == "04" and year.isdigit() and int(year) % 2 == 0
        base = f"{version}:LTS" if lts else version
        # Ubuntu Pro fixes are published under their own ecosystem; they only match
        # when the host's candidate reaches the fixed version, i.e. Pro is enabled.
        return (f"Ubuntu:{base}", f"Ubuntu:Pro:{base}")
    if os_id == "debian" and major:
        return (f"Debian:{major}",)
    if os_id == "alpine" and version:
        return (f"Alpine:v{'.'.join(version.split('.')[:2])}",)
    if os_id == "rocky" and major:
        return (f"Rocky Linux:{major}",)
    if os_id == "almalinux" and major:
        return (f"AlmaLinux:{major}",)
    if os_id == "opensuse-leap" and version:
        return (f"openSUSE:Leap {version}",)
    if os_id in ("sles", "sled") and version:
        major_minor = version.split(".")
        service_pack = (
            f" SP{major_minor[1]}" if len(major_minor) > 1 and major_minor[1] != "0" else ""
        )
        product = "Server" if os_id == "sles" else "Desktop"
        return (f"SUSE:Linux Enterprise {product} {major_minor[0]}{service_pack}",)
    return ()


def ecosystem_family(ecosystem: str) -> str:
    """Which version ordering an ecosystem's versions follow."""
    head = ecosystem.split(":", 1)[0].lower()
    if head in ("ubuntu", "debian"):
        return "dpkg"
    if head == "alpine":
        return "apk"
    return "rpm"


# ------------------------------------------------------------------ index + matching


class Entry(NamedTuple):
    """One (package, fixed version) of an advisory in the index: a tuple, as an Ubuntu
    data set makes hundreds of thousands of them."""

    advisory: Advisory
    introduced: str | None
    fixed: str
    word: str | None


@dataclass(frozen=True)
class Match:
    """An advisory that a pending update fixes."""

    id: str
    ids: tuple[str, ...]
    cves: tuple[str, ...]
    severity: str
    """One of SEVERITIES: the distribution's word normalised, else from the CVSS score."""
    word: str | None
    """The distribution's own word as written (``high``, ``Important``), if any."""
    cvss_score: float | None
    published: str | None
    fixed: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ids": list(self.ids),
            "cves": list(self.cves),
            "severity": self.severity,
            "severity_word": self.word,
            "cvss": self.cvss_score,
            "published": self.published,
            "fixed": self.fixed,
        }


class AdvisoryIndex:
    """Advisories by (ecosystem, package name): a fleet's lookups are dictionary hits.

    Built lazily per ecosystem: a data set covers every release of a
    distribution, a fleet runs a few, and only those are ever turned into
    lookup tables (the rest stay in their stored form).
    """

    def __init__(self, advisories: Iterable[Advisory] = ()) -> None:
        self._records: Mapping[str, Mapping[str, Any]] = {}
        self._advisories: dict[str, Advisory] = {}
        self._waiting: dict[str, list[tuple[str, Affected | Sequence[Any]]]] = {}
        self._entries: dict[tuple[str, str], list[Entry]] = {}
        self._by_cve: dict[tuple[str, str], list[Entry]] = {}
        self._compare: dict[str, Comparator] = {}
        # A fleet asks the same questions over and over (identical hosts, same versions).
        self._answers: dict[tuple[Any, ...], list[Match]] = {}
        self._matches: dict[int, Match] = {}
        self.count = 0
        for advisory in advisories:
            self.count += 1
            self._advisories[advisory.id] = advisory
            for affected in advisory.affected:
                self._waiting.setdefault(affected.ecosystem, []).append((advisory.id, affected))

    @classmethod
    def from_records(cls, records: Mapping[str, Mapping[str, Any]]) -> AdvisoryIndex:
        """From the stored form (:meth:`Advisory.to_json` by id), without parsing it all."""
        index = cls()
        index._records = records
        index.count = len(records)
        waiting = index._waiting
        for ident, record in records.items():
            for raw in record.get("affected") or ():
                waiting.setdefault(raw[0], []).append((ident, raw))
        return index

    def _advisory(self, ident: str) -> Advisory:
        found = self._advisories.get(ident)
        if found is None:
            found = Advisory.from_json(self._records[ident], affected=False)
            self._advisories[ident] = found
        return found

    def _comparator(self, ecosystem: str) -> Comparator:
        compare = self._compare.get(ecosystem)
        if compare is None:
            # First use of this ecosystem: build its tables now.
            compare = self._compare[ecosystem] = comparator(ecosystem_family(ecosystem))
            for ident, raw in self._waiting.pop(ecosystem, ()):
                affected = raw if isinstance(raw, Affected) else _affected_from_json(raw)
                self._add_affected(self._advisory(ident), affected)
        return compare

    def _add_affected(self, advisory: Advisory, affected: Affected) -> None:
        word = affected.word or advisory.word
        ecosystem = affected.ecosystem
        for introduced, fixed in affected.ranges:
            entry = Entry(advisory, introduced, fixed, word)
            self._entries.setdefault((ecosystem, affected.package), []).append(entry)
            for cve in advisory.cves:
                self._by_cve.setdefault((ecosystem, cve), []).append(entry)
            for binary, binary_fixed in affected.binaries:
                if binary != affected.package:
                    self._entries.setdefault((ecosystem, binary), []).append(
                        Entry(advisory, introduced, binary_fixed, word)
                    )

    def match(
        self,
        ecosystems: Sequence[str],
        name: str,
        installed: str | None,
        candidate: str,
        cves: Sequence[str] = (),
    ) -> list[Match]:
        """The advisories that updating ``name`` from ``installed`` to ``candidate`` fixes.

        By package name (the record's source name, or one of Ubuntu's listed
        binaries), and by ``cves``: the CVE ids the update's own changelog names
        (apt). Debian's records name only the source package (``openssh``) while
        apt upgrades binaries (``openssh-server``); a record for a CVE the update
        says it fixes, whose fixed version lies between installed and candidate,
        is that update's advisory.
        """
        if not installed:
            # A new package (a dependency pulled in) fixes nothing that was installed.
            return []
        key = (tuple(ecosystems), name, installed, candidate, tuple(cves))
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = self._match_uncached(
                ecosystems, name, installed, candidate, cves
            )
        return list(answer)

    def _match_uncached(
        self,
        ecosystems: Sequence[str],
        name: str,
        installed: str,
        candidate: str,
        cves: Sequence[str],
    ) -> list[Match]:
        found: dict[str, Match] = {}
        for ecosystem in ecosystems:
            compare = self._comparator(ecosystem)
            candidates = self._entries.get((ecosystem, name), [])
            if cves:
                linked = [e for cve in cves for e in self._by_cve.get((ecosystem, cve), ())]
                candidates = [*candidates, *linked]
            for entry in candidates:
                if entry.advisory.id in found:
                    continue
                if entry.introduced is not None and compare(installed, entry.introduced) < 0:
                    continue
                if compare(installed, entry.fixed) < 0 <= compare(candidate, entry.fixed):
                    match = self._matches.get(id(entry))
                    if match is None:
                        match = self._matches[id(entry)] = _match(entry)
                    found[entry.advisory.id] = match
        return sorted(found.values(), key=lambda m: (SEVERITIES.index(m.severity), m.id))


def _match(entry: Entry) -> Match:
    advisory = entry.advisory
    severity = normalise_severity(entry.word) or cvss_severity(advisory.cvss_score) or "unknown"
    return Match(
        id=advisory.id,
        ids=advisory.ids,
        cves=advisory.cves,
        severity=severity,
        word=entry.word,
        cvss_score=advisory.cvss_score,
        published=advisory.published,
        fixed=entry.fixed,
    )


def annotate_updates(
    updates: Sequence[PendingUpdate], os_id: str, os_version: str, index: AdvisoryIndex
) -> list[PendingUpdate]:
    """A scan's pending updates with OSV matches applied (ids, security, worst severity)."""
    ecosystems = host_ecosystems(os_id, os_version)
    if not ecosystems:
        return list(updates)
    result: list[PendingUpdate] = []
    for update in updates:
        matches = index.match(
            ecosystems, update.name, update.installed, update.candidate, update.cves
        )
        if not matches:
            result.append(update)
            continue
        cves = list(update.cves)
        ids = list(update.advisories)
        for match in matches:
            cves += [cve for cve in match.cves if cve not in cves]
            ids += [ident for ident in match.ids if ident not in ids]
        ranks = [SEVERITIES.index(match.severity) for match in matches]
        if update.severity in SEVERITIES:
            ranks.append(SEVERITIES.index(update.severity))
        result.append(
            dataclasses.replace(
                update,
                security=True,
                severity=SEVERITIES[min(ranks)],
                cves=tuple(cves),
                advisories=tuple(ids),
            )
        )
    return result


def annotate_states(
    states: Iterable[Mapping[str, Any]], index: AdvisoryIndex
) -> list[dict[str, Any]]:
    """Host states (the store's hot state) with every pending update's OSV matches added.

    A matched update gets ``osv`` (the matches), its ``cves`` and ``advisories``
    extended, ``security`` set, ``severity`` raised to the worst match, and
    ``published`` (epoch seconds of the earliest matched advisory). The input
    is not changed. Hosts without facts (never scanned) pass through unchanged.
    """
    annotated: list[dict[str, Any]] = []
    for state in states:
        facts = state.get("facts")
        copy = dict(state)
        if isinstance(facts, Mapping):
            ecosystems = host_ecosystems(
                str(facts.get("os_id") or ""), str(facts.get("os_version") or "")
            )
            if ecosystems:
                copy["pending"] = [
                    _annotate_update(update, ecosystems, index)
                    if isinstance(update, Mapping)
                    else update
                    for update in state.get("pending") or ()
                ]
        annotated.append(copy)
    return annotated


def _annotate_update(
    update: Mapping[str, Any], ecosystems: Sequence[str], index: AdvisoryIndex
) -> Any:
    name, candidate, installed = (
        update.get("name"),
        update.get("candidate"),
        update.get("installed"),
    )
    if not isinstance(name, str) or not isinstance(candidate, str):
        return update
    cves = [str(cve) for cve in update.get("cves") or ()]
    matches = index.match(
        ecosystems, name, installed if isinstance(installed, str) else None, candidate, cves
    )
    if not matches:
        return update
    copy = dict(update)
    copy["osv"] = [match.to_json() for match in matches]
    copy["security"] = True
    cves = list(update.get("cves") or ())
    advisories = list(update.get("advisories") or ())
    for match in matches:
        cves += [cve for cve in match.cves if cve not in cves]
        advisories += [ident for ident in match.ids if ident not in advisories]
    copy["cves"], copy["advisories"] = cves, advisories
    current = update.get("severity")
    ranks = [SEVERITIES.index(m.severity) for m in matches]
    if isinstance(current, str) and current in SEVERITIES:
        ranks.append(SEVERITIES.index(current))
    copy["severity"] = SEVERITIES[min(ranks)]
    published = [parse_time(m.published) for m in matches]
    known = [moment for moment in published if moment is not None]
    if known:
        copy["published"] = min(known)
    return copy
