"""Ctrl-C ends a program at once, even inside a compiled computation (phasetrans._interrupt)."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

# a jitted loop that never ends on its own (only the interrupt can stop it) and says "ready"
# from inside the compiled computation, so the signal arrives while XLA runs
ENDLESS = textwrap.dedent("""
    import sys
    import jax
    import jax.numpy as jnp
    from phasetrans import _interrupt
    if sys.argv[1] == "install":
        _interrupt.exit_on_interrupt("endless")

    def ready():
        print("ready", flush=True)

    def body(a):
        jax.lax.cond(a[0] == 1.0, lambda: jax.debug.callback(ready), lambda: None)
        return a + 1.0

    jax.jit(lambda x: jax.lax.while_loop(lambda a: a[0] >= 0, body, x))(jnp.zeros(1))
    print("returned", flush=True)
""")


def _run_until_interrupted(code, *args, ready="ready", timeout=60):
    process = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == ready
        time.sleep(2)  # let the "ready" callback return: the signal then meets XLA, not Python
        process.send_signal(signal.SIGINT)
        process.wait(timeout=timeout)
    finally:
        process.kill()
        out, err = process.communicate()
    return process.returncode, err


def test_interrupt_ends_a_running_compiled_computation():
    returncode, err = _run_until_interrupted(ENDLESS, "install")
    assert returncode == 130
    assert err == "endless: interrupted\n"


def test_without_it_the_computation_keeps_running():
    """The reason for the module: Python's own handler waits for XLA (here: forever)."""
    with pytest.raises(subprocess.TimeoutExpired):
        _run_until_interrupted(ENDLESS, "plain", timeout=5)


def test_console_script_reports_interrupt_in_one_line():
    code = textwrap.dedent("""
        import sys
        from phasetrans import cli
        print("ready", flush=True)
        sys.argv = ["phasetrans", "predict", "--dataset", "digits", "--arch", "8", "--seeds", "1",
                    "--steps", "100000000", "--searches", "none"]
        cli.console()
    """)
    returncode, err = _run_until_interrupted(code)
    assert returncode == 130
    assert err.splitlines()[-1] == "phasetrans: interrupted"
    assert "Traceback" not in err


def test_must_be_installed_from_the_main_thread():
    import threading

    from phasetrans import _interrupt
    errors = []
    thread = threading.Thread(target=lambda: errors.append(_catch(_interrupt.exit_on_interrupt)))
    thread.start()
    thread.join()
    assert "main thread" in errors[0]


def _catch(function):
    try:
        function("x")
    except RuntimeError as err:
        return str(err)
    return None
