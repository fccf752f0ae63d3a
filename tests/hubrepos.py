"""The repositories and downloads the loopback hub (tests/hubserver.py) serves, built at test
time from the real samples in ../shared/data/real (nothing cut from them is committed), laid out
as the real ones are:

- parquet with configs in the README card (google/xtreme, facebook/xnli, nyu-mll/glue, ...):
  `{config}/{split}-00000-of-00001.parquet`, written by datasets (the schema carries the class
  label names, as on the hub);
- script-only main branches (eriktks/conll2003, allenai/social_i_qa, Rowan/hellaswag): a
  loading script and a card without configs on main, the hub's parquet conversion under
  `refs/convert/parquet` (`{config}/{split}/0000.parquet`, no card, as the converter writes it);
- repositories that lack a config (google/xtreme has no PAN-X.fr here) or a split (facebook/xnli
  de has validation only);
- UD releases as .tgz archives (`ud-treebanks-v2.X/UD_*/{iso}_{treebank}-ud-{split}.conllu`,
  with three English treebanks and an Ancient Greek one beside Greek), LASER's Tatoeba files and
  XQuAD-R's JSON at their URLs under the mirror, fetched by DownloadManager under hashed names;
- a model repository: a tiny XLM-R (tokenizer and weights) saved with save_pretrained.

Where the samples lack a dataset (CoNLL-2003, SocialIQA, HellaSwag, SST-2, CommonsenseQA), real
text of another sample is laid into that dataset's schema; the tests compute what each served
split holds from the same samples.
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

from tests.conftest import REAL_DATA
from tests.hubserver import Hub

NLI = ("entailment", "neutral", "contradiction")
PANX = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
CONLL = PANX + ("B-MISC", "I-MISC")
MODEL = "ray-xr/tiny-xlmr"
# three English treebanks: XTREME joins them in file-name order (en_ewt, en_partut, en_pud), not
# in folder-name order (UD_English-EWT, UD_English-PUD, UD_English-ParTUT)
ENGLISH = (("UD_English-EWT", "en_ewt", "en/test.conllu", slice(0, 40)),
           ("UD_English-PUD", "en_pud", "en/test.conllu", slice(40, 70)),
           ("UD_English-ParTUT", "en_partut", "en/test.conllu", slice(70, 120)))


def parquet(columns: dict, features=None) -> bytes:
    import datasets

    datasets.disable_progress_bars()  # one bar per file drowns the test output
    buf = io.BytesIO()
    datasets.Dataset.from_dict(columns, features=features).to_parquet(buf)
    return buf.getvalue()


def card(configs: dict[str | None, dict[str, bytes]]) -> bytes:
    """A README whose YAML header lists each config's data files, as push_to_hub writes it."""
    lines = ["---", "configs:"]
    for config, splits in configs.items():
        lines += [f"- config_name: {config or 'default'}", "  data_files:"]
        for split in splits:
            lines += [f"  - split: {split}", f"    path: {config or 'data'}/{split}-*"]
    return "\n".join(lines + ["---", "# served by tests/hubserver.py", ""]).encode()


def card_repo(hub: Hub, name: str, configs: dict[str | None, dict[str, bytes]]) -> str:
    files = {f"{config or 'data'}/{split}-00000-of-00001.parquet": data
             for config, splits in configs.items() for split, data in splits.items()}
    return hub.repo("datasets", name).add("main", {"README.md": card(configs), **files})


def converted_repo(hub: Hub, name: str, script: str, folder: str, splits: dict[str, bytes]) -> dict[str, str]:
    """A script-only main branch, and the hub's parquet conversion of it."""
    repo = hub.repo("datasets", name)
    main = repo.add("main", {"README.md": b"---\npretty_name: x\n---\n", script: b"import datasets\n"})
    converted = repo.add("refs/convert/parquet", {".gitattributes": b"*.parquet filter=lfs\n",
                                                  **{f"{folder}/{s}/0000.parquet": d for s, d in splits.items()}})
    return {"main": main, "conversion": converted}


# -- the samples, in the hub datasets' schemas ---------------------------------------------------

def panx_blocks(path: Path) -> list[tuple[list[str], list[str]]]:
    out = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        pairs = [line.split("\t") for line in block.splitlines() if line.strip()]
        if pairs:
            out.append(([w.split(":", 1)[1] for w, _ in pairs], [t for _, t in pairs]))
    return out


def tagged(blocks, names, **extra) -> bytes:
    import datasets

    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=list(names))),
                                  **{k: datasets.Sequence(datasets.Value("string")) for k in extra}})
    return parquet({"tokens": [w for w, _ in blocks],
                    "ner_tags": [[names.index(t) for t in tags] for _, tags in blocks],
                    **{k: [[v] * len(w) for w, _ in blocks] for k, v in extra.items()}}, features)


