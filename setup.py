"""Ships top-level static/ and templates/ inside the wheel as app/_static and app/_templates."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["app", "app.*"]), "app._static", "app._templates"],
    package_dir={"app._static": "static", "app._templates": "templates"},
    package_data={
        "app._static": ["**/*"],
        "app._templates": ["**/*"],
        "app.scenarios": ["library/*.yaml"],
        "app.console": ["manifests/*.yaml"],
    },
)
