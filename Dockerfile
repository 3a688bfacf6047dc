# One image for the bot replicas and the verification workers (compose.yaml picks the command).
# Not built on the development machine (no Docker there); kept minimal and in step with the Makefile.
FROM python:3.11-slim-bookworm
# OpenCV's and onnxruntime's wheels need these shared libraries.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libgomp1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY locales ./locales
RUN pip install --no-cache-dir .
# Not root: the data volume is the only place it writes.
RUN useradd --system --uid 10001 --home-dir /app shiming && mkdir /data && chown shiming /data
USER shiming
ENV DATA_DIR=/data LOCALES_DIR=/app/locales PYTHONUNBUFFERED=1
EXPOSE 8080
CMD ["python", "-m", "bot"]
