"""Every recurring job holds its name as its ``key``; names held twice are repaired.

Before this migration only ``schedule()`` set ``key``: a recurring job created
through the REST API or the admin had none, so ``schedule()``, ``SCHEDULES`` or
a rename could add a second recurring job of the same name, and both fired.
Now the unique constraint on ``key`` refuses that whichever way a job comes in.

Repair: of the recurring jobs sharing a name, the oldest keeps it. Each other
one is kept with its history, renamed "<name> (duplicate #<id>)" and cancelled
(a running one is asked to stop), with the reason in its ``last_error``; it can
be deleted, or renamed and triggered again. Every repair is printed.
"""

from collections import defaultdict

from django.db import migrations

NAME_MAX = 200


def duplicate_name(name: str, pk: int, taken: set[str]) -> str:
    suffix = f" (duplicate #{pk})"
    candidate = f"{name[: NAME_MAX - len(suffix)]}{suffix}"
    while candidate in taken:
        candidate = f"{candidate[: NAME_MAX - 1]}'"
    return candidate


def plan(rows: list[tuple[int, str]]) -> tuple[dict[int, str], dict[int, tuple[str, int]]]:
    """For (id, name) rows oldest first: each row's key, and the renamed ones' old name and keeper."""
    by_name: dict[str, list[int]] = defaultdict(list)
    for pk, name in rows:
        by_name[name].append(pk)
    keys = {ids[0]: name for name, ids in by_name.items()}
    taken = set(by_name)
    renamed: dict[int, tuple[str, int]] = {}
    for name, ids in by_name.items():
        for pk in ids[1:]:
            keys[pk] = duplicate_name(name, pk, taken)
            taken.add(keys[pk])
            renamed[pk] = (name, ids[0])
    return keys, renamed


def repair(apps, schema_editor) -> None:
    Job = apps.get_model("django_jobs", "Job")
    jobs = Job.objects.using(schema_editor.connection.alias)
    jobs.filter(schedule="", key__isnull=False).update(key=None)
    recurring = jobs.exclude(schedule="").order_by("created_at", "id")
    current = dict(recurring.values_list("id", "key"))
    keys, renamed = plan(list(recurring.values_list("id", "name")))
    changing = [pk for pk, key in keys.items() if current[pk] != key]
    # Free the keys first, so no intermediate state holds one key twice.
    jobs.filter(pk__in=changing, key__isnull=False).update(key=None)
    for pk in changing:
        jobs.filter(pk=pk).update(key=keys[pk])
    for pk, (name, keeper) in sorted(renamed.items()):
        _cancel_duplicate(jobs, pk, keys[pk], name, keeper)
    if renamed:
        print(
            f"\n  django_jobs: {len(renamed)} recurring job(s) shared a name with an older "
            "one; the oldest keeps the name, the others were renamed and cancelled "
            "(history kept):"
        )
        for pk, (name, keeper) in sorted(renamed.items()):
            print(f"    #{pk} {name!r} -> {keys[pk]!r} (kept: #{keeper})")


def _cancel_duplicate(jobs, pk: int, new_name: str, name: str, keeper: int) -> None:
    note = (
        f"Renamed from {name!r} and cancelled by migration 0005: recurring job #{keeper} "
        "is older and keeps the name."
    )
    previous = jobs.filter(pk=pk).values_list("last_error", flat=True).first()
    jobs.filter(pk=pk).update(name=new_name, last_error=f"{note}\n\n{previous}".strip())
    jobs.filter(pk=pk, status="pending").update(status="cancelled", next_run_at=None)
    jobs.filter(pk=pk, status="running").update(cancel_requested=True)


class Migration(migrations.Migration):
    dependencies = [
        ("django_jobs", "0004_fewer_indexes"),
    ]

    operations = [
        migrations.RunPython(repair, migrations.RunPython.noop, elidable=False),
    ]
