"""Who owns a task: the customer's manager, overridden by the customer's tier (the nearest
manager of the tier's ``owner_role`` up the chain, else one of that role in the customer's
branch), handed over while absent to the named delegate or else the supervisor.

Every walk through the hierarchy is cycle-safe: a loop in supervisor or delegate ids ends the
walk instead of spinning.
"""

from __future__ import annotations

from alerting.directory import Customer, DirectoryReader, Manager


def chain_above(directory: DirectoryReader, manager_id: str) -> list[Manager]:
    """The supervisors above ``manager_id``, nearest first (cycle-safe)."""
    chain: list[Manager] = []
    seen = {manager_id}
    m = directory.manager(manager_id)
    while m is not None and m.supervisor_id and m.supervisor_id not in seen:
        seen.add(m.supervisor_id)
        m = directory.manager(m.supervisor_id)
        if m is not None:
            chain.append(m)
    return chain


def present(directory: DirectoryReader, manager_id: str) -> tuple[str, list[str]]:
    """Follow absences: an absent manager hands over to their ``delegate_id``, else their
    supervisor. Returns (who acts, the absent managers passed over). If every candidate is
    absent (or the walk loops), the last one reached keeps the task."""
    passed: list[str] = []
    seen = {manager_id}
    cur = manager_id
    while True:
        m = directory.manager(cur)
        if m is None or not m.absent:
            return cur, passed
        nxt = next((c for c in (m.delegate_id, m.supervisor_id)
                    if c and c not in seen and directory.manager(c) is not None), None)
        if nxt is None:
            return cur, passed
        passed.append(cur)
        seen.add(nxt)
        cur = nxt


def _in_branch(directory: DirectoryReader, branch_id: str | None, role: str) -> Manager | None:
    """A manager of ``role`` in ``branch_id`` (lowest id, deterministic), if the directory can
    enumerate managers."""
    managers = getattr(directory, "managers", None)
    if branch_id is None or not isinstance(managers, dict):
        return None
    found = sorted((m for m in managers.values() if m.role == role and m.branch_id == branch_id),
                   key=lambda m: m.manager_id)
    return found[0] if found else None


def owner_for_role(directory: DirectoryReader, manager: Manager, owner_role: str,
                   branch_id: str | None) -> Manager | None:
    """The nearest manager of ``owner_role`` at or above ``manager``, else in the branch."""
    if manager.role == owner_role:
        return manager
    for m in chain_above(directory, manager.manager_id):
        if m.role == owner_role:
            return m
    return _in_branch(directory, branch_id or manager.branch_id, owner_role)


def assign_owner(customer: Customer | None, owner_role: str | None,
                 directory: DirectoryReader) -> tuple[str | None, str | None]:
    """Return (manager_id, role) for a new task: the customer's manager, unless the customer's
    tier names an ``owner_role`` (branch_vp, branch_president), in which case the nearest
    manager of that role above the customer's manager (or in the customer's branch); then an
    absent owner hands over to their delegate or supervisor."""
    if customer is None:
        return None, None
    owner: Manager | None = None
    if customer.manager_id is not None:
        owner = directory.manager(customer.manager_id)
        if owner is None:
            return customer.manager_id, None
    if owner_role is not None:
        if owner is not None:
            owner = owner_for_role(directory, owner, owner_role, customer.branch_id) or owner
        else:
            owner = _in_branch(directory, customer.branch_id, owner_role)
    if owner is None:
        return None, None
    acting, _ = present(directory, owner.manager_id)
    m = directory.manager(acting)
    return acting, (m.role if m is not None else None)
