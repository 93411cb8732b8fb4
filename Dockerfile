# dregsy's container image. Build it with `bash scripts/image` (see the README, "Run in a
# container"); `bash scripts/image --local-base` builds the same image where Docker Hub is out
# of reach, on a Debian base made locally, without network access during the build.
#
# The base is any slim Debian image with Python >= 3.11. The runtime holds dregsy in a
# virtualenv (/opt/dregsy), skopeo for `relay: skopeo`, and nothing to build with.
# (Few instructions on purpose: with the classic builder each one is a layer copy.)
ARG BASE=python:3.12-slim

FROM ${BASE} AS build
# deploy/image/wheels holds what scripts/image downloaded on the host: pip and every
# dependency, as wheels for the base; scripts/image builds with OFFLINE=1, so pip uses nothing
# else. Without it (a buildx multi-platform build) pip takes what fits from there and asks
# PyPI for the rest. The context is only what .dockerignore lets through.
ARG OFFLINE=0
COPY . /src/
RUN set -eu; \
    wheels=/src/deploy/image/wheels; \
    if ls "$wheels"/pip-*.whl >/dev/null 2>&1; then \
      python3 -m venv --without-pip /opt/dregsy; \
      set -- "$wheels"/pip-*.whl; pip="/opt/dregsy/bin/python $1/pip"; \
    else \
      python3 -m venv /opt/dregsy; pip="/opt/dregsy/bin/python -m pip"; \
    fi; \
    index=; if [ "$OFFLINE" = 1 ]; then index=--no-index; fi; \
    PIP_DISABLE_PIP_VERSION_CHECK=1 $pip install --no-cache-dir $index --find-links "$wheels" /src; \
    $pip uninstall -y -q pip 2>/dev/null || true; \
    rm -rf /opt/dregsy/bin/pip* /opt/dregsy/bin/activate* /opt/dregsy/bin/Activate.ps1; \
    /opt/dregsy/bin/dregsy --version

FROM ${BASE}
# skopeo for `relay: skopeo` (a base made by `scripts/image --local-base` has it already; the
# package lists are removed again; gpg and netavark satisfy its dependencies without perl and
# the CNI plugins). The user dregsy, UID 65532 and GID 65532, home
# /home/dregsy. Nothing is written outside /tmp, so the root filesystem can be read-only.
RUN set -eu; \
    if ! command -v skopeo >/dev/null; then \
      apt-get update; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends skopeo gpg netavark ca-certificates; \
      rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin; \
    fi; \
    skopeo --version; \
    echo 'dregsy:x:65532:65532:dregsy:/home/dregsy:/usr/sbin/nologin' >> /etc/passwd; \
    echo 'dregsy:x:65532:' >> /etc/group; \
    mkdir -p /home/dregsy; chown 65532:65532 /home/dregsy; \
    ln -s /opt/dregsy/bin/dregsy /dregsy
COPY --from=build /opt/dregsy /opt/dregsy
ENV PATH=/opt/dregsy/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/dregsy
USER 65532:65532
ENTRYPOINT ["/dregsy"]
CMD ["-config=/config.yaml"]
ARG VERSION=unknown REVISION=unknown SOURCE=unknown
LABEL org.opencontainers.image.title="dregsy" \
      org.opencontainers.image.description="Keep container images in sync between registries" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
