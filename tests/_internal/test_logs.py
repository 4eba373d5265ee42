"""audiolens._internal.logs: loggers quieted for a block and put back."""

import logging

import pytest

from audiolens._internal.logs import quiet_loggers


def test_quiet_loggers_keep_errors_and_restore_levels_also_on_errors():
    first, second = logging.getLogger("audiolens.test.a"), logging.getLogger("audiolens.test.b")
    first.setLevel(logging.DEBUG)
    second.setLevel(logging.NOTSET)
    with quiet_loggers("audiolens.test.a", "audiolens.test.b"):
        assert first.level == second.level == logging.ERROR
        assert first.isEnabledFor(logging.ERROR) and not first.isEnabledFor(logging.WARNING)
    assert (first.level, second.level) == (logging.DEBUG, logging.NOTSET)
    with pytest.raises(RuntimeError), quiet_loggers("audiolens.test.a"):
        raise RuntimeError("inside")
    assert first.level == logging.DEBUG
