from __future__ import annotations

import pytest
from pydantic import SecretStr

from govsvc.settings import Settings
from tests.chat.helpers import SLACK_SECRET, TEAMS_SECRET


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, with Slack's signing secret and a Teams webhook token."""
    return settings.model_copy(
        update={
            "slack_signing_secret": SecretStr(SLACK_SECRET),
            "teams_secret": SecretStr(TEAMS_SECRET),
        }
    )
