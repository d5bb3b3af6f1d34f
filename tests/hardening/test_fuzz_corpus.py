"""The fuzz corpus as a regression suite (issue 16): 80 seeded files, each labelled by construction.

`corpus.jsonl` is `python tests/hardening/fuzz.py --seed 16 --count 80`; the first test pins that, so
the corpus and its generator cannot drift apart. The corpus goes into a config directory as one hot
reload (the way the daemon met the fuzzer's files): every valid file's components load, every invalid
file is named (escaped if its name is not UTF-8), and no problem echoes a secret or a megabyte.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import ConfigDir, component
from fuzz import SECRET_MARKERS, FuzzFile, generate, materialise, shown_name

CORPUS = Path(__file__).with_name("corpus.jsonl")


def corpus() -> list[FuzzFile]:
    return [FuzzFile.from_json(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def test_the_corpus_is_what_the_seeded_generator_makes():
    assert [f.to_json() for f in generate(16, 80)] == [f.to_json() for f in corpus()]


@pytest.fixture
def loaded_corpus(tmp_path):
    cfg = ConfigDir(tmp_path / "etc")
    cfg.write("policies.d/base.toml", component("base"))
    first, problems = cfg.load()
    assert problems == []
    files = corpus()
    materialise(files, cfg.root / "policies.d", tmp_path / "secrets", 1)
    second, problems = cfg.load(previous=first)
    return files, second, problems


def test_every_valid_file_of_the_corpus_loads_and_every_invalid_one_is_named(loaded_corpus):
    files, loaded, problems = loaded_corpus
    assert loaded is not None
    valid = {name for f in files if f.valid for name in f.components}
    assert set(loaded.config.components) == valid | {"base"}
    named = {p.path for p in problems}
    rejected = {shown_name(f) for f in files if not f.valid}
    assert rejected <= named, sorted(rejected - named)
    assert named <= rejected  # and no valid file is blamed


def test_no_problem_from_the_corpus_echoes_a_secret_or_a_megabyte(loaded_corpus):
    _files, _loaded, problems = loaded_corpus
    for p in problems:
        text = str(p)
        assert len(text) < 1000, text[:200]
        assert not any(marker in text for marker in SECRET_MARKERS), text
        text.encode("utf-8")  # storable in config_errors, writable to the log
