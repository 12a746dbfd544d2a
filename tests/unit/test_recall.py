"""What the reconciler remembers of an object between passes (controller.recall): a transient problem is told only
once it outlived its retry, and a missing child of a kind whose CRD came since the last complete pass is created,
not put back."""

from __future__ import annotations

from asgi_operator.api.vocabulary import EventReason
from asgi_operator.controller.recall import Recall
from asgi_operator.reconcile.changes import Change, classify, newly_served
from asgi_operator.reconcile.status import Problem

KEY = ("shop", "web")
BOTH = frozenset({"PodMonitor", "Certificate"})


def test_a_kind_served_since_the_last_complete_pass_is_new_and_none_known_after_a_restart() -> None:
    assert newly_served(BOTH, frozenset({"Certificate"})) == {"PodMonitor"}
    assert newly_served(BOTH, BOTH) == frozenset()
    assert newly_served(BOTH, None) == BOTH  # no pass known (a restart): nothing the last one wanted is known
    recall = Recall()
    assert recall.newly_served(KEY, BOTH) == BOTH
    recall.wrote_every_child(KEY, frozenset({"Certificate"}))
    assert recall.newly_served(KEY, BOTH) == {"PodMonitor"}
    recall.wrote_every_child(KEY, BOTH)
    assert recall.newly_served(KEY, BOTH) == frozenset()
    recall.forget(KEY)
    assert recall.newly_served(KEY, BOTH) == BOTH


def test_a_missing_child_is_a_repair_only_where_the_last_pass_wrote_it() -> None:
    manifest = {"metadata": {"annotations": {"asgi.dev/config-hash": "h"}}}
    assert classify(manifest, None, converged_before=True) == Change.REPAIRED
    # the writer passes converged_before=False for a kind in newly_served (controller.children)
    assert classify(manifest, None, converged_before=False) == Change.CREATED


def test_a_transient_problem_is_told_from_its_second_failure_in_a_row_on() -> None:
    recall = Recall()
    passing = Problem(EventReason.API_ERROR, "500 InternalError: etcd", stalled=False, transient=True)
    assert [recall.tells(KEY, passing) for _ in range(3)] == [False, True, True]
    recall.succeeded(KEY)
    assert recall.tells(KEY, passing) is False  # a new series after a pass that got through
    assert recall.tells(("shop", "other"), Problem(EventReason.FORBIDDEN, "no", stalled=False)) is True
