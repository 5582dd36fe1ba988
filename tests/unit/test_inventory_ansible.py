"""Ansible inventories (INI, YAML, dynamic scripts) read into patchtui hosts as Ansible would."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from patchtui.errors import InventoryError
from patchtui.inventory import load_inventory, select_hosts
from patchtui.inventory.ansible import (
    detect_format,
    load_ansible,
    parse_ini,
    parse_list_json,
    parse_yaml,
    run_script,
)
from patchtui.inventory.model import Inventory

DATA = Path(__file__).resolve().parent.parent / "data" / "ansible"


def _executable_copy(tmp_path: Path, name: str = "inventory.py") -> Path:
    script = tmp_path / name
    shutil.copy(DATA / "inventory.py", script)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _check_docs_inventory(inventory: Inventory) -> None:
    """What the docs example means, whichever file format said it."""
    names = [host.name for host in inventory.hosts]
    assert names[0] == "mail.example.com"
    assert len([n for n in names if n.startswith("www")]) == 50
    assert "www01.example.com" in names and "www50.example.com" in names
    assert [n for n in names if n.startswith("db-")] == [
        f"db-{letter}.example.com" for letter in "abcdef"
    ]
    assert len(names) == len(set(names)) == 70
    # children recursion: host2 is in atlanta and raleigh, so in southeast and usa too
    host2 = inventory.host("host2")
    assert host2 is not None
    assert set(host2.groups) == {"atlanta", "raleigh", "southeast", "usa"}
    assert set(inventory.groups["usa"]) == {"host1", "host2", "host3"}
    assert inventory.groups["northeast"] == ()
    assert "all" not in inventory.groups and "ungrouped" not in inventory.groups
    mail = inventory.host("mail.example.com")
    assert mail is not None and mail.groups == ()
    # precedence: all < southeast (parent) < atlanta (child) < host
    assert host2.user == "atlanta_admin"
    assert host2.become is True  # "yes" from southeast
    assert host2.vars["ntp_server"] == "ntp.atlanta.example.com"
    assert host2.vars["some_server"] == "foo.southeast.example.com"
    assert host2.vars["http_port"] == 303 and host2.vars["escape_pods"] == 2
    host3 = inventory.host("host3")
    assert host3 is not None and host3.user == "southeast_admin"
    assert host3.vars["ntp_server"] == "ntp.example.com"  # from all: atlanta's is not its
    assert mail.port == 2222  # [all:vars]
    jumper = inventory.host("jumper")
    assert jumper is not None and (jumper.address, jumper.port) == ("192.0.2.50", 5555)
    badwolf = inventory.host("badwolf.example.com")
    assert badwolf is not None and badwolf.port == 5309
    behind = inventory.host("behind")
    assert behind is not None and behind.jump_host == "ops@bastion.example.com:2200"
    legacy = inventory.host("legacy")
    assert legacy is not None and legacy.jump_host == "user@gateway.example.com"
    keyed = inventory.host("keyed")
    assert keyed is not None
    assert keyed.identity_file == str(DATA / "keys" / "id_keyed")
    assert keyed.become is False and keyed.become_user == "admin"
    assert inventory.warnings == ()


def test_ini_docs_example() -> None:
    loaded = load_ansible(DATA / "hosts.ini")
    _check_docs_inventory(loaded.inventory)
    assert loaded.sources["host2"]["user"].startswith("ansible var ansible_user, group atlanta")
    assert loaded.sources["host2"]["user"].endswith("hosts.ini:26")
    assert loaded.sources["jumper"]["port"].endswith("hosts.ini:51")


def test_yaml_docs_example_reads_the_same_as_the_ini() -> None:
    loaded = load_ansible(DATA / "hosts.yml")
    _check_docs_inventory(loaded.inventory)
    ini = load_ansible(DATA / "hosts.ini").inventory
    by_name = {host.name: host for host in ini.hosts}
    for host in loaded.inventory.hosts:
        other = by_name[host.name]
        assert (host.address, host.port, host.user, host.become, host.jump_host) == (
            other.address,
            other.port,
            other.user,
            other.become,
            other.jump_host,
        )
        assert set(host.groups) == set(other.groups)
        assert dict(host.vars) == dict(other.vars)


def test_limit_selects_by_ansible_group_and_child_group() -> None:
    inventory = load_inventory(DATA / "hosts.ini")
    assert [h.name for h in select_hosts(inventory, "southeast")] == ["host1", "host2", "host3"]
    assert [h.name for h in select_hosts(inventory, "usa&raleigh")] == ["host2", "host3"]
    assert len(select_hosts(inventory, "webservers")) == 52


def test_dynamic_script_is_run_and_its_hostvars_read(tmp_path: Path) -> None:
    script = _executable_copy(tmp_path)
    assert detect_format(script) == "script"
    inventory = load_inventory(script)
    assert [h.name for h in inventory.hosts] == ["host001", "host002", "host003", "host004"]
    host001 = inventory.host("host001")
    host002 = inventory.host("host002")
    host003 = inventory.host("host003")
    assert host001 is not None and host002 is not None and host003 is not None
    assert host001.address == "10.1.0.1" and host001.user == "deploy"
    assert host002.port == 2201
    # group002 is a child of group001: it inherits group001's vars
    assert host003.user == "deploy" and host003.vars["var2"] == 500 and host003.become is True
    assert set(host003.groups) == {"group001", "group002"}
    assert "ansible_password" not in host003.vars
    assert not any("hunter2" in warning for warning in inventory.warnings)
    assert any("ansible_password ignored and not stored" in w for w in inventory.warnings)


def test_a_failing_script_names_itself_and_its_last_stderr_line(tmp_path: Path) -> None:
    script = tmp_path / "broken.sh"
    script.write_text("#!/bin/sh\necho starting >&2\necho 'cannot reach the CMDB' >&2\nexit 3\n")
    script.chmod(0o755)
    with pytest.raises(InventoryError) as caught:
        load_inventory(script)
    assert str(script) in str(caught.value)
    assert "status 3" in str(caught.value) and "cannot reach the CMDB" in str(caught.value)


def test_script_printing_bad_json_points_at_the_line(tmp_path: Path) -> None:
    script = tmp_path / "bad.sh"
    script.write_text('#!/bin/sh\nprintf \'{\\n  "web": ["a",]\\n}\\n\'\n')
    script.chmod(0o755)
    with pytest.raises(InventoryError, match=r"bad\.sh --list:2: not valid inventory JSON"):
        run_script(script)


def test_script_timeout(tmp_path: Path) -> None:
    script = tmp_path / "slow.sh"
    script.write_text("#!/bin/sh\nsleep 5\n")
    script.chmod(0o755)
    with pytest.raises(InventoryError, match=r"did not finish --list within 0\.2s"):
        run_script(script, timeout=0.2)


def test_format_detection(tmp_path: Path) -> None:
    assert detect_format(DATA / "hosts.ini") == "ansible-ini"
    assert detect_format(DATA / "hosts.yml") == "ansible-yaml"
    assert detect_format("sshconfig:") == "sshconfig"
    root = Path(__file__).resolve().parents[2]
    assert detect_format(root / "sample_inventory.yaml") == "patchtui"
    plain = tmp_path / "hosts"  # no extension, INI with ungrouped hosts only
    plain.write_text("web1\nweb2 ansible_port=2200\n")
    assert detect_format(plain) == "ansible-ini"
    yaml_no_ext = tmp_path / "inventory"
    yaml_no_ext.write_text("all:\n  hosts:\n    web1:\n")
    assert detect_format(yaml_no_ext) == "ansible-yaml"
    listed = tmp_path / "dump.json"
    listed.write_text('{"web": ["a", "b"], "_meta": {"hostvars": {"a": {"ansible_port": 2}}}}')
    assert detect_format(listed) == "ansible-json"
    assert load_inventory(listed).host("a").port == 2  # type: ignore[union-attr]
    # an executable YAML file without #! is read, not run
    yaml_no_ext.chmod(0o755)
    assert detect_format(yaml_no_ext) == "ansible-yaml"


def test_children_cycle_is_an_error_naming_the_cycle() -> None:
    text = "[a:children]\nb\n[b:children]\nc\n[c:children]\na\n[c]\nh1\n"
    with pytest.raises(InventoryError, match=r"cycle: .*a -> b -> c -> a|cycle: .*-> a"):
        parse_ini(text, "cyc.ini")


def test_broken_ini_and_yaml_give_file_and_line() -> None:
    with pytest.raises(InventoryError) as caught:
        parse_ini("[web]\nw1\n[web:vras]\nx=1\n", "bad.ini")
    assert str(caught.value).startswith("bad.ini:3: ")
    with pytest.raises(InventoryError) as caught:
        parse_ini("[web]\nw1 ansible_port\n", "bad.ini")
    assert str(caught.value).startswith("bad.ini:2: ")
    with pytest.raises(InventoryError) as caught:
        parse_ini("[web]\nw[1:x]\n", "bad.ini")
    assert str(caught.value).startswith("bad.ini:2: bad range")
    with pytest.raises(InventoryError) as caught:
        parse_yaml("all:\n  hosts:\n    a:\n   b: 1\n", "bad.yml")
    assert str(caught.value).startswith("bad.yml:4: YAML syntax error")
    with pytest.raises(InventoryError) as caught:
        parse_ini("[web]\nw1 ansible_port=99999\n", "bad.ini")
    assert str(caught.value).startswith("bad.ini:2: host 'w1': ansible_port must be a port")


def test_ranges_and_host_port() -> None:
    loaded = parse_ini("[web]\nweb[01:03]:2201 ansible_user=ops\nnode[a:c]\n", "r.ini")
    hosts = loaded.inventory.hosts
    assert [(h.name, h.port, h.user) for h in hosts] == [
        ("web01", 2201, "ops"),
        ("web02", 2201, "ops"),
        ("web03", 2201, "ops"),
        ("nodea", 22, None),
        ("nodeb", 22, None),
        ("nodec", 22, None),
    ]


def test_host_vars_beat_group_vars_and_group_priority_orders_siblings() -> None:
    text = (
        "[a]\nh1 ansible_user=hostuser\nh2\n"
        "[b]\nh1\nh2\n"
        "[a:vars]\nansible_user=from_a\nansible_group_priority=10\n"
        "[b:vars]\nansible_user=from_b\n"
    )
    inventory = parse_ini(text, "p.ini").inventory
    assert inventory.host("h1").user == "hostuser"  # type: ignore[union-attr]
    # same depth: a has the higher priority, so it is applied last and wins
    assert inventory.host("h2").user == "from_a"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", True), ("no", False), ("True", True), ("false", False), ("on", True), ("0", False)],
)
def test_become_accepts_ansible_booleans(value: str, expected: bool) -> None:
    inventory = parse_ini(f"h1 ansible_become={value}\n", "b.ini").inventory
    assert inventory.hosts[0].become is expected


def test_become_rejects_other_words() -> None:
    with pytest.raises(InventoryError, match=r"b.ini:1: host 'h1': ansible_become must be yes/no"):
        parse_ini("h1 ansible_become=sometimes\n", "b.ini")


def test_unknown_things_become_one_warning_each_and_secrets_are_not_kept() -> None:
    text = (
        "[win]\nw1 ansible_connection=winrm ansible_password=s3cret\n"
        "w2 ansible_winrm_transport=ntlm\nw3 ansible_winrm_transport=ntlm\n"
        "[lin]\nl1 ansible_ssh_pass=pw ansible_become_method=su "
        "ansible_ssh_common_args='-o ProxyJump=gw -o Compression=yes -C'\n"
    )
    loaded = parse_ini(text, "w.ini")
    warnings = loaded.inventory.warnings
    assert any("ansible_connection=winrm is not supported" in w for w in warnings)
    assert any("w.ini:2: host 'w1': ansible_password ignored" in w for w in warnings)
    assert any("ansible_ssh_pass ignored" in w for w in warnings)
    assert any("ansible_become_method=su is not supported" in w for w in warnings)
    assert any("-o Compression=yes -C not used" in w for w in warnings)
    winrm = [w for w in warnings if w.startswith("ansible_winrm_transport")]
    assert winrm == ["ansible_winrm_transport (hosts w2, w3) is not used by patchtui"]
    assert not any("s3cret" in w or "=pw" in w for w in warnings)
    for host in loaded.inventory.hosts:
        assert "ansible_password" not in host.vars and "ansible_ssh_pass" not in host.vars
    assert loaded.inventory.host("l1").jump_host == "gw"  # type: ignore[union-attr]


def test_plugin_inventory_is_named_not_silently_empty() -> None:
    with pytest.raises(InventoryError, match=r"aws.yml:1: inventory plugin 'aws_ec2'"):
        parse_yaml("plugin: aws_ec2\nregions: [eu-west-1]\n", "aws.yml")


def test_yaml_unknown_group_key_warns() -> None:
    loaded = parse_yaml("all:\n  hosts:\n    a:\n  hostz:\n    b:\n", "k.yml")
    assert [h.name for h in loaded.inventory.hosts] == ["a"]
    assert loaded.inventory.warnings == (
        "k.yml:4: group 'all': key 'hostz' ignored (a group has only hosts, children and vars)",
    )


def test_ssh_args_jump_forms_and_accept_new() -> None:
    text = (
        "a ansible_ssh_common_args='-J jump1'\n"
        "b ansible_ssh_extra_args='-o \"ProxyJump jump2:2222\"'\n"
        "c ansible_ssh_common_args='-o StrictHostKeyChecking=accept-new'\n"
    )
    hosts = {h.name: h for h in parse_ini(text, "j.ini").inventory.hosts}
    assert hosts["a"].jump_host == "jump1"
    assert hosts["b"].jump_host == "jump2:2222"
    assert hosts["c"].host_key_policy == "accept-new"


def test_patchtui_vars_and_labels() -> None:
    text = (
        "all:\n  hosts:\n    a:\n      patchtui_package_manager: apk\n"
        "      patchtui_labels: {env: prod, role: web}\n"
    )
    host = parse_yaml(text, "l.yml").inventory.hosts[0]
    assert host.package_manager == "apk" and dict(host.labels) == {"env": "prod", "role": "web"}
    assert "patchtui_labels" not in host.vars


def test_list_json_without_meta_warns() -> None:
    loaded = parse_list_json('{"web": {"hosts": ["a"]}}', "x.json")
    assert [h.name for h in loaded.inventory.hosts] == ["a"]
    assert any("no _meta.hostvars" in w for w in loaded.inventory.warnings)


def test_host_named_like_a_group_is_refused() -> None:
    with pytest.raises(InventoryError, match="same name as a group"):
        parse_ini("[web]\nweb\n", "n.ini")
