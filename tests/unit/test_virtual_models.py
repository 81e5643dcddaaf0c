"""`/v1/models` lists reasoning/ and auto/ twins so chat UIs can choose a path by model."""

from api.routing.virtual_models import with_virtual_models

UPSTREAM = {
    "object": "list",
    "data": [
        {"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "openai"},
        {"id": "gpt-4o-mini", "object": "model", "created": 2, "owned_by": "openai"},
    ],
}


def ids(listing):
    return [m["id"] for m in listing["data"]]


def test_every_model_gets_twins_by_default():
    listing = with_virtual_models(UPSTREAM, ("reasoning/", "auto/"), [])
    assert ids(listing) == [
        "gpt-4o",
        "gpt-4o-mini",
        "reasoning/gpt-4o",
        "reasoning/gpt-4o-mini",
        "auto/gpt-4o",
        "auto/gpt-4o-mini",
    ]
    assert listing["object"] == "list"
    assert all(m["object"] == "model" for m in listing["data"])


def test_only_the_configured_bases_get_twins():
    listing = with_virtual_models(UPSTREAM, ("reasoning/", "auto/"), ["gpt-4o"])
    assert ids(listing) == ["gpt-4o", "gpt-4o-mini", "reasoning/gpt-4o", "auto/gpt-4o"]
