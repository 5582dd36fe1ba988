"""Property-based fuzzing of every loader of user input (issue 13, item 5).

For inventory YAML, Ansible INI, dynamic-inventory scripts (a script printing
fuzzed JSON), compliance policies, config.toml and the baselines file: any
input either loads or raises ``PatchtuiError`` (which the CLI prints as one
line, exit 2) - never another exception - and each input is handled within
``PER_INPUT_SECONDS``. Inputs are raw text, documents generated in each
format's shape, and real sample files with random edits and hostile pieces
spliced in (alias bombs, 5,000-digit numbers, NUL, deep nesting, huge ranges).

How many inputs each loader got, and how many loaded or were refused, is
printed at the end of the run (``tests/fuzzstats.py``, ``conftest.py``).
Hypothesis keeps no example database here (``database=None``): CI runs are
fresh and the tree stays clean.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from fuzzstats import record
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from patchtui.baselines.store import BaselineBook
from patchtui.compliance.policy import parse_policy
from patchtui.config import parse_config
from patchtui.errors import PatchtuiError
from patchtui.inventory.loader import LAYER_KEYS, load_inventory

DATA = Path(__file__).resolve().parent.parent / "data"
PER_INPUT_SECONDS = 5.0
"""Generous for a shared CI machine; a bounded loader takes milliseconds."""

FUZZ = settings(
    max_examples=int(os.environ.get("PATCHTUI_FUZZ_EXAMPLES", "150")),
    deadline=None,  # timed by attempt() instead: one slow machine hiccup must not fail CI
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the autouse isolated HOME does not vary
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

ALPHABET = st.sampled_from(
    [*"[]{}:,-&*!|>'\"#%@`?=;/.~ \t\n0123456789abcxyzAZ_", "\x00", "\x07", "\x1b", "é", "\u2028"]
)
HOSTILE = [
    "9" * 5000,
    "[" * 300,
    "{" * 300,
    "2030-13-45",
    "~nosuchuser/k",
    "web[0:99999999]",
    "web[1:3]",
    "db-[a:z]",
    "&a",
    "*a",
    "<<: *a",
    "\x00",
    "\x07",
    "\x1b]0;title\x07",
    "!!python/object/apply:os.system ['true']",
    "!!binary AAAA",
    ".inf",
    ".nan",
    "-1",
    "0x1F",
    "1e999",
    "null",
    "yes",
    "- ",
    "? ",
    ": ",
    "\n  ",
    "\n",
    "\ud800",
]


def attempt(loader: str, load: Callable[[], object]) -> None:
    """Run ``load``: loading or a PatchtuiError are fine; anything else fails the test."""
    started = time.monotonic()
    try:
        load()
    except PatchtuiError as error:
        assert str(error).strip(), "an error must say what is wrong"
        record(loader, "refused")
    else:
        record(loader, "loaded")
    elapsed = time.monotonic() - started
    assert elapsed < PER_INPUT_SECONDS, f"{loader} took {elapsed:.1f}s"


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str]) -> str:
    """A real sample with a few random edits: deep into validation, not just the parser."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        piece = draw(st.one_of(st.text(ALPHABET, min_size=1, max_size=6), st.sampled_from(HOSTILE)))
        cut = draw(st.integers(0, 6))
        text = text[:position] + piece + text[position + cut :]
    return text


def raw_text() -> st.SearchStrategy[str]:
    return st.text(st.one_of(ALPHABET, st.characters()), max_size=300)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(ALPHABET, max_size=12),
    st.sampled_from(HOSTILE[:8]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(ALPHABET, max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)


def to_yaml(value: object) -> str:
    return yaml.safe_dump(value, allow_unicode=True, default_flow_style=False)


@st.composite
def inventory_shaped(draw: st.DrawFn) -> str:
    keys = st.one_of(
        st.sampled_from([*LAYER_KEYS, "address", "groups"]), st.text(ALPHABET, max_size=8)
    )
    layer = st.dictionaries(keys, VALUES, max_size=5)
    names = st.one_of(
        st.sampled_from(["web01", "db[1:3]", "web[01:02]", "all"]), st.text(ALPHABET, max_size=10)
    )
    document = {
        "defaults": draw(st.one_of(st.none(), layer)),
        "groups": draw(st.one_of(st.none(), st.dictionaries(names, layer, max_size=3))),
        "hosts": draw(st.dictionaries(names, st.one_of(st.none(), layer), max_size=4)),
    }
    return to_yaml(document)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # Module scope: Hypothesis runs many examples per test call, and a function-scoped
    # tmp_path would be shared by all of them anyway.
    with tempfile.TemporaryDirectory(prefix="patchtui-fuzz-") as name:
        yield Path(name)


def write(path: Path, text: str) -> Path:
    # surrogatepass: a lone surrogate becomes bytes that are not UTF-8, as a broken file has.
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


INVENTORY_SEEDS = [
    (DATA / "inventories" / "fleet.yaml").read_text(),
    (DATA / "ansible" / "hosts.yml").read_text(),
]
INI_SEEDS = [(DATA / "ansible" / "hosts.ini").read_text()]
POLICY_SEEDS = [path.read_text() for path in sorted((DATA / "policies").glob("*.yaml"))]

ALIAS_BOMB = "hosts:\n  h:\n    vars:\n      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"      a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]\n" for n in range(1, 9)
)


