"""Assignment: the customer's manager, tier override, absences, cycles."""

from __future__ import annotations

from dataclasses import replace

from alerting.directory import Customer, Directory, Manager
from alerting.routing.assign import assign_owner, chain_above, present


def test_customer_manager(directory: Directory) -> None:
    assert assign_owner(directory.customer("C1"), None, directory) == ("m1", "account_manager")


def test_unknown_customer_or_manager(directory: Directory) -> None:
    assert assign_owner(None, None, directory) == (None, None)
    assert assign_owner(Customer("X"), None, directory) == (None, None)
    assert assign_owner(Customer("X", manager_id="ghost"), None, directory) == ("ghost", None)


def test_tier_override_up_the_chain(directory: Directory) -> None:
    c = directory.customer("C1")
    assert assign_owner(c, "branch_vp", directory) == ("v1", "branch_vp")
    assert assign_owner(c, "branch_president", directory) == ("p1", "branch_president")


def test_tier_override_falls_back_to_branch(directory: Directory) -> None:
    # m4 reports to nobody, but the customer is in branch B2: B2's president owns it
    directory.put_manager(Manager("m4", branch_id="B2"))
    c = Customer("C4", manager_id="m4", branch_id="B2")
    assert assign_owner(c, "branch_president", directory) == ("p2", "branch_president")
    # no manager at all, but a branch
    assert assign_owner(Customer("C5", branch_id="B2"), "branch_vp", directory) == \
        ("v2", "branch_vp")


def test_tier_override_without_such_role_keeps_manager(directory: Directory) -> None:
    c = Customer("C6", manager_id="m1", branch_id="B1")
    assert assign_owner(c, "regional_head", directory) == ("m1", "account_manager")


def test_absent_hands_over_to_delegate(directory: Directory) -> None:
    directory.put_manager(replace(directory.managers["m1"], absent=True, delegate_id="m2"))
    assert assign_owner(directory.customer("C1"), None, directory) == ("m2", "account_manager")
    assert present(directory, "m1") == ("m2", ["m1"])


def test_absent_without_delegate_goes_to_supervisor(directory: Directory) -> None:
    directory.put_manager(replace(directory.managers["m1"], absent=True))
    directory.put_manager(replace(directory.managers["s1"], absent=True))
    assert assign_owner(directory.customer("C1"), None, directory) == ("v1", "branch_vp")
    assert present(directory, "m1") == ("v1", ["m1", "s1"])


def test_absent_tier_owner_hands_over(directory: Directory) -> None:
    directory.put_manager(replace(directory.managers["v1"], absent=True, delegate_id="s2"))
    assert assign_owner(directory.customer("C1"), "branch_vp", directory) == ("s2", "supervisor")


def test_delegate_cycle_is_safe() -> None:
    d = Directory()
    d.put_manager(Manager("a", absent=True, delegate_id="b"))
    d.put_manager(Manager("b", absent=True, delegate_id="a"))
    who, passed = present(d, "a")
    assert who == "b" and passed == ["a"]
    assert assign_owner(Customer("C", manager_id="a"), None, d) == ("b", "account_manager")


def test_supervisor_cycle_is_safe() -> None:
    d = Directory()
    d.put_manager(Manager("a", supervisor_id="b"))
    d.put_manager(Manager("b", supervisor_id="c"))
    d.put_manager(Manager("c", supervisor_id="a"))
    assert [m.manager_id for m in chain_above(d, "a")] == ["b", "c"]
    assert assign_owner(Customer("C", manager_id="a"), "branch_vp", d) == ("a",
                                                                          "account_manager")