def nli_rows(pairs: list[tuple[str, str, str]], unlabelled: int = 0) -> bytes:
    """NLI pairs with a class label; the first `unlabelled` have -1 (no annotator consensus)."""
    import datasets

    features = datasets.Features({"premise": datasets.Value("string"), "hypothesis": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=list(NLI))})
    return parquet({"premise": [a for a, _, _ in pairs], "hypothesis": [b for _, b, _ in pairs],
                    "label": [-1 if i < unlabelled else NLI.index(label) for i, (*_, label) in enumerate(pairs)]},
                   features)


def xnli_pairs(lang: str) -> list[tuple[str, str, str]]:
    rows = [line.split("\t") for line in (REAL_DATA / f"xnli/{lang}/test.tsv").read_text().splitlines()[1:]]
    return [(r[2], r[3], r[1]) for r in rows]


def mnli_pairs() -> list[tuple[str, str, str]]:
    rows = [json.loads(line) for line in (REAL_DATA / "nli/mnli.jsonl").read_text().splitlines()]
    return [(r["sentence1"], r["sentence2"], r["gold_label"]) for r in rows if r["gold_label"] != "-"]


def copa_rows(lang: str) -> list[dict]:
    return [json.loads(line) for line in (REAL_DATA / f"xcopa/{lang}/val.jsonl").read_text().splitlines()]


def siqa(rows: list[dict]) -> bytes:
    """SocialIQA's schema (context, question, answerA-C, label "1".."3") on COPA's text."""
    return parquet({"context": [r["premise"] for r in rows], "question": [r["question"] for r in rows],
                    "answerA": [r["choice1"] for r in rows], "answerB": [r["choice2"] for r in rows],
                    "answerC": [rows[i - 1]["choice1"] for i in range(len(rows))],
                    "label": [str(r["label"] + 1) for r in rows]})


def hellaswag(rows: list[dict]) -> bytes:
    """HellaSwag's schema (ctx, endings, label as a string) on COPA's text."""
    return parquet({"ctx": [r["premise"] for r in rows],
                    "endings": [[r["choice1"], r["choice2"], rows[i - 1]["choice1"], rows[i - 1]["choice2"]]
                                for i, r in enumerate(rows)], "label": [str(r["label"]) for r in rows],
                    "split": ["val"] * len(rows)})


def squad(*paths: Path) -> bytes:
    """SQuAD-layout JSON files as the hub's rows: one per question (id, question, context, answers)."""
    import datasets

    rows = [(qa["id"], qa["question"], p["context"], [a["text"] for a in qa["answers"]],
             [a["answer_start"] for a in qa["answers"]])
            for path in paths for article in json.loads(path.read_text())["data"] for p in article["paragraphs"]
            for qa in p["qas"]]
    features = datasets.Features({"id": datasets.Value("string"), "question": datasets.Value("string"),
                                  "context": datasets.Value("string"),
                                  "answers": datasets.Sequence({"text": datasets.Value("string"),
                                                                "answer_start": datasets.Value("int32")})})
    return parquet({"id": [r[0] for r in rows], "question": [r[1] for r in rows], "context": [r[2] for r in rows],
                    "answers": [{"text": r[3], "answer_start": r[4]} for r in rows]}, features)


def copa(rows: list[dict], unlabelled: int = 0) -> bytes:
    """COPA/XCOPA rows (SuperGLUE's COPA: label a class, -1 for its first `unlabelled` rows)."""
    import datasets

    text = {k: datasets.Value("string") for k in ("premise", "choice1", "choice2", "question")}
    features = datasets.Features({**text, "idx": datasets.Value("int32"),
                                  "label": datasets.ClassLabel(names=["choice1", "choice2"])})
    columns = {k: [r[k] for r in rows] for k in ("premise", "choice1", "choice2", "question", "idx")}
    return parquet({**columns, "label": [-1 if i < unlabelled else r["label"] for i, r in enumerate(rows)]},
                   features)


def pawsx() -> bytes:
    rows = [line.split("\t") for line in (REAL_DATA / "pawsx/de/test.tsv").read_text().splitlines()[1:]]
    return parquet({"id": [r[0] for r in rows], "sentence1": [r[1] for r in rows], "sentence2": [r[2] for r in rows],
                    "label": [r[3] for r in rows]})


def snli_pairs() -> list[tuple[str, str, str]]:
    rows = [json.loads(line) for line in (REAL_DATA / "nli/snli.jsonl").read_text().splitlines()]
    return [(r["sentence1"], r["sentence2"], r["gold_label"]) for r in rows if r["gold_label"] != "-"]


