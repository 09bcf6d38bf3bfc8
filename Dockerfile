# The exchange's processes (gateway, risk, match) in one image; docker-compose.yml runs
# them over Kafka and Redis. Not built in CI (no Docker engine there): see README.

# The build stage has a C compiler, so the core is compiled by mypyc (setup.py); the
# image that runs carries the built environment only.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
ENV UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy
WORKDIR /app
RUN pip install --no-cache-dir uv==0.13.8
COPY pyproject.toml uv.lock README.md setup.py ./
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable && rm -rf /root/.cache
# Refuse to ship the slow core by accident.
RUN .venv/bin/exchange --version | grep -q "core compiled"

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PATH=/app/.venv/bin:$PATH
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
# No privileges needed: the state lives in Kafka and Redis.
RUN useradd --system exchange
USER exchange
ENTRYPOINT ["exchange"]
CMD ["--help"]
