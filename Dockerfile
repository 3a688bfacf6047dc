# One image for the bot replicas and the verification workers (compose.yaml picks the command).
# Not built on the development machine (no Docker there); kept minimal and in step with the Makefile.
FROM python:3.11-slim-bookworm
# OpenCV's and onnxruntime's wheels need these shared libraries.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libgomp1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md requirements-runtime.lock ./
COPY bot ./bot
COPY locales ./locales
# The locked versions, hash-checked (`make lock` refreshes both locks; this one is requirements.lock
# without the test tools), then the project itself without resolving: the image has what the test suite
# ran on, whatever PyPI offers on the day of the build.
RUN pip install --no-cache-dir --require-hashes -r requirements-runtime.lock \
 && pip install --no-cache-dir --no-deps . \
 && pip check
# Not root: the data volume is the only place it writes.
RUN useradd --system --uid 10001 --home-dir /app shiming && mkdir /data && chown shiming /data
USER shiming
ENV DATA_DIR=/data LOCALES_DIR=/app/locales PYTHONUNBUFFERED=1
EXPOSE 8080
CMD ["python", "-m", "bot"]
