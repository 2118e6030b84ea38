"""The answer path, one module a stage: read -> retrieve -> select -> decide -> draft -> check -> publish.

Each stage takes a typed, frozen input and gives a typed, frozen output; `rag.engine.Engine` only
wires them. Only `decide` refuses, with a `Refusal` reason.
"""
