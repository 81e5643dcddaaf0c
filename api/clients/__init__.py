"""Clients: who is calling, what they may do, how much of it, and what it cost (contract section 10).

`registry` turns `config/clients.yaml` and `API_TOKENS` into `Client` values at start-up;
the auth middleware resolves one per request (`client_of(scope)` reads it back); `scopes`
says what each route needs.
"""
