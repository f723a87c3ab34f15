"""pytest configuration shared by every test: the lab plugin (fixtures ``lab``; marker ``lab``)."""

pytest_plugins = ["tests.lab.fixtures"]