@FUZZ
@given(text=st.one_of(raw_text(), inventory_shaped(), mutated(INVENTORY_SEEDS)))
@example(text=ALIAS_BOMB)
@example(text='hosts:\n  h1: {labels: {a: "x\x00"}}\n')
@example(text="hosts:\n  h1:\n    labels:\n      a: " + "9" * 5000 + "\n")
@example(text="hosts:\n  h1:\n    identity_file: ~nosuchuser/k\n")
@example(text="hosts:\n  h1:\n    vars:\n      x: " + "[" * 50_000 + "\n")
@example(text="hosts:\n  web[0:99999999]:\n")
@example(text="hosts:\n  h1:\n    vars:\n      x: &x [*x]\n")
def test_inventory_yaml_loads_or_refuses_in_one_line(workdir: Path, text: str) -> None:
    path = write(workdir / "inventory.yaml", text)
    attempt("inventory yaml", lambda: load_inventory(path))


INI_LINE = st.one_of(
    st.builds(lambda name: f"[{name}]", st.text(ALPHABET, max_size=10)),
    st.builds(
        lambda name, kind: f"[{name}:{kind}]",
        st.text(ALPHABET, max_size=6),
        st.sampled_from(["vars", "children", "x"]),
    ),
    st.builds(
        lambda host, pairs: " ".join([host, *(f"{k}={v}" for k, v in pairs)]),
        st.one_of(st.sampled_from(HOSTILE[4:8]), st.text(ALPHABET, min_size=1, max_size=10)),
        st.lists(
            st.tuples(
                st.sampled_from(["ansible_port", "ansible_host", "ansible_become", "x"]),
                st.text(ALPHABET, max_size=8),
            ),
            max_size=3,
        ),
    ),
    st.text(ALPHABET, max_size=20),
)


