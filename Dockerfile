# syntax=docker/dockerfile:1
# latentode images. Two targets:
#   cli   (default)  the latentode command; runs the demo unless told otherwise
#   serve            an MLflow scoring server for a logged latentode model on port 5000
#
#   docker build -t latentode .                                    # CPU torch (small)
#   docker run --rm -v "$PWD/out:/out" latentode demo --out /out
#   docker build --target serve -t latentode-serve .
#   docker run --rm -p 5000:5000 -v "$PWD/model:/models/model:ro" latentode-serve
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 \
#       --build-arg PYTHON_IMAGE=python:3.11-slim -t latentode:cuda .   # CUDA torch
# The build needs the package indexes; nothing is downloaded when a container runs.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
# Which torch wheel: CPU-only by default; a CUDA index for GPUs; empty = pip's own index.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# Extras of latentode baked into the image, comma-separated (serve needs mlflow; the demo's
# default dataset, the pbcseq clinic visits, needs real).
ARG EXTRAS=mlflow,real
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
# 1. torch alone, from its own index (the largest layer; changes only with TORCH_*).
RUN python -m venv /opt/venv \
    && if [ -n "${TORCH_INDEX_URL}" ]; then export PIP_INDEX_URL="${TORCH_INDEX_URL}"; fi \
    && pip install "torch==${TORCH_VERSION}"
WORKDIR /src
# 2. the other dependencies, read from pyproject.toml only: editing the code keeps this layer.
COPY pyproject.toml ./
COPY docker/requirements.py docker/
RUN python docker/requirements.py "${EXTRAS}" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
# 3. the package itself, without touching the dependencies.
COPY README.md LICENSE* ./
COPY latentode ./latentode
RUN pip install --no-deps . && latentode --version

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 MPLBACKEND=Agg \
    MLFLOW_TRACKING_URI=sqlite:////work/mlflow.db
COPY --from=build /opt/venv /opt/venv
# A numeric, unprivileged user (Kubernetes runAsNonRoot can check a number, not a name).
RUN groupadd --gid 10001 latentode \
    && useradd --uid 10001 --gid 10001 --home-dir /work --create-home --shell /usr/sbin/nologin latentode
WORKDIR /work
USER 10001:10001

FROM runtime AS serve
# Mount a logged model (an MLflow model directory) at /models/model, or pass -m URI.
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/ping', timeout=4)"]
ENTRYPOINT ["mlflow", "models", "serve", "--env-manager", "local", "--host", "0.0.0.0", "--port", "5000"]
CMD ["-m", "/models/model"]

FROM runtime AS cli
ENTRYPOINT ["latentode"]
CMD ["demo", "--out", "/work/latentode-demo"]
