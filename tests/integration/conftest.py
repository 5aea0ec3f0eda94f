"""Shared pytest fixtures (see harness.py). Areas add their own fixtures in
their own helper modules and import them in their test files."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def pytest_configure(config):
    # CI runs the slow tests too; `-m "not slow"` leaves them out of a quick run
    config.addinivalue_line("markers", "slow: long randomized tests (minutes); still part of the suite")


def pytest_collection_modifyitems(session, config, items):
    """The slow modules first, each in its own order. scripts/test hands
    whole files to its pytest-xdist workers in this order (--dist loadfile):
    a slow file started last would keep one worker busy long after the
    others ran out of work."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def builddir():
    """The build directory (ROLLOUT_BUILDDIR); fails clearly when unset."""
    try:
        return harness.builddir()
    except harness.HarnessError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def daemon_factory(tmp_path, builddir):
    """make(plugins=..., alarms=..., settings=..., start=True, tls=None, client_ca=False) -> harness.Daemon.
    Each daemon gets an admin key (daemon.admin) before it starts, and is
    stopped with SIGTERM at teardown, asserting a clean exit."""
    made = []

    def make(plugins=None, alarms=None, settings=None, start=True, name=None, tls=None, client_ca=False):
        d = harness.Daemon(tmp_path, plugins=plugins, alarms=alarms, settings=settings,
                           name=name or "rolloutd%d" % len(made), tls=tls, client_ca=client_ca)
        made.append(d)
        d.admin = d.create_access_key("test-admin", "admin")
        if start:
            d.start()
        return d

    yield make
    errors = []
    for d in made:
        try:
            d.stop()
        except harness.HarnessError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture
def daemon(daemon_factory):
    """A running rolloutd with no plugins."""
    return daemon_factory()


@pytest.fixture
def admin_keys(daemon):
    return daemon.admin


@pytest.fixture
def codedeploy(daemon):
    """boto3 CodeDeploy client for `daemon` (endpoint_url, us-east-1, admin keys)."""
    return daemon.boto3_client(daemon.admin)


@pytest.fixture
def aws(daemon):
    """aws(*args, check=True) -> (CompletedProcess, json) with /usr/bin/aws against `daemon`."""
    def run(*args, check=True, keys=None, timeout=60):
        return daemon.aws(keys or daemon.admin, *args, check=check, timeout=timeout)
    return run
