"""`spec.rollout.preDeploy`: a command (a database migration, typically) run once per revision as a Job, with the
new revision's image, environment, volumes and service account, before any pod of that revision starts."""

from __future__ import annotations

from typing import Annotated, ClassVar, Final

from pydantic import Field

from .base import Model
from .durations import Duration, seconds
from .rules import Rule

MIN_TTL: Final = "10m"  # a finished Job is kept at least this long: the operator must see its outcome first
MAX_ACTIVE: Final = "6h"


class PreDeploySpec(Model):
    """A command run once per revision, as a Job, BEFORE any pod of the revision starts: the canary's pods (or,
    with the RollingUpdate strategy and at the first deploy, the Deployment's new pods) wait for its success.
    Typical use: `alembic upgrade head`. The Job runs the app container's image, env, envFrom, volume mounts,
    resources and the pod's service account, volumes, init containers and sidecars, with this command instead
    of the server's. Failure stops the rollout (condition and event with the Job's reason and the last lines of
    its log); `kubectl asgi retry` runs it again. Migrations must be compatible with the stable revision that
    keeps serving meanwhile (expand/contract), since a canary may still be rolled back. No post-promotion hook:
    run clean-ups (the contract step) as the next revision's preDeploy."""

    command: list[Annotated[str, Field(max_length=4096)]] = Field(
        min_length=1,
        max_length=64,
        description="The command and its arguments, exec form (no shell), e.g. [alembic, upgrade, head].",
    )
    timeout: Duration = Field(
        "10m",
        description=f"How long the Job may run (activeDeadlineSeconds), retries included; at most {MAX_ACTIVE}. "
        "Past it the Job fails with DeadlineExceeded.",
    )
    backoff_limit: int = Field(
        0,
        ge=0,
        le=10,
        description="Retries of a failed pod before the Job fails. 0 (default): a migration is run once; "
        "a failure needs a person (kubectl asgi retry).",
    )
    ttl_after_finished: Duration = Field(
        "1h",
        description=f"A finished Job (and its pod, with its log) is kept this long, then deleted by Kubernetes "
        f"(ttlSecondsAfterFinished). At least {MIN_TTL}.",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            f"duration(self.timeout) >= duration('1s') && duration(self.timeout) <= duration('{MAX_ACTIVE}')",
            f"timeout must be from 1s to {MAX_ACTIVE}",
            lambda p: 1 <= seconds(p.timeout) <= seconds(MAX_ACTIVE),
            ".timeout",
        ),
        Rule(
            f"duration(self.ttlAfterFinished) >= duration('{MIN_TTL}')",
            f"ttlAfterFinished must be at least {MIN_TTL}: the operator must see the Job's outcome before it is "
            "deleted",
            lambda p: seconds(p.ttl_after_finished) >= seconds(MIN_TTL),
            ".ttlAfterFinished",
        ),
        Rule(
            "self.command.all(c, size(c) > 0)",
            "command must not contain empty strings",
            lambda p: all(p.command),
            ".command",
        ),
    )
