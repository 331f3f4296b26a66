# TOM in one image: the Python service plus the built operator dashboard.
# Build:  docker build -t tom .
# Run:    docker compose up   (see docker-compose.yml and docs/METRICS.md)
#
# llama-cpp-python compiles llama.cpp here. By default it is tuned for the CPU of the build
# machine; for an image that runs on other hosts pass e.g.
#   --build-arg CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"

# --- dashboard: React build, only its static output is kept --------------------------------
FROM node:20-slim AS dashboard
WORKDIR /build
COPY dashboard/package.json dashboard/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY dashboard/ ./
RUN npm run build

# --- python: compile wheels (llama.cpp needs a C/C++ toolchain and cmake) ------------------
FROM python:3.11-slim AS builder
ARG CMAKE_ARGS=""
ENV CMAKE_ARGS=${CMAKE_ARGS} \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The system packages come from the one list TOM's Makefile and CI use too.
COPY scripts/install-system-packages.sh /usr/local/bin/
RUN install-system-packages.sh build && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY tom/ tom/
RUN pip install .
# Smart Turn's ONNX model (semantic end of turn) ships inside this wheel; only the file is used
RUN pip install --no-deps 'pipecat-ai==1.14.0'

# --- runtime: no compilers, non-root --------------------------------------------------------
FROM python:3.11-slim
# "runtime": libgomp1 (OpenMP for llama.cpp and CTranslate2), libportaudio2 (sounddevice).
COPY scripts/install-system-packages.sh /usr/local/bin/
RUN install-system-packages.sh runtime \
 && rm -rf /var/lib/apt/lists/* /usr/local/bin/install-system-packages.sh \
 && useradd --create-home --uid 10001 tom
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY config/ config/
COPY --from=dashboard /build/dist /app/dashboard/dist
RUN mkdir -p /app/data/runtime && chown -R tom:tom /app/data
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    OMP_WAIT_POLICY=PASSIVE \
    TOM_SERVER_DASHBOARD_DIR=/app/dashboard/dist \
    TOM_DATA_DIR=/app/data/runtime \
    TOM_LOG_FORMAT=json
USER tom
VOLUME ["/app/data/runtime"]
# 8080: HTTP (dashboard, API, /metrics, Twilio media streams); 9092: AudioSocket (Asterisk).
EXPOSE 8080 9092
# SIP (off by default: TOM_SIP_ENABLED=true, TOM_SIP_HOST=0.0.0.0): 5060 UDP+TCP, RTP 40000-40199/udp.
EXPOSE 5060/udp 5060/tcp 40000-40199/udp
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"]
# --config: the installed package cannot see /app/config by itself.
CMD ["tom", "--config", "/app/config/tom.toml", "serve", "--host", "0.0.0.0"]
