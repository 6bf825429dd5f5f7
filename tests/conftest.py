"""Fixtures shared by the unit and integration tests (end-to-end fixtures live in tests/e2e/conftest.py)."""

import os

import pytest
from avatar_local.samples import portrait_png, speech_audio
from avatar_local.simulator.render import render_talking_video

TALKING_SECONDS = 2.0

# Powertools reads these when avatar_pipeline.observability is first imported, by whichever test module comes first;
# every function has them from the template.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "avatar-pipeline")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Test")


@pytest.fixture(scope="session")
def talking_mp4() -> bytes:
    """A real H.264 + AAC MP4, as long as its 2 s voice track, rendered once per session."""
    return render_talking_video(portrait_png(), speech_audio(TALKING_SECONDS))
