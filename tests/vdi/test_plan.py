"""The plan is a pure function of the wanted size and what is observed."""

from vdi.plan import DesktopView, plan_pool


def view(n: int, state: str = "ready", *, assigned: bool = False, exists: bool = True) -> DesktopView:
    return DesktopView(f"lab-{n:03d}", state, assigned, exists, "hv1")


def actions(items):
    return [(i.action, i.desktop) for i in items]


def test_scale_up_to_wanted_plus_spare_with_the_lowest_free_numbers():
    items = plan_pool("lab", wanted=2, spare=3, max_size=10, desktops=[view(2, "in_use", assigned=True)])
    assert actions(items) == [("create", "lab-001"), ("create", "lab-003"), ("create", "lab-004")]


def test_scale_down_deletes_unassigned_desktops_bad_ones_first_never_assigned_ones():
    desktops = [view(1, "in_use", assigned=True), view(2), view(3), view(4, "broken"), view(5, "assigned",
                                                                                            assigned=True)]
    items = plan_pool("lab", wanted=0, spare=1, max_size=10, desktops=desktops)
    assert actions(items) == [("delete", "lab-004"), ("delete", "lab-003")]


def test_broken_missing_and_released_desktops_are_replaced_and_orphans_deleted():
    desktops = [view(1, "broken"), view(2, exists=False), view(3, "draining"), view(4, "provisioning", exists=False)]
    items = plan_pool("lab", wanted=4, spare=0, max_size=10, desktops=desktops, orphans=["lab-009"])
    assert actions(items) == [("replace", "lab-001"), ("replace", "lab-002"), ("replace", "lab-003"),
                              ("delete", "lab-009")]


def test_the_maximum_caps_the_target():
    assert len(plan_pool("lab", wanted=50, spare=5, max_size=3, desktops=[])) == 3
