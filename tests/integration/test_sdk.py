"""The daemon: `make install` into a scratch DESTDIR, then the SDK
examples built out of tree against that installed SDK using nothing but
`pkg-config rollout-plugin`, and loaded by rolloutd."""

import glob
import os
import shutil
import subprocess

import pytest

import harness


@pytest.fixture(scope="module")
def installed(tmp_path_factory, builddir):
    """DESTDIR with the whole project installed; returns (destdir, prefix).
    scripts/test installs before pytest runs and passes ROLLOUT_DESTDIR;
    otherwise this installs into a scratch directory itself."""
    dest = os.environ.get("ROLLOUT_DESTDIR")
    if not dest:
        dest = str(tmp_path_factory.mktemp("destdir"))
        p = subprocess.run(["make", "-C", builddir, "install", "DESTDIR=" + dest],
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    with open(os.path.join(builddir, "config.status")) as f:
        text = f.read()
    prefix = "/usr/local"
    for line in text.splitlines():
        if line.startswith("S[\"prefix\"]="):
            prefix = line.split("=", 1)[1].strip('"')
    return dest, prefix


def pkg_env(dest, prefix):
    env = dict(os.environ)
    dirs = glob.glob(os.path.join(dest + prefix, "lib*", "pkgconfig")) + \
        glob.glob(os.path.join(dest + prefix, "lib", "*", "pkgconfig"))
    assert dirs, "no pkgconfig directory installed under %s" % (dest + prefix)
    env["PKG_CONFIG_PATH"] = ":".join(dirs)
    env["PKG_CONFIG_SYSROOT_DIR"] = dest
    env.pop("PKG_CONFIG_LIBDIR", None)
    return env


def test_make_install_layout(installed, builddir):
    dest, prefix = installed
    root = dest + prefix
    assert os.access(os.path.join(root, "sbin", "rolloutd"), os.X_OK)
    assert os.access(os.path.join(root, "bin", "rollout-agent"), os.X_OK)
    assert os.access(os.path.join(root, "bin", "rolloutctl"), os.X_OK)
    assert os.path.isfile(os.path.join(root, "include", "rollout", "plugin.h"))
    pcs = glob.glob(os.path.join(root, "lib*", "**", "rollout-plugin.pc"), recursive=True)
    assert len(pcs) == 1, pcs
    text = open(pcs[0]).read()
    assert "plugindir=${libdir}/rolloutd/plugins" in text, text
    # every in-tree plugin that was built is installed into the plugin dir
    built = sorted(os.path.basename(p) for p in glob.glob(os.path.join(builddir, "plugins", "*", ".libs", "*.so")))
    inst = sorted(os.path.basename(p) for p in glob.glob(os.path.join(root, "lib*", "rolloutd", "plugins", "*.so")))
    assert built == inst, (built, inst)
    # and each exports exactly the entry symbol
    for so in glob.glob(os.path.join(root, "lib*", "rolloutd", "plugins", "*.so")):
        syms = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True).stdout.split()
        assert [s for s in syms if s.startswith("rollout")] == ["rollout_plugin_v1"], (so, syms)


def test_examples_build_out_of_tree_with_pkg_config_only(installed, tmp_path, builddir):
    dest, prefix = installed
    env = pkg_env(dest, prefix)
    cflags = subprocess.run(["pkg-config", "--cflags", "rollout-plugin"], env=env, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert cflags == "-I%s%s/include" % (dest, prefix), cflags
    plugindir = subprocess.run(["pkg-config", "--variable=plugindir", "rollout-plugin"], env=env,
                               capture_output=True, text=True, check=True).stdout.strip()
    assert plugindir.endswith("/rolloutd/plugins"), plugindir

    # Only the example sources and their Makefile are copied: no source tree headers.
    work = tmp_path / "ex"
    work.mkdir()
    src = os.path.join(harness.srcdir(), "sdk", "examples")
    for f in glob.glob(os.path.join(src, "*.c")) + [os.path.join(src, "Makefile.example")]:
        shutil.copy(f, work)
    p = subprocess.run(["make", "-f", "Makefile.example", "CFLAGS=-O2 -Wall -Wextra -Werror -Wno-unused-parameter"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "-I%s%s/include" % (dest, prefix) in p.stdout, p.stdout
    names = ["example-platform", "example-source", "example-health", "example-traffic"]
    for n in names:
        so = work / (n + ".so")
        assert so.exists(), p.stdout
        syms = subprocess.run(["nm", "-D", "--defined-only", str(so)], capture_output=True, text=True).stdout
        assert "rollout_plugin_v1" in syms

    # The daemon loads the out-of-tree builds.
    d = harness.Daemon(tmp_path, plugins={
        "example-platform": {"targets": "a"},
        "example-source": {"root": str(tmp_path)},
        "example-health": None,
        "example-traffic": None,
    }, settings={"plugin_dir": str(work)})
    r = d.run("--check-config", check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "%s: configuration OK" % d.config_path
