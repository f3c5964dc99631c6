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
# backlog: see deploy/systemd/prompt-portal-web@.service
CMD ["python", "-m", "portal.serve_web", "--proxy-headers", "-e", "tcp:port=8000:interface=0.0.0.0:backlog=2048", "portal.asgi:application"]
