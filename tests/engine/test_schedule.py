import threading

import pytest

from memorynet.engine.schedule import run_interleaved


def _pass(name: str, n: int, log: list, owners: dict):
    for step in range(n):
        owners.setdefault(name, set()).add(threading.get_ident())
        log.append((name, step))
        yield


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_every_pass_runs_to_its_end_with_its_steps_in_order(threads):
    log, owners = [], {}
    lengths = {"a": 5, "b": 1, "c": 7, "d": 0, "e": 3}
    run_interleaved([_pass(k, n, log, owners) for k, n in lengths.items()], threads, sum(lengths.values()))
    for name, n in lengths.items():
        assert [step for who, step in log if who == name] == list(range(n))
    assert len(log) == sum(lengths.values())


def test_two_threads_advance_two_passes_at_once():
    meet = threading.Barrier(2, timeout=30)  # broken (an error) unless both passes are in a step together

    def waiting():
        meet.wait()
        yield

    run_interleaved([waiting(), waiting()], 2)


def test_a_failing_pass_stops_the_others_and_its_error_is_raised():
    log, owners = [], {}

    def failing():
        yield
        raise RuntimeError("bad batch")

    with pytest.raises(RuntimeError, match="bad batch"):
        run_interleaved([_pass("long", 10**6, log, owners), failing(), _pass("other", 10**6, log, owners)], 2)
    assert len(log) < 1000  # the endless passes stopped soon after the failure
