"""Who owns a task when it is created (placeholder: the routing work replaces the body)."""

from __future__ import annotations

from alerting.directory import Customer, DirectoryReader


def assign_owner(customer: Customer | None, owner_role: str | None,
                 directory: DirectoryReader) -> tuple[str | None, str | None]:
    """Return (manager_id, role) for a new task: the customer's manager, unless the customer's
    tier names an ``owner_role`` (branch_vp, branch_president), in which case the nearest
    manager of that role above the customer's manager."""
    if customer is None or customer.manager_id is None:
        return None, None
    mgr = directory.manager(customer.manager_id)
    if owner_role is None or mgr is None or mgr.role == owner_role:
        return customer.manager_id, (mgr.role if mgr else None)
    seen = {mgr.manager_id}
    cur = mgr
    while cur.supervisor_id and cur.supervisor_id not in seen:
        seen.add(cur.supervisor_id)
        nxt = directory.manager(cur.supervisor_id)
        if nxt is None:
            break
        if nxt.role == owner_role:
            return nxt.manager_id, nxt.role
        cur = nxt
    return customer.manager_id, mgr.role
