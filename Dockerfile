# One image for the web, worker and responder processes (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system --uid 10001 portal
USER portal
EXPOSE 8000
CMD ["python", "-m", "portal.serve_web", "--proxy-headers", "-b", "0.0.0.0", "-p", "8000", "portal.asgi:application"]
