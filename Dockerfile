FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY sdk sdk
COPY gateway gateway
COPY consent consent
COPY connectors connectors
COPY policies policies
COPY migrations migrations
RUN pip install --no-cache-dir -e ./sdk -e .
EXPOSE 8000 8101 8102 8103 8104
