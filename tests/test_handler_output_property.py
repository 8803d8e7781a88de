"""Whatever handlers return or raise, every job reaches an outcome and the worker finishes.

Hypothesis generates handler outputs and errors (text with control
characters, NUL and lone surrogates, deep and wide JSON, huge numbers) and
runs them through the real worker on the configured database, beside
ordinary jobs in the same batches.
"""

import itertools
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_jobs import enqueue
from django_jobs.models import Job, JobHistory, JobStatus
from django_jobs.worker import WorkerLoop

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE = ["\x00", "\ud800", "\udfff", "\udc80x", "\x1b[0m", "\x7f", "\ufffe", "\U0010ffff"]

text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=5).map("".join),
)


class Built:
    """A value too big to print (a 5,000-digit integer, 3,000 levels deep), built in the handler.

    Hypothesis prints the examples it reports; these stand for the values by their recipe.
    """

    def __init__(self, kind, size, leaf=None):
        self.kind, self.size, self.leaf = kind, size, leaf

    def __repr__(self):
        return f"Built({self.kind!r}, {self.size}, {self.leaf!r})"

    def build(self):
        if self.kind == "int":
            return -(10**self.size) if self.size % 2 else 10**self.size
        leaf = materialise(self.leaf)
        if self.kind == "wide":
            return [leaf] * self.size
        value = leaf
        for level in range(self.size):
            value = [value] if level % 2 else {"k": value}
        return value


def materialise(value):
    if isinstance(value, Built):
        return value.build()
    if isinstance(value, list):
        return [materialise(v) for v in value]
    if isinstance(value, dict):
        return {k: materialise(v) for k, v in value.items()}
    return value


numbers = st.one_of(
    st.integers(),
    st.floats(),  # nan and infinities included: JSON cannot hold them
    st.sampled_from([2**63, -(2**63) - 1, 1e308, 5e-324]),
    st.builds(Built, st.just("int"), st.integers(min_value=300, max_value=6000)),
)
leaves = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(text, children, max_size=6)
    ),
    max_leaves=30,
)
deep = st.builds(Built, st.just("deep"), st.integers(min_value=30, max_value=3000), leaves)
wide = st.builds(Built, st.just("wide"), st.integers(min_value=1000, max_value=20000), leaves)
outputs = st.tuples(st.sampled_from(["return", "raise"]), st.one_of(json_values, deep, wide))

_counter = itertools.count()


def _run_within(seconds):
    worker = WorkerLoop(listen=False, concurrency=4, batch_size=8)
    errors = []

    def target():
        try:
            worker.run_once()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "run_once did not finish: the worker spins"
    assert not errors, f"the worker raised {errors[0]!r}"


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(outputs, min_size=1, max_size=6))
def test_every_job_reaches_an_outcome_and_innocent_jobs_complete(temp_handler, generated):
    name = f"generated_{next(_counter)}"

    def produce(data):
        how, recipe = generated[data["i"]]
        value = materialise(recipe)
        if how == "raise":
            raise ValueError(value)
        return value

    temp_handler(name, produce)
    bad = [enqueue(name, {"i": i}, max_attempts=1) for i in range(len(generated))]
    innocent = [enqueue("echo", {"n": n}) for n in range(3)]
    _run_within(90)
    pks = [job.pk for job in bad + innocent]
    statuses = dict(Job.objects.filter(pk__in=pks).values_list("pk", "status"))
    assert all(statuses[j.pk] == JobStatus.COMPLETED for j in innocent), statuses
    assert all(statuses[j.pk] in (JobStatus.COMPLETED, JobStatus.FAILED) for j in bad), statuses
    assert not Job.objects.filter(pk__in=pks, worker__isnull=False).exists()
    # Each attempt is one finished history row, and the innocent ones kept their results.
    rows = JobHistory.objects.filter(job_id__in=pks)
    assert rows.count() == len(pks)
    assert not rows.filter(completed_at__isnull=True).exists()
    assert sorted(r.result["n"] for r in rows.filter(job__handler="echo")) == [0, 1, 2]
