"""The only module that talks to Prometheus.

Every query has a timeout and is sent once (no hidden retries: the rollout asks again at its next interval).
Values come back as floats; NaN, +Inf and missing series are None ("no data"), never a number that could
pass a threshold. Any failure to get an answer is a `PrometheusUnavailable`, never an empty answer.
"""

from __future__ import annotations

import math
import threading
from typing import Final

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

NO_RETRY: Final = Retry(total=0, raise_on_status=False)


class PrometheusUnavailable(Exception):
    """Prometheus did not answer, or answered with an error."""


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class Prometheus:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self._client = PrometheusConnect(url=url, disable_ssl=False, retry=NO_RETRY, timeout=timeout)

    def vector(self, query: str, by: str) -> dict[str, float | None]:
        """Run an instant query; return {value of label `by`: sample value} for each series."""
        try:
            result = self._client.custom_query(query=query)
        except (PrometheusApiClientException, requests.RequestException, ValueError) as e:
            raise PrometheusUnavailable(f"{self.url}: {e}") from e
        out: dict[str, float | None] = {}
        for series in result if isinstance(result, list) else []:
            if isinstance(series, dict) and "value" in series:
                out[str(series.get("metric", {}).get(by, ""))] = _number(series["value"][1])
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