@FUZZ
@given(
    text=st.one_of(raw_text(), st.lists(INI_LINE, max_size=8).map("\n".join), mutated(INI_SEEDS))
)
@example(text="[web]\nweb[0:99999999]\n")
@example(text="web01 ansible_port=" + "9" * 5000 + "\n")
@example(text="web01 ansible_ssh_private_key_file=~nosuchuser/k\n")
@example(text="[" * 50_000 + "\n")
def test_ansible_ini_loads_or_refuses_in_one_line(workdir: Path, text: str) -> None:
    path = write(workdir / "hosts.ini", text)
    attempt("inventory ini", lambda: load_inventory(path))


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(ALPHABET, max_size=10),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(ALPHABET, max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def list_json(draw: st.DrawFn) -> str:
    hosts = st.lists(
        st.one_of(
            st.sampled_from(["web01", "db[1:3]", "web[0:99999999]"]), st.text(ALPHABET, max_size=8)
        ),
        max_size=4,
    )
    group = st.one_of(
        hosts,
        st.fixed_dictionaries(
            {},
            optional={
                "hosts": st.one_of(hosts, JSON_VALUES),
                "children": st.one_of(hosts, JSON_VALUES),
                "vars": JSON_VALUES,
            },
        ),
        JSON_VALUES,
    )
    document: dict[str, object] = draw(
        st.dictionaries(st.text(ALPHABET, max_size=8), group, max_size=3)
    )
    if draw(st.booleans()):
        document["_meta"] = {
            "hostvars": draw(
                st.one_of(
                    st.dictionaries(st.text(ALPHABET, max_size=8), JSON_VALUES, max_size=3),
                    JSON_VALUES,
                )
            )
        }
    return json.dumps(document)


@settings(FUZZ, max_examples=max(1, FUZZ.max_examples // 2))  # each starts a process
@given(
    text=st.one_of(
        list_json(),
        raw_text(),
        mutated(
            [
                json.dumps(
                    {
                        "web": ["web01", "web02"],
                        "_meta": {"hostvars": {"web01": {"ansible_port": 2222}}},
                    }
                )
            ]
        ),
    )
)
@example(text="[" * 50_000)
@example(
    text='{"all": {"hosts": ["h"]}, "_meta": {"hostvars": {"h": {"ansible_port": '
    + "9" * 5000
    + "}}}}"
)
@example(text='{"web": ["web[0:99999999]"]}')
def test_dynamic_inventory_json_loads_or_refuses_in_one_line(workdir: Path, text: str) -> None:
    output = write(workdir / "list.json", text)
    script = workdir / "inventory.sh"
    script.write_text(f"#!/bin/sh\nexec cat '{output}'\n")
    script.chmod(0o755)
    attempt("inventory dynamic", lambda: load_inventory(script))


POLICY_KEYS = st.sampled_from(
    [
        "name",
        "description",
        "security_grace_days",
        "any_update_grace_days",
        "reboot_grace_days",
        "scan_max_age_hours",
        "exceptions",
    ]
)


@FUZZ
@given(
    text=st.one_of(
        raw_text(),
        st.dictionaries(POLICY_KEYS, VALUES, max_size=5).map(to_yaml),
        mutated(POLICY_SEEDS),
    )
)
@example(text="exceptions:\n  - host: a\n    reason: x\n    expires: 2030-13-45\n")
@example(text="security_grace_days: " + "9" * 5000 + "\n")
@example(text="security_grace_days: " + "9" * 400 + "\n")
@example(text="name: x\x00\n")
@example(text="security_grace_days: " + "[" * 50_000 + "\n")
def test_policy_loads_or_refuses_in_one_line(text: str) -> None:
    attempt("policy", lambda: parse_policy(text, source="policy.yaml"))


CONFIG_SEED = (
    '[defaults]\nconcurrency = 20\npolicy = "policies/prod.yaml"\ntheme = "nord"\n'
    'host_key_policy = "accept-new"\n'
    '[notify]\ntargets = ["https://h.example.test/x", "mailto:a@example.test"]\n'
    'events = ["halt"]\ntimeout = 5\n[notify.smtp]\nhost = "smtp.example.test"\nport = 587\n'
)
CONFIG_LINE = st.one_of(
    st.sampled_from(["[defaults]", "[other]", "[[defaults]]", "[notify]", "[notify.smtp]"]),
    st.builds(
        lambda key, value: f"{key} = {value}",
        st.sampled_from(
            [
                *("concurrency", "policy", "theme", "host_key_policy", "x"),
                *("targets", "events", "timeout", "host", "port", "tls", "from", "cafile"),
            ]
        ),
        st.one_of(
            st.integers().map(str),
            st.text(ALPHABET, max_size=10).map(json.dumps),
            st.sampled_from(
                [
                    "true",
                    "[1, 2]",
                    "{a = 1}",
                    "'~nosuchuser/p.yaml'",
                    "9" * 5000,
                    "[" * 5000,
                    "1979-05-27",
                    '["http://[::1/x", "mailto:"]',
                    '["mailto:a@b.test", "https://h.test:0/x"]',
                    '["halt", "run-end"]',
                ]
            ),
        ),
    ),
    st.text(ALPHABET, max_size=20),
)


@FUZZ
@given(
    text=st.one_of(
        raw_text(),
        st.lists(CONFIG_LINE, max_size=6).map("\n".join),
        st.lists(CONFIG_LINE, max_size=4).map(lambda lines: "\n".join(["[defaults]", *lines])),
        mutated([CONFIG_SEED]),
    )
)
@example(text="[defaults]\nconcurrency = " + "9" * 5000 + "\n")
@example(text="[defaults]\npolicy = '~nosuchuser/p.yaml'\n")
@example(text="a = " + "[" * 5000 + "\n")
def test_config_loads_or_refuses_in_one_line(workdir: Path, text: str) -> None:
    attempt("config", lambda: parse_config(text, workdir / "config.toml"))


BASELINE = st.fixed_dictionaries(
    {},
    optional={
        "name": JSON_VALUES,
        "created": JSON_VALUES,
        "source_run": JSON_VALUES,
        "rules": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "security_only": JSON_VALUES,
                    "reject": JSON_VALUES,
                    "min_age_days": JSON_VALUES,
                },
            ),
            JSON_VALUES,
        ),
        "releases": st.one_of(
            st.dictionaries(
                st.text(ALPHABET, max_size=8),
                st.one_of(
                    st.dictionaries(st.text(ALPHABET, max_size=6), JSON_VALUES, max_size=3),
                    JSON_VALUES,
                ),
                max_size=3,
            ),
            JSON_VALUES,
        ),
        "families": JSON_VALUES,
        "rejected": st.one_of(
            st.lists(
                st.dictionaries(
                    st.sampled_from(["release", "name", "version", "reason"]), JSON_VALUES
                ),
                max_size=2,
            ),
            JSON_VALUES,
        ),
        "notes": JSON_VALUES,
    },
)


@FUZZ
@given(
    text=st.one_of(
        raw_text(),
        st.builds(
            lambda version, baselines: json.dumps({"version": version, "baselines": baselines}),
            st.one_of(st.integers(0, 3), JSON_VALUES),
            st.one_of(
                st.dictionaries(st.sampled_from(["tested", "x"]), BASELINE, max_size=2), JSON_VALUES
            ),
        ),
    )
)
@example(text='{"version": 1, "baselines": {"tested": {"name": "tested", "releases": [1]}}}')
@example(text='{"version": 1, "baselines": {"tested": {"created": ' + "9" * 5000 + "}}}")
@example(text="[" * 50_000)
def test_baselines_file_loads_or_refuses_in_one_line(workdir: Path, text: str) -> None:
    db = workdir / "patchtui.json"
    write(workdir / "patchtui.baselines.json", text)
    book = BaselineBook(db)
    attempt("baselines", lambda: (book.list(), book.get("tested")))
