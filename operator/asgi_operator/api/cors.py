"""`spec.expose.cors`: which browser origins may call the app, enforced at the edge (the HTTPRoute's standard
CORS filter, or ingress-nginx annotations) or in the app (the asgi_edge wrapper)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Final, Literal

from pydantic import Field

from .base import Model
from .durations import Duration, seconds
from .rules import Rule

# scheme://host[:port], no path, no wildcard: origins are named explicitly (a bare `*` lets every site call the
# app; with credentials browsers refuse it anyway)
ORIGIN_PATTERN: Final = r"^https?://[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]{1,5})?$"
# an HTTP header name (RFC 9110 token), as the Gateway API CRD checks it
HEADER_PATTERN: Final = r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$"
MAX_AGE_CEILING: Final = "24h"
Method = Literal["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


def _default_methods() -> list[Method]:
    return ["GET", "HEAD", "POST"]


class CORSSpec(Model):
    """Cross-origin requests from browsers: the origins named here get the Access-Control-Allow-* answers, a
    preflight from any other origin gets none. Edge (default): the generated HTTPRoute's standard CORS filter
    (the Gateway's implementation must support the HTTPRouteCORS feature) or ingress-nginx annotations on the
    main Ingress. App: the asgi_edge wrapper in the app's pod (Starlette's CORSMiddleware when the image has
    Starlette), for exposures that cannot (an existing HTTPRoute, no exposure) or a gateway without the feature."""

    allow_origins: list[Annotated[str, Field(max_length=253, pattern=ORIGIN_PATTERN)]] = Field(
        min_length=1,
        max_length=64,
        description="Origins allowed to call the app, scheme://host[:port] each (e.g. https://shop.example.com). "
        "Explicit origins only: no '*', no wildcards, no path.",
    )
    allow_credentials: bool = Field(
        False, description="Let browsers send cookies and Authorization headers (Access-Control-Allow-Credentials)."
    )
    allow_methods: list[Method] = Field(
        default_factory=_default_methods,
        min_length=1,
        max_length=7,
        description="Methods allowed in cross-origin requests.",
    )
    allow_headers: list[Annotated[str, Field(max_length=256, pattern=HEADER_PATTERN)]] = Field(
        default_factory=list,
        max_length=64,
        description="Request headers allowed beyond the CORS-safelisted ones (e.g. Authorization, Content-Type).",
    )
    expose_headers: list[Annotated[str, Field(max_length=256, pattern=HEADER_PATTERN)]] = Field(
        default_factory=list,
        max_length=64,
        description="Response headers the browser may read beyond the safelisted ones (e.g. X-Request-ID).",
    )
    max_age: Duration = Field(
        "10m", description=f"How long a browser may cache a preflight answer, 1s to {MAX_AGE_CEILING}."
    )
    enforcement: Literal["Edge", "App"] = Field(
        "Edge",
        description="Edge: the HTTPRoute's CORS filter or ingress-nginx annotations. App: the asgi_edge wrapper "
        "in the app's pod (needs observability.wrapper, the default).",
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "self.allowOrigins.all(o, self.allowOrigins.exists_one(p, p == o))",
            "allowOrigins must not repeat an origin",
            lambda c: len(set(c.allow_origins)) == len(c.allow_origins),
            ".allowOrigins",
        ),
        Rule(
            "!self.allowCredentials || !has(self.allowHeaders) || !self.allowHeaders.exists(h, h == '*')",
            "allowHeaders '*' cannot be used with allowCredentials: browsers ignore a wildcard when credentials "
            "are sent; name the headers",
            lambda c: not (c.allow_credentials and "*" in c.allow_headers),
            ".allowHeaders",
        ),
        Rule(
            "!has(self.allowHeaders) || !self.allowHeaders.exists(h, h == '*') || self.allowHeaders.size() == 1",
            "allowHeaders '*' must be alone",
            lambda c: "*" not in c.allow_headers or len(c.allow_headers) == 1,
            ".allowHeaders",
        ),
        Rule(
            f"duration(self.maxAge) >= duration('1s') && duration(self.maxAge) <= duration('{MAX_AGE_CEILING}')",
            f"maxAge must be from 1s to {MAX_AGE_CEILING}",
            lambda c: 1 <= seconds(c.max_age) <= seconds(MAX_AGE_CEILING),
            ".maxAge",
        ),
    )
