"""Where the pods run: node selection, tolerations, affinity, topology spread and priority, in Kubernetes' shape.

Not supported (rejected as unknown fields): a toleration's numeric operators (Lt, Gt), nodeName, runtimeClassName,
schedulerName, overhead, preemptionPolicy, hostNetwork/hostPID/hostIPC (which the restricted Pod Security Standard
forbids anyway).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import Field

from .base import Model
from .patterns import DNS_LABEL_PATTERN, LABEL_VALUE_PATTERN, QUALIFIED_NAME_PATTERN
from .rules import Rule

MAX_TERMS: Final = 16
MAX_EXPRESSIONS: Final = 16
MAX_VALUES: Final = 32

# The default topology spread: across zones and across nodes, best effort (see AsgiServiceSpec's description).
ZONE_KEY: Final = "topology.kubernetes.io/zone"
HOSTNAME_KEY: Final = "kubernetes.io/hostname"
POD_TEMPLATE_HASH: Final = "pod-template-hash"

LabelKey = Annotated[str, Field(min_length=1, max_length=317, pattern=QUALIFIED_NAME_PATTERN)]
LabelValue = Annotated[str, Field(max_length=63, pattern=LABEL_VALUE_PATTERN)]


def _label_key(description: str) -> Any:
    return Field(min_length=1, max_length=317, pattern=QUALIFIED_NAME_PATTERN, description=description)


class LabelSelectorRequirement(Model):
    """A label key, an operator and values."""

    key: str = _label_key("The label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(description="How the values apply.")
    values: list[LabelValue] | None = Field(
        None, max_length=MAX_VALUES, description="For In and NotIn (at least one); none for Exists, DoesNotExist."
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : "
            "(!has(self.values) || size(self.values) == 0)",
            "values: In and NotIn need at least one value, Exists and DoesNotExist none",
            lambda r: bool(r.values) == (r.operator in ("In", "NotIn")),
            ".values",
        ),
    )


class LabelSelector(Model):
    """Pods selected by labels (both parts must match)."""

    match_labels: dict[str, LabelValue] | None = Field(
        None, max_length=16, description="Labels a pod must have (keys such as app or example.com/team)."
    )
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        None, max_length=MAX_EXPRESSIONS, description="Requirements a pod's labels must meet."
    )


class NodeSelectorRequirement(Model):
    """A node label (or field) key, an operator and values."""

    key: str = _label_key("The node label key (matchFields: metadata.name).")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"] = Field(
        description="How the values apply (Gt and Lt: one integer value)."
    )
    values: list[Annotated[str, Field(max_length=63)]] | None = Field(
        None, max_length=MAX_VALUES, description="For In and NotIn (at least one), Gt and Lt (exactly one)."
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : "
            "self.operator in ['Gt', 'Lt'] ? (has(self.values) && size(self.values) == 1) : "
            "(!has(self.values) || size(self.values) == 0)",
            "values: In and NotIn need at least one value, Gt and Lt exactly one, Exists and DoesNotExist none",
            lambda r: (
                bool(r.values)
                if r.operator in ("In", "NotIn")
                else len(r.values or []) == 1
                if r.operator in ("Gt", "Lt")
                else not r.values
            ),
            ".values",
        ),
    )


class NodeSelectorTerm(Model):
    """Requirements a node must meet (all of them)."""

    match_expressions: list[NodeSelectorRequirement] | None = Field(
        None, max_length=MAX_EXPRESSIONS, description="On the node's labels."
    )
    match_fields: list[NodeSelectorRequirement] | None = Field(
        None, max_length=MAX_EXPRESSIONS, description="On the node's fields (metadata.name)."
    )


class NodeSelector(Model):
    """Nodes meeting any of the terms."""

    node_selector_terms: list[NodeSelectorTerm] = Field(
        min_length=1, max_length=MAX_TERMS, description="A node must meet one of these terms."
    )


class PreferredSchedulingTerm(Model):
    """A weighted preference for nodes."""

    weight: int = Field(ge=1, le=100, description="1 to 100.")
    preference: NodeSelectorTerm = Field(description="The nodes preferred.")


class NodeAffinity(Model):
    """Which nodes the pods may run on, or prefer."""

    required_during_scheduling_ignored_during_execution: NodeSelector | None = Field(
        None, description="Nodes the pods must run on."
    )
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = Field(
        None, max_length=MAX_TERMS, description="Nodes the pods prefer."
    )


class PodAffinityTerm(Model):
    """Pods (selected by labels, in namespaces) in the same topology domain."""

    label_selector: LabelSelector | None = Field(None, description="The pods.")
    namespace_selector: LabelSelector | None = Field(None, description="Their namespaces, by label.")
    namespaces: list[Annotated[str, Field(max_length=63, pattern=DNS_LABEL_PATTERN)]] | None = Field(
        None, max_length=MAX_VALUES, description="Their namespaces, by name (unset: this pod's)."
    )
    topology_key: str = _label_key(
        "The node label defining a domain, e.g. kubernetes.io/hostname or topology.kubernetes.io/zone."
    )
    match_label_keys: list[LabelKey] | None = Field(
        None, max_length=MAX_VALUES, description="Label keys whose values are taken from the incoming pod."
    )
    mismatch_label_keys: list[LabelKey] | None = Field(
        None, max_length=MAX_VALUES, description="Label keys whose values must differ from the incoming pod's."
    )


class WeightedPodAffinityTerm(Model):
    """A weighted preference."""

    weight: int = Field(ge=1, le=100, description="1 to 100.")
    pod_affinity_term: PodAffinityTerm = Field(description="The term.")


class PodAffinity(Model):
    """Run near (affinity) or away from (anti-affinity) other pods."""

    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = Field(
        None, max_length=MAX_TERMS, description="Terms that must hold."
    )
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = Field(
        None, max_length=MAX_TERMS, description="Terms preferred."
    )


class Affinity(Model):
    """Node affinity, pod affinity and pod anti-affinity, as in a Pod."""

    node_affinity: NodeAffinity | None = Field(None, description="Which nodes.")
    pod_affinity: PodAffinity | None = Field(None, description="Near which pods.")
    pod_anti_affinity: PodAffinity | None = Field(None, description="Away from which pods.")


class Toleration(Model):
    """Lets the pods run on nodes with a matching taint."""

    key: str | None = Field(
        None, max_length=317, pattern=QUALIFIED_NAME_PATTERN, description="The taint's key (unset: every key; Exists)."
    )
    operator: Literal["Exists", "Equal"] | None = Field(None, description="Equal (the default) or Exists.")
    value: str | None = Field(None, max_length=63, pattern=LABEL_VALUE_PATTERN, description="For Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="The taint effect to tolerate (unset: all)."
    )
    toleration_seconds: int | None = Field(
        None, ge=0, le=2**31, description="NoExecute only: how long the pod stays once the taint appears."
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!(has(self.operator) && self.operator == 'Exists' && has(self.value) && self.value != '')",
            "value must be empty when operator is Exists",
            lambda t: not (t.operator == "Exists" and t.value),
            ".value",
        ),
        Rule(
            "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
            "operator must be Exists when key is empty (a toleration of every taint)",
            lambda t: bool(t.key) or t.operator == "Exists",
            ".operator",
        ),
        Rule(
            "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
            "tolerationSeconds needs effect NoExecute",
            lambda t: t.toleration_seconds is None or t.effect == "NoExecute",
            ".effect",
        ),
    )


class TopologySpreadConstraint(Model):
    """Spread the pods across a topology (zones, nodes), as in a Pod."""

    max_skew: int = Field(ge=1, le=1000, description="How uneven the spread may be (at least 1).")
    topology_key: str = _label_key(f"The node label defining a domain, e.g. {ZONE_KEY} or {HOSTNAME_KEY}.")
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"] = Field(
        description="DoNotSchedule (a hard rule: pods stay Pending) or ScheduleAnyway (a preference)."
    )
    label_selector: LabelSelector | None = Field(
        None,
        description="The pods counted. Unset: the operator fills this AsgiService's pods (asgi.dev/name) and "
        f"matchLabelKeys [{POD_TEMPLATE_HASH}] (each ReplicaSet spreads on its own: canary and stable, old and new).",
    )
    min_domains: int | None = Field(None, ge=1, le=1000, description="DoNotSchedule only: the fewest domains.")
    node_affinity_policy: Literal["Honor", "Ignore"] | None = Field(
        None, description="Whether nodeAffinity/nodeSelector limit the domains counted (default Honor)."
    )
    node_taints_policy: Literal["Honor", "Ignore"] | None = Field(
        None, description="Whether tainted nodes are counted (default Ignore)."
    )
    match_label_keys: list[LabelKey] | None = Field(
        None, max_length=8, description="Pod label keys whose values narrow the selection, e.g. pod-template-hash."
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!has(self.minDomains) || self.whenUnsatisfiable == 'DoNotSchedule'",
            "minDomains needs whenUnsatisfiable DoNotSchedule",
            lambda t: t.min_domains is None or t.when_unsatisfiable == "DoNotSchedule",
            ".minDomains",
        ),
    )


def default_topology_spread() -> list[TopologySpreadConstraint]:
    """What the operator renders when `topologySpreadConstraints` is unset: best-effort spread of each
    ReplicaSet across zones and across nodes (the label selector is filled in at render time)."""
    return [
        TopologySpreadConstraint(max_skew=1, topology_key=key, when_unsatisfiable="ScheduleAnyway")
        for key in (ZONE_KEY, HOSTNAME_KEY)
    ]
