"""The orchestration path: plan the request into tasks, run them on agents as a DAG, synthesise.

Off by default (`ORCHESTRATION_ENABLED=false`: `stub.py` answers 501). The pieces, each its
own module: `agents.py` (what an agent is), `builtin.py` (the `reasoning` agent: our agent
loop), `plan.py` (the plan's schema and checks, pure), `planner.py` (the plan's LLM call),
`executor.py` (the DAG), `events.py` (the wire events, pure), `conversation.py` (the prompts'
messages, pure), `orchestrator.py` (the three phases as one stream of outputs), `path.py`.
"""
