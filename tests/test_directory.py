import pytest

from alerting.directory import Directory, Manager, customer_from_dict, manager_from_dict
from alerting.errors import ConfigError


def test_customer_from_csv_row():
    c = customer_from_dict({"customer_id": "c1", "name": "张三", "assets": "1000000.50",
                            "manager_id": "m1", "branch_id": "b1", "tier": "",
                            "last_activity_at": "2024-01-01T00:00:00+08:00"})
    assert c.assets == 100_000_050 and c.tier is None and c.last_activity_at is not None


def test_update_is_partial():
    d = Directory()
    d.put_customer(customer_from_dict({"customer_id": "c1", "assets": "10", "manager_id": "m1"}))
    c = d.update_customer("c1", {"assets": "20"})
    assert c.assets == 2000 and c.manager_id == "m1"
    assert d.update_customer("new", {"manager_id": "m2"}).manager_id == "m2"


def test_supervisor_chain_is_cycle_safe():
    d = Directory(managers={
        "a": Manager("a", supervisor_id="b"), "b": Manager("b", supervisor_id="c"),
        "c": Manager("c", supervisor_id="a")})
    assert [m.manager_id for m in d.supervisors_of("a")] == ["b", "c"]


def test_manager_role_validated():
    with pytest.raises(ConfigError):
        manager_from_dict({"manager_id": "m", "role": "king"})
    m = manager_from_dict({"manager_id": "m", "role": "supervisor", "absent": "yes",
                           "delegate_id": "d"})
    assert m.absent and m.delegate_id == "d"
