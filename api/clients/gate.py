"""The client's admission to a chat completion, before any upstream call (contract section 10).

One call from the chat handler: the model must be on the client's list (403
`model_not_allowed`); limits and budgets are checked next (api/clients/admission.py), and
what the request holds is kept on its record until the request ends
(api/middleware/client_limits.py settles it).
"""

from __future__ import annotations

from api.clients.admission import ClientLimits
from api.clients.model import Client
from api.errors import PermissionDeniedError
from api.request_record import RequestRecord
from api.routing.decision import RoutingPolicy, split_virtual_model


def model_refusal(client: Client, requested_model: str, policy: RoutingPolicy) -> PermissionDeniedError | None:
    """A 403 when the model (its `reasoning/` or `auto/` prefix aside) is not on the client's list."""
    _, model = split_virtual_model(requested_model, policy)
    if client.allows_model(model):
        return None
    return PermissionDeniedError(
        f"Client {client.name!r} may not use model {model!r}.", code="model_not_allowed", param="model"
    )


class ClientGate:
    """Admits a client's chat request or raises the 403/429 that says why not."""

    def __init__(self, policy: RoutingPolicy, limits: ClientLimits) -> None:
        self.policy = policy
        self.limits = limits

    async def admit(self, client: Client, requested_model: str, record: RequestRecord) -> None:
        refusal = model_refusal(client, requested_model, self.policy)
        if refusal is not None:
            raise refusal
        record.admission = await self.limits.admit(client, record)
