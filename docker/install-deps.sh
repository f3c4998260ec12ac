#!/bin/sh
# Install corrbot's runtime dependencies, read from pyproject.toml, without corrbot itself.
# The Dockerfile runs this before copying the source, so code changes reuse the layer;
# tests/test_docker.py runs the same steps in a fresh virtual environment.
set -eu
python - <<'PY' > /tmp/corrbot-requirements.txt
import tomllib
with open("pyproject.toml", "rb") as handle:
    print("\n".join(tomllib.load(handle)["project"]["dependencies"]))
PY
pip install --no-cache-dir -r /tmp/corrbot-requirements.txt
rm -f /tmp/corrbot-requirements.txt
