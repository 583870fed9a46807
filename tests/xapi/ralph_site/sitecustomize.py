"""Loaded by the test LRS's Python (tests/xapi/lrs.py puts this folder on its PYTHONPATH), in the `ralph
runserver` process and in the server process it spawns.

ralph 5.1's file-system LRS backend writes every POST with the data backend's default operation, CREATE, which
refuses an existing file: only the first write to a store succeeds and every later one answers 500 ("already
exists and overwrite is not allowed"). An LRS must keep accepting statements, so the store appends instead.
Nothing else of ralph changes.
"""

try:
    from ralph.backends.data.base import BaseOperationType
    from ralph.backends.lrs.fs import FSLRSBackend
except ImportError:  # not ralph's virtualenv: nothing to do
    pass
else:
    FSLRSBackend.default_operation_type = BaseOperationType.APPEND
