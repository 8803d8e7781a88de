"""Create the example's sample jobs (idempotent: recurring jobs are declared by name)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from django_jobs import enqueue, schedule
from django_jobs.models import Job


class Command(BaseCommand):
    help = "Create sample recurring and one-time jobs and an admin/admin superuser."

    def handle(self, *args, **options):
        schedule("Daily Cleanup", "cleanupOldRecords", "0 0 * * *", {"days": 30})
        schedule("Daily Reports", "generateReports", "0 9 * * *")
        schedule("Heartbeat Notifications", "sendNotifications", "30s", {"users": ["ada", "alan"]})
        if not Job.objects.filter(key__isnull=True).exists():
            enqueue("sendNotifications", {"users": ["grace"]}, name="Welcome Grace")
            enqueue("sendNotifications", {}, name="Broken Notification", max_attempts=2)
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin")
        self.stdout.write(self.style.SUCCESS(f"{Job.objects.count()} jobs; log in as admin/admin"))
