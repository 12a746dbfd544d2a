"""The only module that talks to Prometheus.

Every query has a timeout and is sent once (no hidden retries: the rollout asks again at its next interval).
Sample values come back as floats exactly as Prometheus gave them: NaN and +Inf included, because they mean
different things to the analysis (no observations vs. beyond the largest bucket); a series that is absent is
simply not in the answer. Any failure to get an answer raises, never an empty answer, and the two failures a
person fixes differently are told apart:

- `PrometheusUnreachable`: no answer (connection refused, timeout, 5xx, a body that is not Prometheus JSON);
- `QueryRejected`: Prometheus answered and refused the query (HTTP 400/422), with its own error message.
"""

from __future__ import annotations

import ast
import json
import math
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

NO_RETRY: Final = Retry(total=0, raise_on_status=False)


class PrometheusError(Exception):
    """Prometheus gave no usable answer."""


class PrometheusUnreachable(PrometheusError):
    """No answer: connection refused, timeout, a 5xx, or a body that is not Prometheus' JSON."""


class QueryRejected(PrometheusError):
    """Prometheus answered and refused the query (bad PromQL, a limit, an unknown function)."""


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    value: float  # NaN and +/-Inf as Prometheus returned them


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


_STATUS: Final = re.compile(r"HTTP Status Code (\d+) \((b(?:'.*'|\".*\"))\)\s*$", re.S)


def _rejection(error: PrometheusApiClientException) -> str | None:
    """Prometheus' own message for a 400/422 answer; None for any other status. (prometheus-api-client
    raises "HTTP Status Code 400 (b'{...,"error":"..."}')": the body is a bytes literal.)"""
    text = str(error)
    found = _STATUS.search(text)
    if found is None or found.group(1) not in ("400", "422"):
        return None
    try:
        body = json.loads(ast.literal_eval(found.group(2)))
        return f"{body.get('errorType', 'error')}: {body['error']}"
    except (ValueError, SyntaxError, KeyError, TypeError, AttributeError):
        return text


class Prometheus:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self._client = PrometheusConnect(url=url, disable_ssl=False, retry=NO_RETRY, timeout=timeout)

    def query(self, query: str, at: datetime | None = None) -> list[Series]:
        """Run an instant query (now, or evaluated at `at`); every series of the resulting vector."""
        params = {"time": f"{at.timestamp():.3f}"} if at is not None else None
        try:
            result = self._client.custom_query(query=query, params=params)
        except PrometheusApiClientException as e:
            rejected = _rejection(e)
            if rejected is not None:
                raise QueryRejected(f"{self.url} rejected the query: {rejected}") from e
            raise PrometheusUnreachable(f"{self.url}: {e}") from e
        except (requests.RequestException, ValueError, KeyError, TypeError) as e:
            raise PrometheusUnreachable(f"{self.url}: {e}") from e
        if not isinstance(result, list):
            raise PrometheusUnreachable(f"{self.url}: the answer is not a vector: {str(result)[:200]}")
        out: list[Series] = []
        for item in result:
            if isinstance(item, dict) and isinstance(item.get("value"), list) and len(item["value"]) == 2:
                labels = item.get("metric") or {}
                out.append(Series({str(k): str(v) for k, v in labels.items()}, _number(item["value"][1])))
        return out


class PrometheusPool:
    """One client per (address, timeout), created on first use."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, float], Prometheus] = {}
        self._lock = threading.Lock()

    def get(self, url: str, timeout: float) -> Prometheus:
        with self._lock:
            key = (url.rstrip("/"), timeout)
            if key not in self._clients:
                self._clients[key] = Prometheus(key[0], timeout)
            return self._clients[key]
