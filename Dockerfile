# latentode: CPU image that runs the demo by default.
#   docker build -t latentode .
#   docker run --rm -v "$PWD/out:/out" latentode demo --out /out
#   docker run --rm -p 5000:5000 latentode ... (see README "Track, register, serve")
FROM python:3.11-slim

# Which torch to install. The default resolves from the package index configured for pip;
# point PIP_EXTRA_INDEX_URL at a CPU-only wheel index to keep the image small.
ARG TORCH_SPEC="torch==2.13.0"
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 MPLBACKEND=Agg

WORKDIR /app
COPY pyproject.toml README.md ./
COPY latentode ./latentode
RUN pip install "${TORCH_SPEC}" && pip install ".[mlflow]"

RUN useradd --create-home latentode
USER latentode
ENTRYPOINT ["latentode"]
CMD ["demo", "--out", "/tmp/latentode-demo"]
