"""Never imported by a worker: a job naming a function here must fail, not import it."""

raise AssertionError("tests.taskapp.trap was imported because a job row named it")
