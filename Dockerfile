# The exchange's processes (gateway, risk, match) in one image; docker-compose.yml runs
# them over Kafka and Redis. Not built in CI (no Docker engine there): see README.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy
WORKDIR /app
RUN pip install --no-cache-dir uv==0.13.8
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
RUN uv sync --frozen --no-dev && rm -rf /root/.cache
ENV PATH=/app/.venv/bin:$PATH
# No privileges needed: the state lives in Kafka and Redis.
RUN useradd --system exchange
USER exchange
ENTRYPOINT ["exchange"]
CMD ["--help"]
