"""AUTO_START: real web-server subprocesses run jobs with no ``runjobs`` anywhere."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.test import override_settings

from django_jobs import autostart, enqueue
from django_jobs.models import Job, JobHistory, JobStatus, RunStatus
from django_jobs.models import Worker as WorkerRow

from . import procfs
from .conftest import ROOT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.subprocess]

SETTINGS = "tests.settings_autostart"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def env(worker_env):
    return {**worker_env, "DJANGO_SETTINGS_MODULE": SETTINGS}


@pytest.fixture
def server(env, tmp_path):
    """Start ``runserver`` in its own process group; whatever is left is killed at the end."""
    started = []

    def start(*args):
        port = free_port()
        log = open(tmp_path / f"server-{len(started)}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", *args],
            env=env,
            stdin=subprocess.DEVNULL,  # the autoreloader fiddles with a terminal's echo
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        log.close()
        proc.port = port
        proc.log_path = log.name
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def output(proc):
    with open(proc.log_path) as log:
        return log.read()


def get(proc, path="/admin/login/"):
    with urllib.request.urlopen(f"http://127.0.0.1:{proc.port}{path}", timeout=10) as response:
        return response.status


def up(proc):
    try:
        return get(proc) == 200
    except OSError:
        return False


def status(job):
    return Job.objects.get(pk=job.pk).status


def test_runserver_alone_runs_jobs_in_its_serving_process_only(server, wait_for, tmp_path):
    runs = tmp_path / "runs.txt"
    job = enqueue("record", {"path": str(runs)})
    proc = server()
    wait_for(lambda: status(job) == JobStatus.COMPLETED, timeout=60, message="the job to run")
    (worker,) = WorkerRow.objects.all()
    # The autoreloader's child ran it: not the parent, which only watches files.
    assert worker.pid != proc.pid
    assert runs.read_text().split() == [str(worker.pid)]
    wait_for(lambda: up(proc), timeout=60, message="the server")
    for _ in range(5):
        assert get(proc) == 200
    assert list(WorkerRow.objects.values_list("pk", flat=True)) == [worker.pk]
    assert output(proc).count("worker started") == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_autoreloaders_child_puts_running_jobs_back_when_it_stops(server, wait_for, signum):
    job = enqueue("sleep", {"seconds": 30, "cooperative": False})
    proc = server()
    wait_for(lambda: status(job) == JobStatus.RUNNING, timeout=60, message="the job to start")
    wait_for(lambda: up(proc), timeout=60, message="the server")
    (worker,) = WorkerRow.objects.all()
    # Signal the serving child alone: on Ctrl-C the parent kills it 0.25 s later,
    # which is why it puts its jobs back at once rather than after SHUTDOWN_GRACE.
    os.kill(worker.pid, signum)
    assert proc.wait(timeout=30) == 0, output(proc)
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING and job.worker_id is None
    assert "interrupted" in JobHistory.objects.get(job=job).error
    assert not WorkerRow.objects.exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_noreload_server_stops_cleanly_on_a_signal(server, wait_for, signum):
    short = enqueue("sleep", {"seconds": 1, "cooperative": False})
    # Outlives SHUTDOWN_GRACE (5 s in the test settings): put back, not left running.
    long = enqueue("sleep", {"seconds": 120, "cooperative": False})
    proc = server("--noreload")
    both = {short.pk, long.pk}
    wait_for(
        lambda: (
            set(Job.objects.filter(status=JobStatus.RUNNING).values_list("pk", flat=True)) == both
        ),
        timeout=60,
        message="both jobs running",
    )
    (worker,) = WorkerRow.objects.all()
    assert worker.pid == proc.pid
    wait_for(lambda: up(proc), timeout=60, message="the server")
    proc.send_signal(signum)
    # The grace, not the handler, bounds the exit.
    assert proc.wait(timeout=30) == 0, output(proc)
    assert status(short) == JobStatus.COMPLETED
    long.refresh_from_db()
    assert long.status == JobStatus.PENDING and long.worker_id is None
    history = JobHistory.objects.get(job=long)
    assert history.status == RunStatus.FAILED and "interrupted" in history.error
    assert not WorkerRow.objects.exists()
    assert not Job.objects.filter(status=JobStatus.RUNNING).exists()


def manage(env, *args, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


SHELL_REQUEST = (
    "from django.test import Client; from django_jobs import autostart; import time; "
    "Client().get('/admin/login/'); time.sleep(0.5); print('thread:', autostart.running())"
)


@pytest.mark.parametrize(
    "command",
    [
        ["migrate", "--noinput"],
        ["check"],
        ["shell", "-c", SHELL_REQUEST],
        ["runjobs", "--once", "--no-sync"],
    ],
    ids=["migrate", "check", "shell", "runjobs"],
)
def test_no_thread_under_other_management_commands(env, command):
    waiting = enqueue("noop")
    done = manage(env, *command)
    assert done.returncode == 0, done.stderr
    started = (done.stdout + done.stderr).count("worker started")
    if command[0] == "runjobs":
        assert started == 1  # its own worker, no second one
        assert status(waiting) == JobStatus.COMPLETED
    else:
        assert started == 0
        assert status(waiting) == JobStatus.PENDING
    if command[0] == "shell":
        assert "thread: False" in done.stdout


def test_requests_in_tests_start_no_thread(client):
    with override_settings(DJANGO_JOBS={"AUTO_START": True}):
        assert client.get("/admin/login/").status_code == 200
        assert not autostart.running()


def test_a_test_can_ask_for_the_thread_and_stop_it(wait_for):
    job = enqueue("noop")
    current = autostart.start()
    try:
        assert autostart.start() is current  # once per process
        wait_for(lambda: status(job) == JobStatus.COMPLETED, timeout=30, message="the job")
        assert WorkerRow.objects.count() == 1
    finally:
        autostart.stop()
    assert not autostart.running()
    assert not WorkerRow.objects.exists()


def test_auto_start_off_runs_nothing(server, env, wait_for):
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    job = enqueue("noop")
    proc = server("--noreload")
    wait_for(lambda: up(proc), timeout=60, message="the server")
    time.sleep(1.0)
    assert status(job) == JobStatus.PENDING
    assert not WorkerRow.objects.exists()


def test_each_forked_gunicorn_worker_runs_its_own_thread_and_the_master_none(env, wait_for):
    pytest.importorskip("gunicorn")
    port = free_port()
    app = "django.core.wsgi:get_wsgi_application()"
    # --preload: the master sets Django up (ready() runs there) before it forks.
    command = [sys.executable, "-m", "gunicorn", "--preload", "-w", "2", "-b"]
    master = subprocess.Popen(
        [*command, f"127.0.0.1:{port}", "--graceful-timeout", "20", app],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    master.port = port
    try:
        wait_for(lambda: up(master), timeout=60, message="gunicorn")
        time.sleep(1.0)
        assert not WorkerRow.objects.filter(pid=master.pid).exists()
        for _ in range(20):
            assert get(master) == 200
        wait_for(lambda: WorkerRow.objects.exists(), timeout=30, message="a thread")
        job = enqueue("sleep", {"seconds": 0.2})
        wait_for(lambda: status(job) == JobStatus.COMPLETED, timeout=30, message="the job")
        pids = list(WorkerRow.objects.values_list("pid", flat=True))
        assert master.pid not in pids
        assert len(pids) == len(set(pids)) <= 2  # at most one thread per process
        children = procfs.children(master.pid)
        assert set(pids) <= children, (pids, children)
        master.send_signal(signal.SIGTERM)
        assert master.wait(timeout=40) == 0
        assert not WorkerRow.objects.exists()
        assert not Job.objects.filter(status=JobStatus.RUNNING).exists()
    finally:
        if master.poll() is None:
            os.killpg(master.pid, signal.SIGKILL)
        master.wait()
