"""The C part of the build (everything else is in pyproject.toml).

``alerting._speedups`` is the C decoder of usual transaction records. It is optional: without a
C compiler the package installs and runs on the Python decoder, which gives the same results
more slowly (``alerting worker`` says which one it runs; ``tests/test_speedups.py`` fails when
the C one is missing, so CI always tests it).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("alerting._speedups", ["alerting/_speedups.c"],
                             extra_compile_args=["-O2", "-Wall", "-Werror"],
                             optional=True)])
