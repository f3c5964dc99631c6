"""`python manage.py health_check`: exit 0 healthy, 1 degraded, 2 unhealthy, with one line saying why."""

import asyncio

from django.core.management.base import BaseCommand

from health.checks import summary

EXIT_CODES = {"healthy": 0, "degraded": 1, "unhealthy": 2}


class Command(BaseCommand):
    help = "Report platform health for container and systemd probes (exit 0/1/2)."

    def handle(self, *args, **options):
        report, _ = asyncio.run(summary())
        reason = "; ".join(report["issues"] or ["all workers connected"])
        self.stdout.write(f"{report['status']}: {reason}")
        raise SystemExit(EXIT_CODES[report["status"]])
