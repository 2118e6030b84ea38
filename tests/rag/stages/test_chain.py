"""The engine runs the stages in order, and the trace shows each one's time and what it decided."""


def test_an_answer_traces_every_stage_in_order(engine):
    answer = engine.ask("How many nations have promised equipment and help once a truce holds?")
    stages = answer.trace["stages"]
    assert [s["stage"] for s in stages] == ["read", "retrieve", "select", "decide", "draft", "check", "publish"]
    assert all(s["s"] >= 0 for s in stages)
    by_name = {s["stage"]: s for s in stages}
    assert by_name["decide"]["refusal"] is None and by_name["check"]["verification"] == "verified"
    assert by_name["publish"]["citations"] == len(answer.citations)


def test_a_refusal_stops_after_decide_and_is_published(engine):
    answer = engine.ask("What did the Pope say about the framework?")
    stages = answer.trace["stages"]
    assert [s["stage"] for s in stages] == ["read", "retrieve", "select", "decide", "publish"]
    assert stages[3]["refusal"] == answer.refusal_reason == "unknown_name"
