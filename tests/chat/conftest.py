from __future__ import annotations

import pytest

from govsvc.settings import Settings
from tests.chat.helpers import with_chat_secrets


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_chat_secrets(settings)
