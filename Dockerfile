# syntax=docker/dockerfile:1
# The asgi-operator image: a virtualenv built in one stage, copied into a slim runtime without compilers,
# run as a non-root numeric user. No HEALTHCHECK: Kubernetes probes the operator (the chart's livenessProbe).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY .ci/image-install.sh /usr/local/bin/image-install
# the exact steps `make test` runs in a fresh virtualenv (tests/integration/test_image.py)
RUN sh /usr/local/bin/image-install /opt/asgi-operator /src

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="asgi-operator" \
      org.opencontainers.image.description="A Kubernetes operator for ASGI web services with Prometheus-gated canaries" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/asgi-operator/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
COPY --from=build /opt/asgi-operator /opt/asgi-operator
USER 65532:65532
ENTRYPOINT ["asgi-operator"]
CMD ["run", "--all-namespaces"]
