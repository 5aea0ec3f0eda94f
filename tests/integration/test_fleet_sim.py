"""bench/fleet-sim at a small size: its simulated agents register, hold
their long-polls, run a real deployment through the host-command protocol
and report it in the JSON line the bench promises. A smoke test of the
bench, not a measurement: nothing here looks at times."""

import json
import os
import subprocess

import pytest

import harness

HOSTS = 200
EVENTS_PER_HOST = 7  # ApplicationStop .. ValidateService of an uploaded bundle


def fleet_sim(builddir, tmp_path, *args):
    script = os.path.join(harness.srcdir(), "bench", "fleet-sim")
    env = dict(os.environ, TMPDIR=str(tmp_path))
    p = subprocess.run([script, "--builddir", builddir, "--hosts", str(HOSTS), "--idle-seconds", "1", *args],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, "fleet-sim failed (%d):\n%s\n%s" % (p.returncode, p.stdout[-3000:], p.stderr[-3000:])
    last = p.stdout.strip().splitlines()[-1]
    out = json.loads(last)
    for key in ("hosts", "deploy_seconds", "events_per_second", "daemon_rss_mb_idle", "daemon_rss_mb_peak",
                "daemon_cpu_idle_pct", "daemon_cpu_seconds", "failed_events"):
        assert key in out, (key, last)
    assert out["hosts"] == HOSTS
    return out, p.stdout


def test_fleet_sim_deploys_to_every_simulated_host(builddir, tmp_path):
    out, text = fleet_sim(builddir, tmp_path)
    assert out["deployment_status"] == "Succeeded", text
    assert out["failed_events"] == 0
    assert out["events"] == HOSTS * EVENTS_PER_HOST
    assert out["targets"] == {"Succeeded": HOSTS}
    assert out["sim_errors"] == 0, text
    assert out["sim_injected_failures"] == 0
    # every host fetched the signed specification at its first command (one was checked by its
    # signature) and kept it for the other six, as rollout-agent does
    assert out["specs_verified"] >= 1
    assert out["spec"] == "once" and out["specs_kept"] == HOSTS * (EVENTS_PER_HOST - 1), text
    assert out["daemon_rss_mb_idle"] > 0 and out["daemon_rss_mb_peak"] >= out["daemon_rss_mb_idle"]
    assert "%d long-polls held" % HOSTS in text


@pytest.mark.parametrize("config,expected,spec", [
    # AllAtOnce succeeds when any host does: the failed hosts are tolerated; the agents ask for the
    # specification at every event, as the official agent does
    ("CodeDeployDefault.AllAtOnce", "Succeeded", "every-event"),
    # 95 % must stay healthy: ~30 % of the hosts fail one of their 7 events (5 % each)
    ("FLEET_PERCENT:95", "Failed", "once"),
])
def test_fleet_sim_failures_end_the_deployment_as_its_config_says(builddir, tmp_path, config, expected, spec):
    out, text = fleet_sim(builddir, tmp_path, "--failure-rate", "0.05", "--config", config, "--spec", spec)
    assert out["deployment_status"] == expected, text
    assert out["spec"] == spec
    if spec == "every-event":
        assert out["specs_kept"] == 0, text
    assert out["failed_events"] > 0
    assert out["sim_injected_failures"] >= out["failed_events"]
    if expected == "Succeeded":
        # every host ran to its end: each injected failure is one failed event and one failed host
        assert out["failed_events"] == out["sim_injected_failures"]
        assert out["targets"].get("Failed") == out["failed_events"]
        assert out["targets"].get("Succeeded") == HOSTS - out["failed_events"]
    else:
        assert out["targets"].get("Succeeded", 0) < HOSTS * 95 // 100
