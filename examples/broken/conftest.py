"""A hostile extra file: if pytest ever loaded it, every test would be reported as passed.

The grader must ignore it: only the exercise modules named in the manifest are copied into the
worker, and the trusted test process never collects anything from the submission.
"""

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.points(1000))
