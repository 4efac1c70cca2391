"""The loadtests suite uses its own pytest plugin's fixtures."""

pytest_plugins = ["loadtests.pytest_plugin"]
