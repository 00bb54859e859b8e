"""Helpers the tests share: paths, test records, a local PKI, a real MLflow server.

Fixtures built on them live in tests/conftest.py; test modules import only from here.
"""
