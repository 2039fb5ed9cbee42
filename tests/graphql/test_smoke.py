from __future__ import annotations

from tests.conftest import GraphQL


async def test_me_answers_for_the_bootstrapped_admin(gql: GraphQL) -> None:
    # when
    data = await gql("{ me { actor roles person { email } } }")
    # then
    assert data["me"] == {
        "actor": "admin@govsvc.local",
        "roles": ["admin"],
        "person": {"email": "admin@govsvc.local"},
    }
