"""Package discovery only (everything else is in pyproject.toml).

``methods/``, ``envs/`` and ``configs/`` sit at the top of the repository so the architecture is visible, but
install as ``foresight.methods``, ``foresight.envs`` and ``foresight.configs`` (see the package-dir mapping in
pyproject.toml). pyproject alone cannot list the mapped sub-packages, so they are found here.
"""

from setuptools import find_packages, setup

MAPPED = {"methods": "foresight.methods", "envs": "foresight.envs", "configs": "foresight.configs"}

packages = find_packages(include=["foresight", "foresight.*"])
for folder, package in MAPPED.items():
    packages.append(package)
    packages += [f"{package}.{sub}" for sub in find_packages(folder)]

setup(packages=packages)
