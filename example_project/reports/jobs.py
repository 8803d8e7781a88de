"""The example's handlers. ``generateReports`` comes from the HANDLERS setting instead."""

import logging

from django_jobs import handler

logger = logging.getLogger(__name__)


@handler("cleanupOldRecords")
def cleanup_old_records(data):
    """Delete records older than ``data["days"]`` days (pretend)."""
    days = (data or {}).get("days", 30)
    logger.info("cleaning up records older than %s days", days)
    return {"deleted": 42, "older_than_days": days}


@handler("sendNotifications")
def send_notifications(data, ctx):
    """Notify each user in ``data["users"]``; fails without a list of users."""
    users = (data or {}).get("users")
    if not isinstance(users, list):
        raise ValueError("sendNotifications needs data with a 'users' list")
    for user in users:
        ctx.logger.info("notifying %s", user)
    return {"sent": len(users)}


def generate_reports(data):
    """Generate the daily reports (pretend)."""
    logger.info("generating daily reports")
    return {"report": "generated"}
