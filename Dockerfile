# syntax=docker/dockerfile:1
# The asgi-operator image. Build it with `make image` (CONTAINER_TOOL=podman or docker): .ci/image.sh makes a
# wheelhouse on the host and builds from a context holding only that (wheels/deps, wheels/app, image-install.sh),
# so the build itself needs no network. A virtualenv is made in one stage and copied into a runtime stage
# without pip or compilers, run as the non-root numeric user 65532; the root filesystem can be read-only (the
# chart mounts an emptyDir on /tmp). No HEALTHCHECK: Kubernetes probes the operator (the chart's livenessProbe).
#
# BASE_IMAGE: any Debian-like image with python3 (3.11) and its venv module. `make image` passes a base made from
# Debian's packages (mmdebstrap, no registry); the default is the official slim image, for builds with a registry.
ARG BASE_IMAGE=python:3.11.14-slim-bookworm

FROM ${BASE_IMAGE} AS build
COPY image-install.sh /usr/local/bin/image-install
# the dependencies first: this layer is reused while only the operator's own code changes
COPY wheels/deps/ /wheels/deps/
RUN sh /usr/local/bin/image-install /opt/asgi-operator /wheels/deps
COPY wheels/app/ /wheels/app/
RUN sh /usr/local/bin/image-install /opt/asgi-operator /wheels/app \
    && sh /usr/local/bin/image-install --finish /opt/asgi-operator \
    && /opt/asgi-operator/bin/asgi-operator --version

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="asgi-operator" \
      org.opencontainers.image.description="A Kubernetes operator for ASGI web services with Prometheus-gated canaries" \
      org.opencontainers.image.licenses="Apache-2.0"
# bytecode for everything it imports is made at build time (the virtualenv's in the build stage, the standard
# library's here: the official python images ship none), so a start compiles nothing and writes nothing
ENV PATH=/opt/asgi-operator/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
COPY --from=build /opt/asgi-operator /opt/asgi-operator
COPY image-install.sh /usr/local/bin/image-install
RUN sh /usr/local/bin/image-install --compile
USER 65532:65532
ENTRYPOINT ["asgi-operator"]
CMD ["run", "--all-namespaces"]
