"""YAML inventory loading: schema, inheritance, ranges, paths and every error."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from patchtui.errors import InventoryError
from patchtui.inventory import Host, Inventory, load_inventory, parse_inventory
from patchtui.inventory.ranges import expand_range

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "data" / "inventories"
SOURCE = "inv.yaml"


def parse(text: str, base_dir: Path | None = None) -> Inventory:
    """Parse ``text`` as written in the test; its first line is line 1."""
    return parse_inventory(dedent(text.removeprefix("\n")), SOURCE, base_dir=base_dir)


def error_of(text: str) -> InventoryError:
    with pytest.raises(InventoryError) as info:
        parse(text)
    return info.value


def names(inventory: Inventory) -> list[str]:
    return [host.name for host in inventory.hosts]


def host(inventory: Inventory, name: str) -> Host:
    found = inventory.host(name)
    assert found is not None, name
    return found


# --------------------------------------------------------------------------- basics


def test_minimal_host_uses_its_name_as_address_and_model_defaults() -> None:
    inventory = parse("""
        hosts:
          db01.example.internal:
        """)
    db = host(inventory, "db01.example.internal")
    assert db.address == "db01.example.internal"
    assert (db.port, db.user, db.become, db.become_user) == (22, None, False, "root")
    assert (db.host_key_policy, db.connect_timeout, db.package_manager) == ("strict", 10.0, None)
    assert (db.groups, dict(db.labels), dict(db.vars)) == ((), {}, {})
    assert inventory.source == SOURCE
    assert inventory.groups == {}


def test_every_setting_is_read_and_typed() -> None:
    inventory = parse("""
        hosts:
          box:
            address: 192.0.2.7
            port: 2200
            user: deploy
            become: true
            become_user: admin
            package_manager: zypper
            identity_file: /keys/id_ed25519
            jump_host: jump@bastion.example:2222
            host_key_policy: accept-new
            known_hosts: /etc/patchtui/known_hosts
            connect_timeout: 2.5
            labels: {env: prod, role: web, cluster: db-a}
            vars: {rack: r12, owners: [alice, bob]}
        """)
    assert host(inventory, "box") == Host(
        name="box",
        address="192.0.2.7",
        port=2200,
        user="deploy",
        labels={"env": "prod", "role": "web", "cluster": "db-a"},
        become=True,
        become_user="admin",
        package_manager="zypper",
        identity_file="/keys/id_ed25519",
        jump_host="jump@bastion.example:2222",
        host_key_policy="accept-new",
        known_hosts="/etc/patchtui/known_hosts",
        connect_timeout=2.5,
        vars={"rack": "r12", "owners": ["alice", "bob"]},
    )
    assert host(inventory, "box").cluster == "db-a"


def test_connect_timeout_integer_becomes_float() -> None:
    inventory = parse("""
        hosts:
          a: {connect_timeout: 3}
        """)
    timeout = host(inventory, "a").connect_timeout
    assert timeout == 3.0 and isinstance(timeout, float)


def test_hosts_keep_file_order() -> None:
    inventory = parse("""
        hosts:
          zeta:
          alpha:
          web[01:02]:
          mid:
        """)
    assert names(inventory) == ["zeta", "alpha", "web01", "web02", "mid"]


def test_labels_become_strings_and_vars_become_plain_containers() -> None:
    inventory = parse("""
        hosts:
          a:
            labels: {tier: 1, canary: true, weight: 0.5}
            vars: {nested: {list: [1, {x: 2}]}}
        """)
    a = host(inventory, "a")
    assert dict(a.labels) == {"tier": "1", "canary": "true", "weight": "0.5"}
    nested = a.vars["nested"]
    # The line-tracking dict/list subclasses must not leak out of the loader.
    assert type(nested) is dict and type(nested["list"]) is list and type(nested["list"][1]) is dict
    assert nested == {"list": [1, {"x": 2}]}


# --------------------------------------------------------------------------- inheritance


INHERITANCE = """
    defaults:
      user: ops
      become: true
      port: 2000
      labels: {env: prod, team: infra}
      vars: {window: sunday, owner: infra}
    groups:
      web:
        port: 2001
        user: www
        labels: {role: web}
        vars: {owner: web-team}
      staging:
        port: 2002
        host_key_policy: accept-new
        labels: {env: staging}
      empty: {}
    hosts:
      plain:
      web01:
        groups: [web]
      both:
        groups: [web, staging]
      both-reversed:
        groups: [staging, web]
      own:
        groups: [web, staging]
        port: 2222
        labels: {env: dev}
        vars: {owner: me}
    """


def test_defaults_apply_to_every_host() -> None:
    plain = host(parse(INHERITANCE), "plain")
    assert (plain.user, plain.become, plain.port) == ("ops", True, 2000)
    assert dict(plain.labels) == {"env": "prod", "team": "infra"}
    assert dict(plain.vars) == {"window": "sunday", "owner": "infra"}


def test_group_overrides_defaults_and_labels_merge() -> None:
    web01 = host(parse(INHERITANCE), "web01")
    assert (web01.user, web01.port, web01.become) == ("www", 2001, True)
    assert dict(web01.labels) == {"env": "prod", "team": "infra", "role": "web"}
    assert dict(web01.vars) == {"window": "sunday", "owner": "web-team"}


def test_later_listed_group_wins() -> None:
    inventory = parse(INHERITANCE)
    both, reversed_ = host(inventory, "both"), host(inventory, "both-reversed")
    assert both.port == 2002 and reversed_.port == 2001
    assert both.labels["env"] == "staging" and reversed_.labels["env"] == "staging"
    assert both.host_key_policy == reversed_.host_key_policy == "accept-new"
    assert both.groups == ("web", "staging") and reversed_.groups == ("staging", "web")


def test_host_wins_over_groups_and_defaults() -> None:
    own = host(parse(INHERITANCE), "own")
    assert own.port == 2222
    assert dict(own.labels) == {"env": "dev", "team": "infra", "role": "web"}
    assert own.vars["owner"] == "me"


def test_group_membership_lists_hosts_in_inventory_order() -> None:
    inventory = parse(INHERITANCE)
    assert inventory.groups == {
        "web": ("web01", "both", "both-reversed", "own"),
        "staging": ("both", "both-reversed", "own"),
        "empty": (),
    }


def test_yaml_anchors_and_merge_keys_work() -> None:
    inventory = parse("""
        hosts:
          a: &base {port: 2200, user: ops}
          b:
            <<: *base
            port: 2201
        """)
    b = host(inventory, "b")
    assert (b.port, b.user) == (2201, "ops")


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("web[01:03]", ["web01", "web02", "web03"]),
        ("web[8:10]", ["web8", "web9", "web10"]),
        ("web[001:003]", ["web001", "web002", "web003"]),
        ("db[a:c]", ["dba", "dbb", "dbc"]),
        ("n[A:B]", ["nA", "nB"]),
        ("node[1:7:3]", ["node1", "node4", "node7"]),
        ("[1:2].example.com", ["1.example.com", "2.example.com"]),
        ("web[1:2].example.com", ["web1.example.com", "web2.example.com"]),
        ("solo", ["solo"]),
    ],
)
def test_expand_range(pattern: str, expected: list[str]) -> None:
    assert [item.name for item in expand_range(pattern)] == expected


def test_range_hosts_get_addresses_from_templates() -> None:
    inventory = parse("""
        hosts:
          web[08:10]:
            address: "10.0.1.{n}"
          db[a:b]:
            address: "db-{}.example.internal"
          app[1:2]:
            address: "{name}.apps.internal"
          cache[01:02]:
            address: "cache{}.internal"
          single:
            address: "{name}.example.internal"
        """)
    addresses = {h.name: h.address for h in inventory.hosts}
    assert addresses == {
        "web08": "10.0.1.8",
        "web09": "10.0.1.9",
        "web10": "10.0.1.10",
        "dba": "db-a.example.internal",
        "dbb": "db-b.example.internal",
        "app1": "app1.apps.internal",
        "app2": "app2.apps.internal",
        "cache01": "cache01.internal",
        "cache02": "cache02.internal",
        "single": "single.example.internal",
    }


def test_range_hosts_without_address_use_their_names_and_share_settings() -> None:
    inventory = parse("""
        groups:
          web: {}
        hosts:
          web[1:2]:
            port: 2022
            groups: [web]
        """)
    assert [(h.name, h.address, h.port) for h in inventory.hosts] == [
        ("web1", "web1", 2022),
        ("web2", "web2", 2022),
    ]
    assert inventory.groups == {"web": ("web1", "web2")}


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("web[1:]", "expected [start:end] or [start:end:step], got [1:]"),
        ("web[3:1]", "start 3 is after end 1"),
        ("web[c:a]", "start 'c' is after end 'a'"),
        ("web[a:3]", "must be two numbers (01:20) or two letters (a:c)"),
        ("web[aa:bb]", "must be two numbers (01:20) or two letters (a:c)"),
        ("web[01:100]", "must have the same width"),
        ("web[1:2][1:2]", "only one [start:end] range per name"),
        ("'web[1:2'", "brackets do not pair up"),
        ("'web]1:2['", "brackets do not pair up"),
        ("'[1:3]'", "a range needs a name around it"),
        ("web[1:5:0]", "step '0' must be a positive integer"),
        ("web[a:C]", "differ in case"),
    ],
)
def test_bad_range_syntax(entry: str, fragment: str) -> None:
    error = error_of(f"""
        hosts:
          ok:
          {entry}:
        """)
    assert fragment in error.message
    assert "bad range in" in error.message
    assert error.where == f"{SOURCE}:3"


@pytest.mark.parametrize(
    ("entry", "address", "fragment"),
    [
        ("single", "'x{}'", "uses {} but 'single' is not a range"),
        ("single", "'x{n}'", "uses {n} but 'single' is not a range"),
        ("db[a:b]", "'x{n}'", "uses {n} but the range is not numeric"),
        ("web[1:2]", "'x{host}'", "unknown placeholder {host}"),
    ],
)
def test_bad_address_template(entry: str, address: str, fragment: str) -> None:
    error = error_of(f"""
        hosts:
          {entry}:
            port: 22
            address: {address}
        """)
    assert fragment in error.message
    assert error.where == f"{SOURCE}:4"


# --------------------------------------------------------------------------- paths


def test_load_inventory_resolves_relative_paths_next_to_the_file() -> None:
    inventory = load_inventory(FIXTURES / "relative_paths.yaml")
    lab01, lab02 = inventory.hosts
    assert lab01.known_hosts == str(FIXTURES / "known_hosts")
    assert lab01.identity_file == str(FIXTURES / "keys" / "lab_ed25519")
    assert lab01.host_key_policy == "accept-new"
    assert lab02.identity_file == "/etc/ssh/absolute_key"
    assert lab02.known_hosts == str(Path("~/lab_known_hosts").expanduser())
    assert inventory.source == str(FIXTURES / "relative_paths.yaml")


def test_load_inventory_accepts_a_string_path_relative_to_cwd(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(FIXTURES)
    inventory = load_inventory("relative_paths.yaml")
    assert inventory.source == "relative_paths.yaml"
    assert inventory.hosts[0].known_hosts == str(FIXTURES / "known_hosts")


def test_parse_inventory_keeps_relative_paths_without_base_dir() -> None:
    inventory = parse("""
        hosts:
          a: {known_hosts: kh/known_hosts, identity_file: id_key}
        """)
    assert host(inventory, "a").known_hosts == "kh/known_hosts"
    assert host(inventory, "a").identity_file == "id_key"


def test_parse_inventory_joins_relative_paths_to_base_dir(tmp_path: Path) -> None:
    inventory = parse(
        """
        defaults: {known_hosts: known_hosts}
        hosts:
          a:
        """,
        base_dir=tmp_path,
    )
    assert host(inventory, "a").known_hosts == str(tmp_path / "known_hosts")


# --------------------------------------------------------------------------- sample


def test_sample_inventory_loads_and_shows_every_feature() -> None:
    inventory = load_inventory(REPO_ROOT / "sample_inventory.yaml")
    by_name = {h.name: h for h in inventory.hosts}
    assert [n for n in by_name if n.startswith("web0")] == ["web01", "web02", "web03", "web04"]
    assert by_name["web01"].address == "10.0.1.1"
    assert by_name["web01"].jump_host == "bastion"
    assert by_name["db02"].address == "db02.db.example.internal"
    assert by_name["db02"].cluster == "db-a"
    assert by_name["cache-b"].address == "cache-b.example.internal"
    assert by_name["db-staging"].labels["env"] == "staging"
    assert by_name["db-staging"].host_key_policy == "accept-new"
    assert by_name["web-stg01"].port == 2201
    assert by_name["suse-erp01"].package_manager == "zypper"
    alpine = by_name["alpine-edge01"]
    assert (alpine.package_manager, alpine.user, alpine.become) == ("apk", "root", False)
    assert alpine.jump_host == "admin@203.0.113.10:2222"
    legacy = by_name["legacy-cron.example.internal"]
    assert legacy.address == legacy.name and legacy.connect_timeout == 30.0
    assert by_name["bastion"].identity_file == str(REPO_ROOT / "keys" / "bastion_ed25519")
    assert all(h.known_hosts == str(REPO_ROOT / "known_hosts") for h in inventory.hosts)
    assert {h.package_manager for h in inventory.hosts} >= {"dnf", "zypper", "apk", None}


# --------------------------------------------------------------------------- file errors


def test_missing_file() -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(FIXTURES / "nope.yaml")
    assert info.value.message == "inventory file not found"
    assert info.value.where == str(FIXTURES / "nope.yaml")
    assert str(info.value) == f"{FIXTURES / 'nope.yaml'}: inventory file not found"


def test_directory_instead_of_file() -> None:
    with pytest.raises(InventoryError, match="is a directory"):
        load_inventory(FIXTURES)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"hosts:\n  caf\xe9:\n")
    with pytest.raises(InventoryError, match="not UTF-8 text"):
        load_inventory(path)


def test_top_level_list_is_refused() -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(FIXTURES / "not_a_mapping.yaml")
    assert "top level must be a mapping with 'hosts:'" in info.value.message
    assert "got a list" in info.value.message
    assert info.value.where == f"{FIXTURES / 'not_a_mapping.yaml'}:1"


def test_empty_file() -> None:
    error = error_of("# only a comment\n")
    assert error.message == "inventory is empty; expected a mapping with a 'hosts:' section"
    assert error.where == SOURCE


# --------------------------------------------------------------------------- YAML errors


def test_yaml_syntax_error_names_line_and_column() -> None:
    error = error_of("""
        hosts:
          web01:
            port: 22
           user: ops
        """)
    assert error.message.startswith("YAML syntax error: ")
    assert "check the indentation (column 4)" in error.message
    assert error.where == f"{SOURCE}:4"
    assert "\n" not in str(error)


def test_unclosed_flow_mapping() -> None:
    error = error_of("""
        hosts:
          web01: {port: 22
          db01:
        """)
    assert error.message.startswith("YAML syntax error: while parsing a flow mapping")
    assert error.where is not None and error.where.startswith(f"{SOURCE}:")


def test_several_documents_are_refused() -> None:
    error = error_of("hosts: {a: }\n---\nhosts: {b: }\n")
    assert "expected a single document" in error.message
    assert error.where == f"{SOURCE}:2"


def test_python_tags_are_refused() -> None:
    error = error_of("""
        hosts:
          a: !!python/object:os.system {}
        """)
    assert error.message.startswith("YAML error: could not determine a constructor")
    assert error.where == f"{SOURCE}:2"


def test_duplicate_key_in_host_mapping() -> None:
    error = error_of("""
        hosts:
          web01:
            port: 22
            user: ops
            port: 2222
        """)
    assert error.message == "duplicate key 'port' (first at line 3)"
    assert error.where == f"{SOURCE}:5"


def test_duplicate_host_key() -> None:
    error = error_of("""
        hosts:
          web01:
          db01:
          web01:
            port: 2
        """)
    assert error.message == "duplicate key 'web01' (first at line 2)"
    assert error.where == f"{SOURCE}:4"


def test_duplicate_label_and_duplicate_section() -> None:
    label = error_of("""
        hosts:
          a: {labels: {env: prod, env: dev}}
        """)
    assert label.message == "duplicate key 'env' (first at line 2)"
    section = error_of("""
        groups: {}
        hosts: {a: }
        groups: {}
        """)
    assert section.message == "duplicate key 'groups' (first at line 1)"
    assert section.where == f"{SOURCE}:3"


def test_duplicate_host_from_overlapping_range() -> None:
    error = error_of("""
        hosts:
          web[01:03]:
          db01:
          web02:
        """)
    assert error.message == "duplicate host 'web02': already defined at line 2 (from web[01:03])"
    assert error.where == f"{SOURCE}:4"


def test_duplicate_host_between_two_ranges() -> None:
    error = error_of("""
        hosts:
          web02:
          web[01:03]:
        """)
    assert error.message == "duplicate host 'web02': already defined at line 2"
    assert error.where == f"{SOURCE}:3"


# --------------------------------------------------------------------------- key errors


def test_unknown_host_key_suggests_nearest() -> None:
    error = error_of("""
        hosts:
          db01:
            address: 10.0.0.5
            prot: 22
        """)
    assert error.message == "host 'db01': unknown key 'prot' (did you mean 'port'?)"
    assert error.where == f"{SOURCE}:4"


def test_unknown_key_maps_ansible_and_ssh_names() -> None:
    error = error_of("""
        groups:
          web:
            sudo: true
        hosts: {a: }
        """)
    assert error.message == "group 'web': unknown key 'sudo' (did you mean 'become'?)"
    assert error.where == f"{SOURCE}:3"
    ansible = error_of("""
        hosts:
          a: {ansible_host: 10.0.0.1}
        """)
    assert ansible.message == "host 'a': unknown key 'ansible_host' (did you mean 'address'?)"


def test_unknown_key_without_suggestion_lists_valid_keys() -> None:
    error = error_of("""
        defaults:
          colour: blue
        hosts: {a: }
        """)
    assert error.message.startswith("defaults: unknown key 'colour'; valid keys: port, user,")
    assert error.where == f"{SOURCE}:2"


def test_unknown_top_level_key() -> None:
    error = error_of("""
        host:
          a:
        """)
    assert error.message == "top level: unknown key 'host' (did you mean 'hosts'?)"
    assert error.where == f"{SOURCE}:1"


def test_address_and_groups_are_host_only() -> None:
    error = error_of("""
        groups:
          web:
            address: 10.0.0.1
        hosts: {a: }
        """)
    assert "group 'web': unknown key 'address'" in error.message
    assert error.where == f"{SOURCE}:3"


def test_host_range_key_is_named_in_messages() -> None:
    error = error_of("""
        hosts:
          web[1:3]:
            becom: true
        """)
    assert error.message == "host range 'web[1:3]': unknown key 'becom' (did you mean 'become'?)"


def test_setting_under_vars_is_refused() -> None:
    error = error_of("""
        groups:
          web:
            vars: {port: 22}
        hosts: {a: }
        """)
    assert "'port' is a setting, not a var" in error.message
    assert "group 'web'" in error.message
    assert error.where == f"{SOURCE}:3"


# --------------------------------------------------------------------------- value errors


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("0", "port must be 1..65535, got 0"),
        ("65536", "port must be 1..65535, got 65536"),
        ("'22'", "port must be an integer 1..65535, got '22'"),
        ("true", "port must be an integer 1..65535, got True"),
        ("22.5", "port must be an integer 1..65535, got 22.5"),
    ],
)
def test_bad_port(value: str, fragment: str) -> None:
    error = error_of(f"""
        hosts:
          db01:
            port: {value}
        """)
    assert error.message == f"host 'db01': {fragment}"
    assert error.where == f"{SOURCE}:3"


def test_bad_port_in_defaults() -> None:
    error = error_of("""
        defaults: {port: -1}
        hosts: {a: }
        """)
    assert error.message == "defaults: port must be 1..65535, got -1"
    assert error.where == f"{SOURCE}:1"


def test_bad_host_key_policy_suggests() -> None:
    error = error_of("""
        hosts:
          a:
            host_key_policy: accept_new
        """)
    assert error.message == (
        "host 'a': host_key_policy must be one of strict, accept-new, got 'accept_new' "
        "(did you mean 'accept-new'?)"
    )
    assert error.where == f"{SOURCE}:3"


def test_unknown_package_manager() -> None:
    suggested = error_of("""
        hosts:
          a: {package_manager: apt-get}
        """)
    assert suggested.message == (
        "host 'a': package_manager must be one of apt, dnf, yum, zypper, apk, got 'apt-get' "
        "(did you mean 'apt'?)"
    )
    unknown = error_of("""
        groups:
          arch: {package_manager: pacman}
        hosts: {a: }
        """)
    assert unknown.message == (
        "group 'arch': package_manager must be one of apt, dnf, yum, zypper, apk, got 'pacman'"
    )
    assert unknown.where == f"{SOURCE}:2"


@pytest.mark.parametrize(
    ("setting", "fragment"),
    [
        ("become: 'yes please'", "become must be true or false, got 'yes please'"),
        ("connect_timeout: 0", "connect_timeout must be more than 0 and at most 3600 seconds"),
        ("connect_timeout: fast", "connect_timeout must be a number of seconds, got 'fast'"),
        ("user: ''", "user must be a non-empty string, got ''"),
        ("user: 'o ps'", "user must not contain spaces, got 'o ps'"),
        ("become_user: 0", "become_user must be a non-empty string, got 0"),
        ("identity_file: [a]", "identity_file must be a non-empty string"),
        ("address: 10", "address must be a non-empty string, got 10"),
    ],
)
def test_bad_setting_values(setting: str, fragment: str) -> None:
    error = error_of(f"""
        hosts:
          a:
            {setting}
        """)
    assert fragment in error.message
    assert error.message.startswith("host 'a': ")
    assert error.where == f"{SOURCE}:3"


def test_bad_labels() -> None:
    comma = error_of("""
        hosts:
          a:
            labels: {env: 'prod,dev'}
        """)
    assert "label env='prod,dev' must be non-empty without spaces" in comma.message
    assert comma.where == f"{SOURCE}:3"
    key = error_of("""
        hosts:
          a:
            labels: {'bad key': x}
        """)
    assert "label name 'bad key' may use only" in key.message
    nested = error_of("""
        hosts:
          a:
            labels: {env: [prod]}
        """)
    assert "label 'env' must be a plain value, got a list" in nested.message
    not_mapping = error_of("""
        hosts:
          a:
            labels: [env]
        """)
    assert not_mapping.message == "host 'a': labels must be a mapping, got a list"


# --------------------------------------------------------------------------- structure errors


def test_host_refers_to_unknown_group() -> None:
    error = error_of("""
        groups:
          web: {}
          db: {}
        hosts:
          a:
            groups:
              - web
              - dbs
        """)
    assert error.message == (
        "host 'a': unknown group 'dbs' (did you mean 'db'?); declare it under groups: "
        "(declared: db, web)"
    )
    assert error.where == f"{SOURCE}:8"


def test_host_groups_must_be_a_list_without_repeats() -> None:
    not_list = error_of("""
        groups: {web: }
        hosts:
          a: {groups: web}
        """)
    assert not_list.message == "host 'a': groups must be a list, e.g. groups: [web, prod]"
    twice = error_of("""
        groups: {web: }
        hosts:
          a: {groups: [web, web]}
        """)
    assert twice.message == "host 'a': group 'web' listed twice"


def test_no_hosts() -> None:
    missing = error_of("""
        groups: {web: }
        """)
    assert missing.message == "inventory defines no hosts; add a 'hosts:' section"
    empty = error_of("""
        hosts: {}
        """)
    assert empty.message == "inventory defines no hosts; 'hosts:' is empty"
    assert empty.where == f"{SOURCE}:1"


def test_sections_must_be_mappings() -> None:
    hosts_list = error_of("""
        hosts:
          - web01
        """)
    assert hosts_list.message == "hosts must be a mapping, got a list"
    host_string = error_of("""
        hosts:
          db01: 10.0.0.5
        """)
    assert host_string.message == "host 'db01' must be a mapping, got the string '10.0.0.5'"
    assert host_string.where == f"{SOURCE}:2"
    group_int = error_of("""
        groups:
          web: 3
        hosts: {a: }
        """)
    assert group_int.message == "group 'web' must be a mapping, got int 3"


def test_bad_names() -> None:
    reserved = error_of("""
        groups: {all: {}}
        hosts: {a: }
        """)
    assert reserved.message == "group name 'all' is reserved: 'all' always means every host"
    glob = error_of("""
        hosts:
          'web*':
        """)
    assert glob.message.startswith("host name 'web*' may use only letters, digits and _ . -")
    number = error_of("""
        hosts:
          12:
        """)
    assert number.message == "host name 12 must be a string (quote it)"
    assert number.where == f"{SOURCE}:2"


def test_host_and_group_may_not_share_a_name() -> None:
    error = error_of("""
        groups: {db: {}}
        hosts:
          db:
        """)
    assert "host 'db' has the same name as a group" in error.message
    assert error.where == f"{SOURCE}:3"


# --------------------------------------------------------------------------- jump hosts


def test_jump_host_may_name_an_inventory_host_or_give_a_spec() -> None:
    inventory = parse("""
        hosts:
          bastion: {address: 203.0.113.1}
          a: {jump_host: bastion}
          b: {jump_host: admin@203.0.113.1:2222}
          c: {jump_host: '[2001:db8::1]:22'}
        """)
    assert [h.jump_host for h in inventory.hosts] == [
        None,
        "bastion",
        "admin@203.0.113.1:2222",
        "[2001:db8::1]:22",
    ]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("a@@b", "must be an inventory host name or [user@]host[:port]"),
        ("admin@b:99999", "port must be 1..65535"),
    ],
)
def test_bad_jump_host_spec(spec: str, fragment: str) -> None:
    error = error_of(f"""
        hosts:
          bastion:
          a: {{jump_host: '{spec}'}}
        """)
    assert fragment in error.message
    assert error.message.startswith("host 'a': jump_host")
    assert error.where == f"{SOURCE}:3"


def test_jump_host_loops_are_refused() -> None:
    self_loop = error_of("""
        hosts:
          a: {jump_host: a}
        """)
    assert self_loop.message == "host 'a': jump_host loop a -> a"
    cycle = error_of("""
        groups:
          dmz: {jump_host: b}
        hosts:
          b: {jump_host: c}
          c: {groups: [dmz]}
        """)
    assert cycle.message == "host 'b': jump_host loop b -> c -> b"
    assert cycle.where == f"{SOURCE}:4"
