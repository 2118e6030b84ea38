"""A learned answer scorer, tried on the outside questions and not shipped (see `measure.py`).

`pairs.py` makes synthetic question-sentence pairs from outside text, `train.py` trains a MiniLM
cross-encoder on them, `model.py` loads it, and `measure.py` reports what it would change on dev,
gold and an external set before anything is wired into the answer path.
"""
