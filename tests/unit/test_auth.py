"""Bearer tokens (contract section 1) and the client id derived from them."""

import pytest

from api.auth import bearer_token
from api.clients.model import client_id_for


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer alpha", "alpha"),
        ("bearer   alpha ", "alpha"),
        ("Basic alpha", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_parsing(header, token):
    assert bearer_token(header) == token


def test_client_id_is_short_stable_and_not_the_token():
    assert client_id_for("alpha") == client_id_for("alpha")
    assert client_id_for("alpha") != client_id_for("beta")
    assert len(client_id_for("alpha")) == 16
    assert "alpha" not in client_id_for("alpha")