def sst2(pairs: list[tuple[str, str, str]]) -> bytes:
    """SST-2's schema on NLI premises (a label from the pair's: contradiction is negative)."""
    import datasets

    features = datasets.Features({"sentence": datasets.Value("string"), "idx": datasets.Value("int32"),
                                  "label": datasets.ClassLabel(names=["negative", "positive"])})
    return parquet({"sentence": [a for a, _, _ in pairs], "idx": list(range(len(pairs))),
                    "label": [int(label != "contradiction") for *_, label in pairs]}, features)


def commonsense(rows: list[dict]) -> bytes:
    """CommonsenseQA's schema (choices {label, text}, answerKey a letter) on COPA's text."""
    return parquet({"id": [f"c{r['idx']}" for r in rows], "question": [r["premise"] for r in rows],
                    "choices": [{"label": ["A", "B"], "text": [r["choice1"], r["choice2"]]} for r in rows],
                    "answerKey": ["AB"[r["label"]] for r in rows]})


def tatoeba(code: str) -> bytes:
    """google/xtreme's tatoeba rows: each file line with its newline, as its xtreme.py reads them."""
    base = REAL_DATA / "tatoeba" / f"tatoeba.{code}-eng"
    src = Path(f"{base}.{code}").read_text(encoding="utf-8").splitlines(keepends=True)
    eng = Path(f"{base}.eng").read_text(encoding="utf-8").splitlines(keepends=True)
    return parquet({"source_sentence": src, "target_sentence": eng, "source_lang": [code] * len(src),
                    "target_lang": ["eng"] * len(src)})


def build(hub: Hub) -> dict:
    """Fill `hub` with every repository; returns the commits of the script-only ones."""
    wikiann, nli = REAL_DATA / "wikiann", snli_pairs()
    card_repo(hub, "google/xtreme", {
        "PAN-X.en": {s: tagged(panx_blocks(wikiann / "en" / f), PANX, langs="en")
                     for s, f in (("train", "train"), ("validation", "dev"), ("test", "test"))},
        "PAN-X.de": {"test": tagged(panx_blocks(wikiann / "de/test"), PANX, langs="de")},
        "tatoeba.deu": {"validation": tatoeba("deu")},
        "XQuAD.de": {"validation": squad(REAL_DATA / "xquad/xquad.de.json")},
        "MLQA.zh.zh": {"test": squad(REAL_DATA / "xquad/xquad.zh.json")},
        "tydiqa": {"validation": squad(*(REAL_DATA / f"tydiqa/{n}_dev.json" for n in ("english", "arabic")))},
        "PAWS-X.en": {"train": pawsx()}})
    card_repo(hub, "google/xquad", {"xquad.ro": {"validation": squad(REAL_DATA / "xquad/xquad.es.json")}})
    card_repo(hub, "facebook/xnli", {"sw": {"test": nli_rows(xnli_pairs("sw"))},
                                     "de": {"validation": nli_rows(xnli_pairs("de"))}})
    card_repo(hub, "nyu-mll/glue", {"mnli": {"train": nli_rows(mnli_pairs())}, "sst2": {"train": sst2(nli[:30])}})
    card_repo(hub, "rajpurkar/squad", {"plain_text": {"train": squad(REAL_DATA / "xquad/xquad.en.json")}})
    card_repo(hub, "facebook/anli", {"plain_text": {f"train_r{r}": nli_rows(nli[10 * r:10 * r + 10])
                                                    for r in (1, 2, 3)}})
    card_repo(hub, "stanfordnlp/snli", {"plain_text": {"train": nli_rows(nli[:10], unlabelled=1)}})
    card_repo(hub, "cambridgeltl/xcopa", {"it": {"test": copa(copa_rows("it"))}})
    card_repo(hub, "aps/super_glue", {"copa": {"train": copa(copa_rows("tr"), unlabelled=3)}})
    card_repo(hub, "tau/commonsense_qa", {None: {"train": commonsense(copa_rows("it"))}})
    conll = {split: tagged([(w, [t.replace("ORG", "MISC") if i % 7 == 0 else t for t in tags])  # MISC: not in PAN-X
                            for i, (w, tags) in enumerate(panx_blocks(wikiann / "en" / f))], CONLL)
             for split, f in (("train", "train"), ("validation", "dev"))}
    return {"eriktks/conll2003": converted_repo(hub, "eriktks/conll2003", "conll2003.py", "conll2003", conll),
            "allenai/social_i_qa": converted_repo(hub, "allenai/social_i_qa", "social_i_qa.py", "default",
                                                  {"validation": siqa(copa_rows("it"))}),
            "Rowan/hellaswag": converted_repo(hub, "Rowan/hellaswag", "hellaswag.py", "default",
                                              {"validation": hellaswag(copa_rows("tr"))})}


# -- downloads: the mirror's files, and what the registry pins for them in the tests -------------

def conllu_sentences(path: Path) -> list[str]:
    return [b + "\n\n" for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]


def ud_release(version: str, treebanks: list[tuple[str, str, str, slice]], work: Path) -> bytes:
    """A UD release archive: (folder, file prefix, sample, sentences) -> {prefix}-ud-test.conllu
    (and -train, -dev for English EWT)."""
    root = work / f"ud-treebanks-v{version}"
    shutil.rmtree(root, ignore_errors=True)
    for folder, prefix, sample, part in treebanks:
        (root / folder).mkdir(parents=True)
        splits = {"test": sample}
        if prefix == "en_ewt":  # the only training data: English
            splits |= {"train": "en/train.conllu", "dev": "en/train.conllu"}
        for split, source in splits.items():
            sentences = conllu_sentences(REAL_DATA / "udpos" / source)[part if split == "test" else slice(0, 200)]
            (root / folder / f"{prefix}-ud-{split}.conllu").write_text("".join(sentences), encoding="utf-8")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tgz:
        tgz.add(root, arcname=root.name)
    return buf.getvalue()


UD25 = list(ENGLISH) + [("UD_German-GSD", "de_gsd", "de/test.conllu", slice(0, 200)),
                        ("UD_Greek-GDT", "el_gdt", "fr/test.conllu", slice(0, 25)),
                        ("UD_Ancient_Greek-Perseus", "grc_perseus", "es/test.conllu", slice(0, 25))]
UD27 = [("UD_Polish-PDB", "pl_pdb", "ru/test.conllu", slice(0, 60))]


def mirror(hub: Hub, work: Path) -> dict[str, dict[str, str]]:
    """Serve the downloads under the mirror; returns download name -> {file: sha256} of what is
    served (the registry's pins are of the real files; a test pins these instead)."""
    from ray_xr.tasks.hubtable import DOWNLOADS

    def put(name: str, key: str, data: bytes) -> str:
        url = DOWNLOADS[name]["urls"][key]
        hub.mirror[url.split("://", 1)[1]] = data
        return hashlib.sha256(data).hexdigest()

    pins = {"ud-treebanks-v2.5": {"tgz": put("ud-treebanks-v2.5", "tgz", ud_release("2.5", UD25, work))},
            "ud-treebanks-v2.7": {"tgz": put("ud-treebanks-v2.7", "tgz", ud_release("2.7", UD27, work))}}
    laser = REAL_DATA / "tatoeba"
    for code in ("aze", "ron"):  # German lines standing in; ron is served but not pinned to it
        pins[f"laser-tatoeba-{code}"] = {
            side: put(f"laser-tatoeba-{code}", side, (laser / f"tatoeba.deu-eng.{ext}").read_bytes())
            for side, ext in (("query", "deu"), ("target", "eng"))}
    pins.pop("laser-tatoeba-ron")
    pins["xquad-r"] = {code: put("xquad-r", code, xquad_r(code)) for code in DOWNLOADS["xquad-r"]["urls"]}
    return pins


def xquad_r(code: str) -> bytes:
    """XQuAD-R's layout (sentence_breaks per paragraph) on the XQuAD sample of the language, or
    English's where the samples lack it."""
    from ray_xr.data.retrieval import sentence_breaks

    sample = REAL_DATA / "xquad" / f"xquad.{code if code in ('en', 'de', 'es', 'ru', 'zh') else 'en'}.json"
    doc = json.loads(sample.read_text())
    for article in doc["data"]:
        for p in article["paragraphs"]:
            p["sentence_breaks"] = [list(b) for b in sentence_breaks(p["context"])]
    return json.dumps(doc, ensure_ascii=False).encode()


def model(hub: Hub, work: Path) -> str:
    """A tiny XLM-R (the embedded model's architecture), saved as a hub repository is."""
    from ray_xr.run.models import new_masked_lm, train_tokenizer

    texts = (REAL_DATA / "tatoeba/tatoeba.deu-eng.eng").read_text().splitlines()
    tokenizer = train_tokenizer(texts, 200)
    mlm = new_masked_lm({"hidden_size": 16, "layers": 1, "heads": 2, "intermediate_size": 32, "max_positions": 64},
                        tokenizer).mlm
    folder = work / "tiny-xlmr"
    mlm.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return hub.repo("models", MODEL).add("main", {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()})
